using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cassidy.Portal.Components.Charts;

/// <summary>
/// The subset of apexcharts 4.7.0 options the portal uses, serialized to the JSON that
/// <c>new ApexCharts(el, options)</c> expects. Labels are pre-formatted strings: formatter
/// callbacks cannot call .NET synchronously on Blazor Server.
/// </summary>
public sealed record ApexChartOptions
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public ApexChartSettings? Chart { get; init; }

    /// <summary>Axis series (bar, line, area). Leave null for donut and pie charts.</summary>
    [JsonIgnore]
    public IReadOnlyList<ApexSeries>? Series { get; init; }

    /// <summary>
    /// Donut and pie values, one per entry in <see cref="Labels"/>. apexcharts reads them from
    /// the same "series" key as axis series, but as a plain number array.
    /// </summary>
    [JsonIgnore]
    public IReadOnlyList<decimal>? NonAxisSeries { get; init; }

    // Both forms share the "series" key; the runtime type decides the JSON shape.
    [JsonInclude]
    [JsonPropertyName("series")]
    private object? SeriesJson => NonAxisSeries is not null ? NonAxisSeries : Series;

    public IReadOnlyList<string>? Labels { get; init; }
    public IReadOnlyList<string>? Colors { get; init; }
    public ApexXAxis? Xaxis { get; init; }
    public ApexYAxis? Yaxis { get; init; }
    public ApexDataLabels? DataLabels { get; init; }
    public ApexLegend? Legend { get; init; }
    public ApexPlotOptions? PlotOptions { get; init; }
    public ApexStroke? Stroke { get; init; }
    public ApexTooltip? Tooltip { get; init; }
    public ApexNoData? NoData { get; init; }
    public ApexFill? Fill { get; init; }

    /// <summary>camelCase JSON with nulls omitted, ready for the chart module.</summary>
    public string ToJson()
    {
        if (Series is not null && NonAxisSeries is not null)
        {
            throw new InvalidOperationException(
                $"Set either {nameof(Series)} (axis charts) or {nameof(NonAxisSeries)} (donut, pie), not both.");
        }

        return JsonSerializer.Serialize(this, JsonOptions);
    }
}

public enum ApexChartType { Bar, Line, Area, Donut, Pie }

public sealed record ApexChartSettings
{
    public ApexChartType? Type { get; init; }
    public bool? Stacked { get; init; }
    /// <summary>A CSS length such as "300px" or "100%".</summary>
    public string? Height { get; init; }
    public ApexToolbar? Toolbar { get; init; }
    public ApexAnimations? Animations { get; init; }
    public string? FontFamily { get; init; }
    public string? Id { get; init; }
}

public sealed record ApexToolbar
{
    public bool? Show { get; init; }
}

public sealed record ApexAnimations
{
    public bool? Enabled { get; init; }
}

public sealed record ApexSeries
{
    public required string Name { get; init; }
    public required IReadOnlyList<decimal> Data { get; init; }
}

public enum ApexXAxisType { Category, Datetime, Numeric }

public sealed record ApexXAxis
{
    public IReadOnlyList<string>? Categories { get; init; }
    public ApexXAxisType? Type { get; init; }
    public ApexXAxisLabels? Labels { get; init; }
}

public sealed record ApexXAxisLabels
{
    public bool? Show { get; init; }
    /// <summary>Degrees, e.g. -45. apexcharts rotates only when labels would overlap.</summary>
    public int? Rotate { get; init; }
    public bool? HideOverlappingLabels { get; init; }
}

public sealed record ApexYAxis
{
    public ApexAxisTitle? Title { get; init; }
    public ApexYAxisLabels? Labels { get; init; }
    public decimal? Min { get; init; }
    public decimal? Max { get; init; }
    public int? TickAmount { get; init; }
    public int? DecimalsInFloat { get; init; }
}

public sealed record ApexAxisTitle
{
    public string? Text { get; init; }
}

public sealed record ApexYAxisLabels
{
    public bool? Show { get; init; }
    public int? MinWidth { get; init; }
    public int? MaxWidth { get; init; }
}

public sealed record ApexDataLabels
{
    public bool? Enabled { get; init; }
}

public enum ApexLegendPosition { Top, Right, Bottom, Left }

public sealed record ApexLegend
{
    public bool? Show { get; init; }
    public ApexLegendPosition? Position { get; init; }
}

public sealed record ApexPlotOptions
{
    public ApexBarOptions? Bar { get; init; }
    public ApexPieOptions? Pie { get; init; }
}

public sealed record ApexBarOptions
{
    public bool? Horizontal { get; init; }
    public int? BorderRadius { get; init; }
    /// <summary>A percentage such as "60%".</summary>
    public string? ColumnWidth { get; init; }
}

public sealed record ApexPieOptions
{
    public ApexDonutOptions? Donut { get; init; }
}

public sealed record ApexDonutOptions
{
    /// <summary>A percentage such as "65%".</summary>
    public string? Size { get; init; }
}

public enum ApexStrokeCurve { Smooth, Straight, Stepline }

public sealed record ApexStroke
{
    public int? Width { get; init; }
    public ApexStrokeCurve? Curve { get; init; }
}

public sealed record ApexTooltip
{
    public bool? Enabled { get; init; }
}

public sealed record ApexNoData
{
    public string? Text { get; init; }
}

public sealed record ApexFill
{
    public decimal? Opacity { get; init; }
}
