using Cassidy.Portal.Limits;
using MudBlazor;

namespace Cassidy.Portal.Components.Shared;

/// <summary>How a usage level looks on a progress bar: primary, then warning when near, error when reached.</summary>
public static class UsageColors
{
    public static Color Of(UsageLevel level) => level switch { UsageLevel.Reached => Color.Error, UsageLevel.Near => Color.Warning, _ => Color.Primary };

    public static Color Of(decimal percent) => Of(UsageLevels.Of(percent));
}
