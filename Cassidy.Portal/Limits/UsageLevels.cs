namespace Cassidy.Portal.Limits;

/// <summary>How close a use is to its limit (an allowance, a member's cap, a plan meter).</summary>
public enum UsageLevel { Ok, Near, Reached }

/// <summary>
/// The one rule of "near" and "reached", used by the limits table, the usage grid, My usage, the Overview and the plan
/// meters alike: at 80 % a use is near its limit, at 100 % it has reached it.
/// </summary>
public static class UsageLevels
{
    public const int NearPercent = 80;

    public static UsageLevel Of(decimal percent) => percent >= 100 ? UsageLevel.Reached : percent >= NearPercent ? UsageLevel.Near : UsageLevel.Ok;

    public static UsageLevel Of(long used, long limit) =>
        used >= limit ? UsageLevel.Reached : used * 100m >= limit * (decimal)NearPercent ? UsageLevel.Near : UsageLevel.Ok;
}
