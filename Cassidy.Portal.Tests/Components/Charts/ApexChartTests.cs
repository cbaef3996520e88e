using System.Text.Json;
using Bunit;
using Cassidy.Portal.Components.Charts;
using Microsoft.AspNetCore.Components;
using Microsoft.JSInterop;
using MudBlazor;

namespace Cassidy.Portal.Tests.Components.Charts;

public class ApexChartTests
{
    private const string ModulePath = "./Components/Charts/ApexChart.razor.js";

    private static ApexChartOptions UsageByMember(params decimal[] aliceData) => new()
    {
        Chart = new() { Type = ApexChartType.Bar, Stacked = true, Toolbar = new() { Show = false } },
        Series = [new ApexSeries { Name = "Alice", Data = aliceData }, new ApexSeries { Name = "Bob", Data = [1m, 2m] }],
        Xaxis = new() { Categories = ["Mon", "Tue"] },
        DataLabels = new() { Enabled = false },
    };

    // Strict mode: any JS call the component makes that is not set up here fails the test.
    private static (BunitJSModuleInterop Module, JSRuntimeInvocationHandler Update, JSRuntimeInvocationHandler Destroy)
        SetUpChartModule(BunitContext ctx)
    {
        ctx.JSInterop.Mode = JSRuntimeMode.Strict;
        var module = ctx.JSInterop.SetupModule(ModulePath);
        // create returns an IJSObjectReference, which bUnit only hands out through SetupModule.
        module.SetupModule("create", _ => true);
        var update = module.SetupVoid("update", _ => true);
        update.SetVoidResult();
        var destroy = module.SetupVoid("destroy", _ => true);
        return (module, update, destroy);
    }

    [Fact]
    public async Task First_render_creates_the_chart_once_with_camel_case_json_without_nulls()
    {
        await using var ctx = new BunitContext();
        var (module, _, _) = SetUpChartModule(ctx);

        ctx.Render<ApexChart>(p => p.Add(c => c.Options, UsageByMember(3m, 4m)));

        var create = Assert.Single(module.Invocations["create"]);
        Assert.IsType<ElementReference>(create.Arguments[0]);
        var json = Assert.IsType<string>(create.Arguments[1]);
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        Assert.Equal("bar", root.GetProperty("chart").GetProperty("type").GetString());
        Assert.True(root.GetProperty("chart").GetProperty("stacked").GetBoolean());
        Assert.False(root.GetProperty("chart").GetProperty("toolbar").GetProperty("show").GetBoolean());
        Assert.False(root.GetProperty("dataLabels").GetProperty("enabled").GetBoolean());
        Assert.Equal(["Alice", "Bob"], root.GetProperty("series").EnumerateArray().Select(s => s.GetProperty("name").GetString()));
        Assert.Equal([3m, 4m], root.GetProperty("series")[0].GetProperty("data").EnumerateArray().Select(d => d.GetDecimal()));
        Assert.Equal(["Mon", "Tue"], root.GetProperty("xaxis").GetProperty("categories").EnumerateArray().Select(c => c.GetString()));
        Assert.DoesNotContain("null", json, StringComparison.Ordinal);
        Assert.DoesNotContain("legend", json, StringComparison.Ordinal);
        Assert.DoesNotContain("\"Chart\"", json, StringComparison.Ordinal);
        Assert.Empty(module.Invocations["update"]);
    }

    [Fact]
    public async Task Changed_options_update_the_chart_in_place_and_identical_options_do_nothing()
    {
        await using var ctx = new BunitContext();
        var (module, update, _) = SetUpChartModule(ctx);
        var cut = ctx.Render<ApexChart>(p => p.Add(c => c.Options, UsageByMember(3m, 4m)));

        // A new but equal options object must not redraw the chart.
        cut.Render(p => p.Add(c => c.Options, UsageByMember(3m, 4m)));
        Assert.Empty(update.Invocations);

        cut.Render(p => p.Add(c => c.Options, UsageByMember(30m, 40m)));

        Assert.Single(module.Invocations["create"]);
        var call = Assert.Single(update.Invocations);
        Assert.IsAssignableFrom<IJSObjectReference>(call.Arguments[0]);
        using var doc = JsonDocument.Parse(Assert.IsType<string>(call.Arguments[1]));
        Assert.Equal([30m, 40m], doc.RootElement.GetProperty("series")[0].GetProperty("data").EnumerateArray().Select(d => d.GetDecimal()));
    }

    [Fact]
    public async Task Disposing_destroys_the_chart()
    {
        await using var ctx = new BunitContext();
        var (module, _, destroy) = SetUpChartModule(ctx);
        destroy.SetVoidResult();
        ctx.Render<ApexChart>(p => p.Add(c => c.Options, UsageByMember(1m, 2m)));
        Assert.Empty(destroy.Invocations);

        await ctx.DisposeComponentsAsync();

        var call = Assert.Single(destroy.Invocations);
        Assert.IsAssignableFrom<IJSObjectReference>(call.Arguments[0]);
        Assert.Single(module.Invocations["create"]);
    }

    [Fact]
    public async Task Disposing_after_the_circuit_is_gone_does_not_throw()
    {
        await using var ctx = new BunitContext();
        var (_, _, destroy) = SetUpChartModule(ctx);
        destroy.SetException(new JSDisconnectedException("The circuit is gone."));
        var cut = ctx.Render<ApexChart>(p => p.Add(c => c.Options, UsageByMember(1m, 2m)));

        // Called directly so that an escaping exception reaches the test rather than the renderer.
        var ex = await Record.ExceptionAsync(async () => await cut.Instance.DisposeAsync());

        Assert.Null(ex);
        Assert.Single(destroy.Invocations);
    }

    [Fact]
    public void Donut_json_has_a_plain_number_array_as_series_and_the_labels()
    {
        var options = new ApexChartOptions
        {
            Chart = new() { Type = ApexChartType.Donut },
            NonAxisSeries = [50m, 30.5m, 19.5m],
            Labels = ["Alice", "Bob", "Carol"],
            PlotOptions = new() { Pie = new() { Donut = new() { Size = "65%" } } },
        };

        using var doc = JsonDocument.Parse(options.ToJson());
        var root = doc.RootElement;

        Assert.Equal("donut", root.GetProperty("chart").GetProperty("type").GetString());
        var series = root.GetProperty("series");
        Assert.Equal(JsonValueKind.Array, series.ValueKind);
        Assert.All(series.EnumerateArray(), v => Assert.Equal(JsonValueKind.Number, v.ValueKind));
        Assert.Equal([50m, 30.5m, 19.5m], series.EnumerateArray().Select(v => v.GetDecimal()));
        Assert.Equal(["Alice", "Bob", "Carol"], root.GetProperty("labels").EnumerateArray().Select(v => v.GetString()));
        Assert.Equal("65%", root.GetProperty("plotOptions").GetProperty("pie").GetProperty("donut").GetProperty("size").GetString());
    }

    [Fact]
    public void Setting_both_series_forms_is_rejected()
    {
        var options = UsageByMember(1m, 2m) with { NonAxisSeries = [1m] };

        Assert.Throws<InvalidOperationException>(() => options.ToJson());
    }

    [Fact]
    public async Task Container_carries_the_accessible_name_and_height_becomes_the_chart_height()
    {
        await using var ctx = new BunitContext();
        var (module, _, _) = SetUpChartModule(ctx);

        var cut = ctx.Render<ApexChart>(p => p
            .Add(c => c.Options, UsageByMember(1m, 2m))
            .Add(c => c.Height, "300px")
            .Add(c => c.Class, "usage-chart")
            .Add(c => c.AriaLabel, "Credits used per member"));

        var div = cut.Find("div");
        Assert.Equal("img", div.GetAttribute("role"));
        Assert.Equal("Credits used per member", div.GetAttribute("aria-label"));
        Assert.Equal("usage-chart", div.GetAttribute("class"));
        Assert.Equal("min-height: 300px", div.GetAttribute("style"));
        Assert.StartsWith("apexchart-", div.Id, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse((string)module.Invocations["create"][0].Arguments[1]!);
        Assert.Equal("300px", doc.RootElement.GetProperty("chart").GetProperty("height").GetString());
    }

    [Fact]
    public async Task Without_an_aria_label_the_container_has_no_img_role()
    {
        await using var ctx = new BunitContext();
        SetUpChartModule(ctx);

        var cut = ctx.Render<ApexChart>(p => p.Add(c => c.Options, UsageByMember(1m, 2m)));

        Assert.False(cut.Find("div").HasAttribute("role"));
        Assert.False(cut.Find("div").HasAttribute("aria-label"));
    }

    [Fact]
    public void Palette_starts_with_the_theme_colours_as_hex()
    {
        var theme = new MudTheme { PaletteLight = new PaletteLight { Primary = "#123456", Error = "#ABCDEF" } };

        var colours = ChartPalette.FromTheme(theme);

        Assert.Equal("#123456", colours[0]);
        Assert.Equal("#abcdef", colours[6]); // MudColor Hex output is lowercase #rrggbb
        Assert.True(colours.Length > 7);
        Assert.All(colours, c => Assert.Matches("^#[0-9a-fA-F]{6}$", c));
        Assert.Equal(colours.Length, colours.Distinct(StringComparer.OrdinalIgnoreCase).Count());
    }
}
