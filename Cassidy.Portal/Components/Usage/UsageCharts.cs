using System.Globalization;
using Cassidy.Portal.Components.Charts;
using Cassidy.Portal.Components.Layout;
using Cassidy.Portal.Usage;

namespace Cassidy.Portal.Components.Usage;

/// <summary>The Usage tab's chart options, built from one <see cref="UsageReportData"/>; values in credits, labels pre-formatted.</summary>
public static class UsageCharts
{
    public const string Others = "Others";
    private static readonly string[] Palette = ChartPalette.FromTheme(PortalTheme.Theme);
    // No animations: live updates redraw every few seconds, and a moving chart is hard to read (and to screenshot).
    private static readonly ApexChartSettings Base = new() { Toolbar = new() { Show = false }, Animations = new() { Enabled = false }, FontFamily = "Inter, Roboto, sans-serif" };

    public static decimal ToCredits(long millicredits) => Math.Round(Credits.Of(millicredits), 2);

    public static ApexChartOptions Daily(UsageReportData r) => new()
    {
        Chart = Base with { Type = ApexChartType.Bar, Stacked = true },
        Series =
        [
            new ApexSeries { Name = "Agent chat", Data = r.Days.Select(d => ToCredits(d.AgentChat)).ToList() },
            new ApexSeries { Name = "Workflow run", Data = r.Days.Select(d => ToCredits(d.WorkflowRun)).ToList() },
        ],
        Xaxis = new() { Categories = r.Days.Select(d => d.Day.ToString("d MMM", CultureInfo.InvariantCulture)).ToList(), Labels = new() { Rotate = -45, HideOverlappingLabels = true } },
        Yaxis = new() { Title = new() { Text = "Credits" }, DecimalsInFloat = 0 },
        Colors = [Palette[0], Palette[2]],
        DataLabels = new() { Enabled = false },
        Legend = new() { Position = ApexLegendPosition.Top },
        PlotOptions = new() { Bar = new() { ColumnWidth = "70%", BorderRadius = 2 } },
        NoData = new() { Text = "No usage in this range" },
    };

    public static ApexChartOptions Models(UsageReportData r) => Donut(
        r.Models.Select(m => (m.Model, ToCredits(m.Credits))).ToList());

    public static ApexChartOptions TokenMix(UsageReportData r) => Donut(
        [("Input", r.InputTokens), ("Knowledge-base context", r.KnowledgeTokens), ("Output", r.OutputTokens)]);

    /// <summary>The top members by credits, the rest folded into "Others".</summary>
    public static IReadOnlyList<(string Name, long Credits)> TopMembers(IReadOnlyList<MemberTotal> members, int top = UsageReport.TopMembers)
    {
        var ranked = members.Where(m => m.Credits > 0).OrderByDescending(m => m.Credits).ToList();
        var list = ranked.Take(top).Select(m => (m.Name, m.Credits)).ToList();
        if (ranked.Count > top) list.Add((Others, ranked.Skip(top).Sum(m => m.Credits)));
        return list;
    }

    public static ApexChartOptions Members(UsageReportData r)
    {
        var top = TopMembers(r.Members);
        return new()
        {
            Chart = Base with { Type = ApexChartType.Bar },
            Series = [new ApexSeries { Name = "Credits", Data = top.Select(m => ToCredits(m.Credits)).ToList() }],
            Xaxis = new() { Categories = top.Select(m => m.Name).ToList() },
            Yaxis = new() { Labels = new() { MaxWidth = 160 } },
            Colors = [Palette[0]],
            DataLabels = new() { Enabled = false },
            PlotOptions = new() { Bar = new() { Horizontal = true, BorderRadius = 3, ColumnWidth = "60%" } },
            NoData = new() { Text = "No usage in this range" },
        };
    }

    private static ApexChartOptions Donut<T>(IReadOnlyList<(string Label, T Value)> slices) where T : IConvertible => new()
    {
        Chart = Base with { Type = ApexChartType.Donut },
        NonAxisSeries = slices.Select(s => Convert.ToDecimal(s.Value, CultureInfo.InvariantCulture)).ToList(),
        Labels = slices.Select(s => s.Label).ToList(),
        Colors = Palette,
        Legend = new() { Position = ApexLegendPosition.Bottom },
        PlotOptions = new() { Pie = new() { Donut = new() { Size = "62%" } } },
        NoData = new() { Text = "No usage in this range" },
    };
}
