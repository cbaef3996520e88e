using Cassidy.Portal.Data;
using Cassidy.Portal.Billing;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Limits;

namespace Cassidy.Portal.Usage;

/* What the usage report returns: the shapes pages, exports and the API read. */

/// <summary>Whose usage: the whole organization (admins), or one member only (My usage; never taken from input).</summary>
public sealed record UsageScope(int OrganizationId, string? UserId = null)
{
    public static UsageScope Organization(int organizationId) => new(organizationId);
    public static UsageScope Member(int organizationId, string userId) => new(organizationId, userId);
}

public sealed record DayUsage(DateOnly Day, long AgentChat, long WorkflowRun)
{
    public long Total => AgentChat + WorkflowRun;
}

/// <summary>A model's usage in a range; <paramref name="OnLighterModel"/> is what those calls would have cost on the lighter model of its family, at the prices they were recorded with.</summary>
public sealed record ModelUsage(string Model, string Tier, long Credits, long Calls, long InputTokens, long KnowledgeTokens, long OutputTokens,
    long OnLighterModel);

public sealed record MemberTotal(string UserId, string Name, long Credits, long Calls);

public sealed record AgentUsage(string AgentId, string WorkflowId, long Credits, long Calls, long Runs, long RunCredits,
    long LightModelCredits)
{
    public string Name => AgentId.Length > 0 ? AgentId : WorkflowId.Length > 0 ? WorkflowId : "(unnamed)";
    public string Kind => AgentId.Length > 0 ? "Agent" : "Workflow";
    public long? AveragePerRun => Runs > 0 ? RunCredits / Runs : null;
}

/// <summary>"Where credits go" (help page tips): knowledge-base share, standard vs light models, the light-model cost.</summary>
public sealed record CreditInsights(long KnowledgeCredits, long StandardModelCredits, long LightModelCredits,
    long StandardWouldCostOnLight, long Total)
{
    public decimal KnowledgeShare => Share(KnowledgeCredits, Total);
    public decimal StandardShare => Share(StandardModelCredits, Total);
    /// <summary>What the standard-model calls would have saved on the light model of their family.</summary>
    public long PossibleSaving => Math.Max(0, StandardModelCredits - StandardWouldCostOnLight);

    public static decimal Share(long part, long total) => total > 0 ? Math.Round(100m * part / total, 1) : 0m;
}

public sealed record UsageReportData(UsageScope Scope, UsageRange Range, long Credits, long Calls,
    long InputTokens, long KnowledgeTokens, long OutputTokens,
    IReadOnlyList<DayUsage> Days, IReadOnlyList<ModelUsage> Models, IReadOnlyList<MemberTotal> Members,
    IReadOnlyList<AgentUsage> Agents, CreditInsights Insights)
{
    public int ActiveMembers => Members.Count(m => m.Calls > 0);
    public long AveragePerActiveMember => ActiveMembers > 0 ? Credits / ActiveMembers : 0;
    public bool IsEmpty => Calls == 0;
}

/// <summary>The billing anchor, the current period and the balance: what the range selector and headline figures need.</summary>
public sealed record UsagePeriods(DateTime Anchor, BillingPeriod Current, BalanceSnapshot Balance)
{
    public BillingPeriod Previous(int back) => BillingPeriods.Period(Anchor, Current.Index - back);
}

public enum CapStatus { Ok, NearCap, AtCap }

/// <summary>A member's row in the per-member breakdown. Cap figures are for the current billing period (what enforcement uses).</summary>
public sealed record MemberUsageRow(string UserId, string Name, string Email, OrganizationRole Role, long Credits, decimal Share,
    long Calls, long? Cap, long PeriodUsed)
{
    public decimal? CapUsedPercent => Cap is > 0 ? Math.Round(100m * PeriodUsed / Cap.Value, 1) : Cap == 0 ? 100m : null;
    public CapStatus Status => CapUsedPercent is { } p ? UsageLevels.Of(p) switch { UsageLevel.Reached => CapStatus.AtCap, UsageLevel.Near => CapStatus.NearCap, _ => CapStatus.Ok } : CapStatus.Ok;
}

/// <summary>Storage (latest gauge) and meeting hours of the current period, against the plan.</summary>
/// <summary>What a live usage page shows, as <see cref="UsageReport.LiveAsync"/> shares it between pages.</summary>
public sealed record LiveReport((long, long, DateTime)? Version, UsagePeriods? Periods, UsageRange Range, UsageReportData Data, PlanMeters Meters);

public sealed record PlanMeters(long StorageBytes, int StorageGb, double MeetingMinutes, int MeetingHours)
{
    public double StorageUsedPercent => StorageGb > 0 ? Math.Round(100.0 * StorageBytes / (StorageGb * 1_000_000_000.0), 1) : 0;
    public double MeetingHoursUsed => Math.Round(MeetingMinutes / 60.0, 1);
    public double MeetingUsedPercent => MeetingHours > 0 ? Math.Round(100.0 * MeetingMinutes / 60.0 / MeetingHours, 1) : 0;
}

/// <summary>One member's usage on one local day (the CSV export).</summary>
public sealed record DailyMemberUsage(DateOnly Day, string UserId, string Name, string Email, long Credits, long Calls,
    long InputTokens, long KnowledgeTokens, long OutputTokens);
