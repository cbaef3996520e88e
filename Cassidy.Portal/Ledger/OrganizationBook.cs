using Cassidy.Portal.Billing;
using Cassidy.Portal.Data;

namespace Cassidy.Portal.Ledger;

/// <summary>A grant as the writer tracks it while it still holds credits.</summary>
public sealed class GrantState
{
    public long Id { get; set; }
    public string Kind { get; init; } = GrantKinds.MonthlyAllowance;
    public long Amount { get; init; }
    public long Remaining { get; set; }
    public DateTime StartsAt { get; init; }
    public DateTime? ExpiresAt { get; init; }
    public DateTime? PeriodStart { get; init; }
    public DateTime? ExpiredAt { get; set; }
    public bool Dirty { get; set; }
}

/// <summary>A member as metering sees them: who they are and their effective cap (null = unlimited).</summary>
public sealed record MemberInfo(string UserId, string NormalizedEmail, long? CapMillicredits);

/// <summary>One draw of a debit: from a grant, or (grant null) into overdraft.</summary>
public readonly record struct Draw(GrantState? Grant, long Amount);

/// <summary>
/// The writer's private, authoritative-in-memory state of one organization's credits (a cache of the database that
/// only the writer mutates, inside its transaction). Pure logic, no I/O, so the consumption rules are unit-tested
/// directly. Invariant: Balance = Σ grant remaining − Overdraft, and Overdraft &gt; 0 only when no grant has credits left.
/// </summary>
public sealed class OrganizationBook
{
    public int OrganizationId { get; init; }
    public string Slug { get; init; } = "";
    public string Plan { get; set; } = "Free";
    public string? ScheduledPlan { get; set; }
    public DateTime Anchor { get; init; }
    public long? EnterpriseMonthlyCredits { get; set; }
    public int? RolloverCapPercent { get; set; }
    public long? DefaultCapMillicredits { get; set; }
    /// <summary>The organization's time zone: its local days key the daily rollups.</summary>
    public TimeZoneInfo Zone { get; set; } = TimeZoneInfo.Utc;
    /// <summary>
    /// Null when the daily rollups are complete in <see cref="Zone"/>; while they are rebuilt after a time-zone change, only
    /// hours before this instant are added to them (the rebuild folds in the rest, LEDGER.md "A time-zone change").
    /// </summary>
    public DateTime? DailyBuiltBefore { get; set; }
    /// <summary>The organization's <c>SettingsVersion</c> the settings and members above were read at (LEDGER.md).</summary>
    public long SettingsVersion { get; set; }
    /// <summary>When the first active hold expires (null: none), so the writer stamps expired holds when one is due.</summary>
    public DateTime? NextHoldExpiry { get; set; }

    public long Balance { get; set; }
    public long Overdraft { get; set; }
    public BillingPeriod Period { get; set; }
    public DateTime? LastClosedPeriodStart { get; set; }
    public long Version { get; set; }
    public long Allowance { get; set; }

    /// <summary>Grants with credits left, in consumption order: soonest expiry first, no expiry last, ties oldest first.</summary>
    public List<GrantState> Grants { get; } = [];

    public Dictionary<string, long> MemberUsage { get; } = new(StringComparer.Ordinal);
    public long PeriodUsage { get; set; }
    /// <summary>Members whose usage this transaction changed: the flush writes their row of <c>MemberPeriodUsages</c>.</summary>
    public HashSet<string> ChangedMembers { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, MemberInfo> MembersByEmail { get; } = new(StringComparer.Ordinal);

    /// <summary>Active holds found in the database when the book was loaded (used once, to seed the view).</summary>
    public List<CreditHold> LoadedHolds { get; } = [];

    public void SetMembers(IEnumerable<MemberInfo> members)
    {
        MembersByEmail.Clear();
        foreach (var m in members) MembersByEmail[m.NormalizedEmail] = m;
    }

    /// <summary>The earliest instant at which something changes by itself: the period ends, a grant or a hold expires.</summary>
    public DateTime NextChangeAt =>
        Grants.Where(g => g.ExpiresAt is not null && g.Remaining > 0).Select(g => g.ExpiresAt!.Value)
            .Append(Period.End).Append(NextHoldExpiry ?? DateTime.MaxValue).Min();

    /// <summary>Whether this person is a member (by id: their e-mail may have changed).</summary>
    public bool HasMember(string userId) => MembersByEmail.Values.Any(m => m.UserId == userId);

    /// <summary>
    /// LEDGER.md's invariants of one book, cheap enough to check before every COMMIT: the balance is what the grants hold
    /// less the overdraft; there is overdraft only when no usable grant has credits; no grant holds more than it was given
    /// or less than nothing; the period's usage is the members' usage. Null when they hold, else what broke.
    /// </summary>
    public string? Violation(DateTime now)
    {
        if (Balance != GrantsRemaining - Overdraft) return $"balance {Balance} ≠ grants {GrantsRemaining} − overdraft {Overdraft}";
        if (Overdraft < 0) return $"overdraft {Overdraft} is negative";
        if (Overdraft > 0 && Grants.Any(g => g.Remaining > 0 && g.StartsAt <= now))
            return $"overdraft {Overdraft} while a grant still has credits";
        if (Grants.FirstOrDefault(g => g.Remaining < 0 || g.Remaining > g.Amount) is { } bad)
            return $"grant {bad.Id} holds {bad.Remaining} of {bad.Amount}";
        if (PeriodUsage != MemberUsage.Values.Sum()) return $"period usage {PeriodUsage} ≠ members' usage {MemberUsage.Values.Sum()}";
        return null;
    }

    public void AddGrant(GrantState grant)
    {
        var index = Grants.FindIndex(g => Compare(grant, g) < 0);
        Grants.Insert(index < 0 ? Grants.Count : index, grant);
    }

    private static int Compare(GrantState a, GrantState b)
    {
        var byExpiry = (a.ExpiresAt ?? DateTime.MaxValue).CompareTo(b.ExpiresAt ?? DateTime.MaxValue);
        if (byExpiry != 0) return byExpiry;
        var byStart = a.StartsAt.CompareTo(b.StartsAt);
        return byStart != 0 ? byStart : a.Id.CompareTo(b.Id);
    }

    /// <summary>
    /// Takes <paramref name="amount"/> from the grants in consumption order; whatever no grant covers becomes
    /// overdraft (the usage already happened, so it is never refused here).
    /// </summary>
    public List<Draw> Debit(long amount, DateTime now)
    {
        var draws = new List<Draw>(1);
        var left = amount;
        foreach (var grant in Grants)
        {
            if (left == 0) break;
            if (grant.Remaining <= 0 || grant.StartsAt > now) continue;
            var take = Math.Min(grant.Remaining, left);
            grant.Remaining -= take;
            grant.Dirty = true;
            left -= take;
            draws.Add(new Draw(grant, take));
        }
        if (left > 0)
        {
            Overdraft += left;
            draws.Add(new Draw(null, left));
        }
        Balance -= amount;
        return draws;
    }

    /// <summary>Adds a positive grant; it pays any overdraft first and keeps the rest.</summary>
    public long Credit(GrantState grant)
    {
        var payoff = Math.Min(Overdraft, grant.Amount);
        Overdraft -= payoff;
        grant.Remaining = grant.Amount - payoff;
        Balance += grant.Amount;
        AddGrant(grant);
        return payoff;
    }

    /// <summary>Expires what is left of a grant; returns the amount that left the balance.</summary>
    public long Expire(GrantState grant)
    {
        var amount = grant.Remaining;
        grant.Remaining = 0;
        grant.Dirty = true;
        Balance -= amount;
        Grants.Remove(grant);
        return amount;
    }

    public void AddUsage(string userId, long millicredits)
    {
        LoadUsage(userId, millicredits);
        ChangedMembers.Add(userId);
    }

    /// <summary>A member's usage this period as stored (loading the book): nothing to write back.</summary>
    public void LoadUsage(string userId, long millicredits)
    {
        PeriodUsage += millicredits;
        MemberUsage[userId] = MemberUsage.GetValueOrDefault(userId) + millicredits;
    }

    public void StartPeriod(BillingPeriod period, long allowance)
    {
        Period = period;
        Allowance = allowance;
        MemberUsage.Clear();
        ChangedMembers.Clear(); // a row from the period before is never read again (its PeriodStart is not the current one)
        PeriodUsage = 0;
    }

    public long GrantsRemaining => Grants.Sum(g => g.Remaining);
}
