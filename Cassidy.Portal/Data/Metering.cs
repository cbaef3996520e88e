namespace Cassidy.Portal.Data;

/// <summary>The kinds of <see cref="CreditGrant"/> (SPEC §3.2), stored as these strings.</summary>
public static class GrantKinds
{
    public const string MonthlyAllowance = "monthly_allowance";
    public const string Rollover = "rollover";
    public const string CreditPackage = "credit_package";
    public const string Adjustment = "adjustment";

    /// <summary>The kind in words, as the ledger's descriptions and the pages name it.</summary>
    public static string Describe(string kind) => kind switch
    {
        MonthlyAllowance => "Monthly allowance",
        Rollover => "Rollover",
        CreditPackage => "Credit package",
        Adjustment => "Adjustment",
        _ => kind,
    };
}

/// <summary>The kinds of <see cref="LedgerEntry"/>, stored as these strings.</summary>
public static class LedgerKinds
{
    public const string Grant = "grant";
    public const string Usage = "usage";
    public const string Expiry = "expiry";
    public const string Rollover = "rollover";
    public const string Adjustment = "adjustment";
}

public static class UsageTypes
{
    public const string ModelCall = "model_call";
    public const string Meeting = "meeting";
    public const string Storage = "storage";
}

public static class Features
{
    public const string AgentChat = "agent_chat";
    public const string WorkflowRun = "workflow_run";
}

/// <summary>Credits entering an organization. Only <see cref="RemainingMillicredits"/> and <see cref="ExpiredAt"/> ever change.</summary>
public class CreditGrant
{
    public long Id { get; set; }
    public int OrganizationId { get; set; }
    public string Kind { get; set; } = GrantKinds.MonthlyAllowance;
    /// <summary>Signed only for adjustments; every other kind is positive.</summary>
    public long AmountMillicredits { get; set; }
    public long RemainingMillicredits { get; set; }
    public DateTime StartsAt { get; set; }
    public DateTime? ExpiresAt { get; set; }
    /// <summary>The billing period a monthly allowance belongs to; unique per organization, so a period is granted (closed) once.</summary>
    public DateTime? PeriodStart { get; set; }
    public string? Reason { get; set; }
    public string? CreatedByUserId { get; set; }
    public DateTime CreatedAt { get; set; }
    /// <summary>When what was left of it expired (a ledger <c>expiry</c> entry records the amount).</summary>
    public DateTime? ExpiredAt { get; set; }
}

/// <summary>One movement of credits. Append-only: never updated, never deleted.</summary>
public class LedgerEntry
{
    public long Id { get; set; }
    public int OrganizationId { get; set; }
    public string Kind { get; set; } = LedgerKinds.Usage;
    public long AmountMillicredits { get; set; }
    public long BalanceAfterMillicredits { get; set; }
    public DateTime OccurredAt { get; set; }
    public long? GrantId { get; set; }
    public long? UsageEventId { get; set; }
    public string? UserId { get; set; }
    public string? Description { get; set; }
}

/// <summary>A recorded usage event (model call, meeting or storage snapshot), unique per (organization, external id).</summary>
public class UsageEvent
{
    public long Id { get; set; }
    public int OrganizationId { get; set; }
    public string ExternalId { get; set; } = "";
    /// <summary>SHA-256 of the event's canonical fields: a replay with other content is a conflict.</summary>
    public byte[] ContentHash { get; set; } = [];
    public string Type { get; set; } = UsageTypes.ModelCall;
    public string? UserId { get; set; }
    public DateTime OccurredAt { get; set; }
    public string? Feature { get; set; }
    public string? Model { get; set; }
    public long InputTokens { get; set; }
    public long KnowledgeTokens { get; set; }
    public long OutputTokens { get; set; }
    /// <summary>Comma-separated capability names.</summary>
    public string? Capabilities { get; set; }
    public string? AgentId { get; set; }
    public string? WorkflowId { get; set; }
    public string? RunId { get; set; }
    public string? HoldId { get; set; }
    public double? Minutes { get; set; }
    public long? Bytes { get; set; }
    /// <summary>Priced once, at recording: later price changes never re-price it.</summary>
    public long CreditsMillicredits { get; set; }
    public DateTime RecordedAt { get; set; }
}

/// <summary>
/// One part of a usage event's credits that did not come whole from one grant: split across grants, or into overdraft
/// (a null grant). Usage paid by a single grant has no rows here: its ledger entry's <c>GrantId</c> names the grant.
/// </summary>
public class UsageDraw
{
    public long Id { get; set; }
    public long UsageEventId { get; set; }
    public long? GrantId { get; set; }
    public long AmountMillicredits { get; set; }
}

/// <summary>An organization's stored balance (always the sum of its ledger) and its current billing period.</summary>
public class CreditAccount
{
    public int OrganizationId { get; set; }
    public long BalanceMillicredits { get; set; }
    /// <summary>Usage no grant has paid for yet; the next grant pays it first. Balance = grants remaining − overdraft.</summary>
    public long OverdraftMillicredits { get; set; }
    public DateTime CurrentPeriodStart { get; set; }
    public DateTime CurrentPeriodEnd { get; set; }
    public DateTime? LastClosedPeriodStart { get; set; }
    /// <summary>Bumped by every write; the writer re-reads its cached state when another writer moved it.</summary>
    public long Version { get; set; }
    public DateTime UpdatedAt { get; set; }
    /// <summary>The time zone whose local days key the daily rollups; null until they were first built.</summary>
    public string? RollupTimeZone { get; set; }
    /// <summary>
    /// Null when the daily rollups hold every hour, keyed in <see cref="RollupTimeZone"/>. Otherwise they are being rebuilt
    /// in that zone after a time-zone change (LEDGER.md, "A time-zone change") and hold only the hours before this instant
    /// (<see cref="DateTime.MinValue"/>: the old zone's rows are still being cleared), so readers use the hourly rollups.
    /// </summary>
    public DateTime? DailyRollupsBuiltBefore { get; set; }
}

public static class HoldStatuses
{
    public const string Active = "active";
    public const string Settled = "settled";
    public const string Released = "released";
    public const string Expired = "expired";
}

/// <summary>Credits reserved by an authorize call until its usage event settles it, it is released, or it expires.</summary>
public class CreditHold
{
    public string Id { get; set; } = "";
    public int OrganizationId { get; set; }
    public string UserId { get; set; } = "";
    public string Feature { get; set; } = "";
    public string? Model { get; set; }
    public long EstimateMillicredits { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime ExpiresAt { get; set; }
    public string Status { get; set; } = HoldStatuses.Active;
    public DateTime? ResolvedAt { get; set; }
}

/// <summary>Hourly bucket (UTC hour of the event) of model-call usage per member, model and feature.</summary>
public class UsageRollup
{
    public int OrganizationId { get; set; }
    public DateTime HourStart { get; set; }
    public string UserId { get; set; } = "";
    public string Model { get; set; } = "";
    public string Feature { get; set; } = "";
    public long CreditsMillicredits { get; set; }
    public long Calls { get; set; }
    public long InputTokens { get; set; }
    public long KnowledgeTokens { get; set; }
    public long OutputTokens { get; set; }
    /// <summary>What these calls would have cost on the lighter model of their family, at the prices they were recorded with.</summary>
    public long LightCreditsMillicredits { get; set; }
}

/// <summary>Hourly bucket of model calls made by an agent or a workflow ("" when the event named none).</summary>
public class AgentRollup
{
    public int OrganizationId { get; set; }
    public DateTime HourStart { get; set; }
    public string UserId { get; set; } = "";
    public string AgentId { get; set; } = "";
    public string WorkflowId { get; set; } = "";
    public string Model { get; set; } = "";
    public long CreditsMillicredits { get; set; }
    public long Calls { get; set; }
    /// <summary>What these calls would have cost on the lighter model of their family, at the prices they were recorded with.</summary>
    public long LightCreditsMillicredits { get; set; }
}

/// <summary>
/// A local day (in the organization's time zone, see <see cref="CreditAccount.RollupTimeZone"/>) of model-call usage per
/// member, model and feature: the hourly rollups summed, so a month of figures reads a few thousand rows, not every hour.
/// </summary>
public class DailyUsageRollup
{
    public int OrganizationId { get; set; }
    public DateOnly Day { get; set; }
    public string UserId { get; set; } = "";
    public string Model { get; set; } = "";
    public string Feature { get; set; } = "";
    public long CreditsMillicredits { get; set; }
    public long Calls { get; set; }
    public long InputTokens { get; set; }
    public long KnowledgeTokens { get; set; }
    public long OutputTokens { get; set; }
    /// <summary>What these calls would have cost on the lighter model of their family, at the prices they were recorded with.</summary>
    public long LightCreditsMillicredits { get; set; }
}

/// <summary>A local day of the whole organization's model calls per model and feature (the Usage tab's days and models).</summary>
public class DailyModelRollup
{
    public int OrganizationId { get; set; }
    public DateOnly Day { get; set; }
    public string Model { get; set; } = "";
    public string Feature { get; set; } = "";
    public long CreditsMillicredits { get; set; }
    public long Calls { get; set; }
    public long InputTokens { get; set; }
    public long KnowledgeTokens { get; set; }
    public long OutputTokens { get; set; }
    /// <summary>What these calls would have cost on the lighter model of their family, at the prices they were recorded with.</summary>
    public long LightCreditsMillicredits { get; set; }
}

/// <summary>A local day of one member's model calls, all models and features together (the per-member breakdown).</summary>
public class DailyMemberRollup
{
    public int OrganizationId { get; set; }
    public DateOnly Day { get; set; }
    public string UserId { get; set; } = "";
    public long CreditsMillicredits { get; set; }
    public long Calls { get; set; }
}

/// <summary>
/// A local day of an agent's or a workflow's calls per member, with the runs that started that day (and the credits of
/// those runs, counted on their first day like <see cref="RunRollup"/> counts them).
/// </summary>
public class DailyAgentRollup
{
    public int OrganizationId { get; set; }
    public DateOnly Day { get; set; }
    public string UserId { get; set; } = "";
    public string AgentId { get; set; } = "";
    public string WorkflowId { get; set; } = "";
    public long CreditsMillicredits { get; set; }
    public long Calls { get; set; }
    public long LightCreditsMillicredits { get; set; }
    public long Runs { get; set; }
    public long RunCreditsMillicredits { get; set; }
}

/// <summary>One agent or workflow run (events sharing a runId): runs are counted from here, not from raw events.</summary>
public class RunRollup
{
    public int OrganizationId { get; set; }
    public string RunId { get; set; } = "";
    public string UserId { get; set; } = "";
    public string AgentId { get; set; } = "";
    public string WorkflowId { get; set; } = "";
    public DateTime FirstAt { get; set; }
    public DateTime LastAt { get; set; }
    public long CreditsMillicredits { get; set; }
    public long Calls { get; set; }
}

/// <summary>Hourly bucket of meeting minutes per member.</summary>
public class MeetingRollup
{
    public int OrganizationId { get; set; }
    public DateTime HourStart { get; set; }
    public string UserId { get; set; } = "";
    public double Minutes { get; set; }
    public long Meetings { get; set; }
}

/// <summary>A storage gauge reading; the latest (by OccurredAt) is the organization's storage.</summary>
public class StorageSnapshot
{
    public long Id { get; set; }
    public int OrganizationId { get; set; }
    public DateTime OccurredAt { get; set; }
    public long Bytes { get; set; }
    public long UsageEventId { get; set; }
}

/// <summary>
/// A member's usage in the organization's current billing period (LEDGER.md, invariant 5): the writer keeps it with the
/// account, in the same transaction as the usage entries, so loading a book reads one row per member instead of summing the
/// period's ledger. A row whose <see cref="PeriodStart"/> is not the account's current period is from an earlier one (zero now).
/// </summary>
public class MemberPeriodUsage
{
    public int OrganizationId { get; set; }
    public string UserId { get; set; } = "";
    public DateTime PeriodStart { get; set; }
    public long UsedMillicredits { get; set; }
}

/// <summary>
/// The last point an organization's books were verified at (LEDGER.md, "The ledger check"): everything up to these ids
/// added up, with the running figures to go on from, and the result of the last full check of every entry and rollup.
/// </summary>
public class LedgerCheckpoint
{
    public int OrganizationId { get; set; }
    /// <summary>Every ledger entry up to this id (of any organization) was included.</summary>
    public long ThroughEntryId { get; set; }
    /// <summary>When the organization's last included entry was written: later entries are found by the (organization, time) index.</summary>
    public DateTime ThroughEntryAt { get; set; }
    /// <summary>Every usage event up to this id (of any organization) was included.</summary>
    public long ThroughEventId { get; set; }
    public long LedgerMillicredits { get; set; }
    public long LedgerEntries { get; set; }
    public long UsageMillicredits { get; set; }
    public long UsageEntries { get; set; }
    public long CallsMillicredits { get; set; }
    public long Calls { get; set; }
    /// <summary>Credits of the calls that named an agent or a workflow (what the agent rollups must add up to).</summary>
    public long AgentCallsMillicredits { get; set; }
    /// <summary>The zone the daily rollups were keyed in when verified; another one means they were rebuilt.</summary>
    public string? RollupTimeZone { get; set; }
    public DateTime VerifiedAt { get; set; }
    public DateTime? FullCheckedAt { get; set; }
    public bool? FullOk { get; set; }
    public string? FullProblem { get; set; }
    /// <summary>The problem staff were last told about, so a mismatch that persists is reported once.</summary>
    public string? ReportedProblem { get; set; }
}
