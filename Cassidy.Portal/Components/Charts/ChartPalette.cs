using MudBlazor;
using MudBlazor.Utilities;

namespace Cassidy.Portal.Components.Charts;

/// <summary>Series colours for <see cref="ApexChartOptions.Colors"/>, taken from the MudBlazor theme.</summary>
public static class ChartPalette
{
    // After the theme colours run out: muted tones that sit well next to MudBlazor's defaults.
    private static readonly string[] Extra = ["#8e6c8a", "#3d9970", "#e08e45", "#5c7cfa", "#a1887f"];

    /// <summary>Light-palette colours as "#rrggbb": Primary, Secondary, Tertiary, Info, Success, Warning, Error, then fixed extras.</summary>
    public static string[] FromTheme(MudTheme theme)
    {
        ArgumentNullException.ThrowIfNull(theme);
        var p = theme.PaletteLight;
        MudColor[] themed = [p.Primary, p.Secondary, p.Tertiary, p.Info, p.Success, p.Warning, p.Error];
        return [.. themed.Select(c => c.ToString(MudColorOutputFormats.Hex)), .. Extra];
    }
}
