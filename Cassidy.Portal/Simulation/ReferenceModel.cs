using System.Globalization;
using Cassidy.Portal.Data;
using Cassidy.Portal.Billing;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Pricing;

namespace Cassidy.Portal.Simulation;

/// <summary>
/// SPEC §3 written the plain way, for the simulation to hold the engine against: lists and loops, no caches, no SQL,
/// no batching. It shares nothing with the engine but the configuration (prices and plans) and the names of kinds.
/// Every method is one rule of the spec; money is integer millicredits.
/// </summary>
internal sealed class ReferenceModel(MeteringOptions prices, PlanCatalog plans)
{
    public Dictionary<string, ModelOrganization> Organizations { get; } = new(StringComparer.Ordinal);

    public ModelOrganization? Find(string slug) => Organizations.GetValueOrDefault(slug);

    public ModelOrganization Get(int id) => Organizations.Values.Single(o => o.Id == id);

    public long AllowanceOf(string plan, long? enterpriseCredits) =>
        plan == PlanCatalog.Enterprise && enterpriseCredits is { } agreed ? agreed * 1000 : plans.Get(plan).MonthlyCredits * 1000;

    // ---- §3.1 credits of one call ------------------------------------------------------------------------------

    /// <summary>The price of a call, or the error that refuses it.</summary>
    public (long Millicredits, string? Error) Price(string model, long input, long knowledge, long output, IEnumerable<string> capabilities, string feature)
    {
        if (!prices.Models.TryGetValue(model, out var p)) return (0, UsageErrors.UnknownModel);
        var credits = (input + knowledge) * p.Input / 1000m + output * p.Output / 1000m;
        foreach (var c in capabilities)
        {
            if (!prices.Capabilities.TryGetValue(c, out var fee)) return (0, UsageErrors.UnknownCapability);
            credits += fee;
        }
        if (feature == Features.WorkflowRun) credits += prices.WorkflowActionFee;
        return ((long)decimal.Ceiling(credits * 1000m), null);
    }

    /// <summary>
    /// What the same call would have cost on the lighter model of its family (the "where credits go" advice): the call
    /// priced again with the lighter model's tokens, fees kept; its own price when it has no lighter alternative.
    /// </summary>
    public long OnLighterModel(string model, long input, long knowledge, long output, IEnumerable<string> capabilities, string feature) =>
        prices.Models.TryGetValue(model, out var p) && p.LighterAlternative is { } light && prices.Models.ContainsKey(light)
            ? Price(light, input, knowledge, output, capabilities, feature).Millicredits
            : Price(model, input, knowledge, output, capabilities, feature).Millicredits;

    // ---- §4 the usage-events contract ---------------------------------------------------------------------------

    /// <summary>The field a usage event breaks (SPEC §4's table), or null.</summary>
    public static string? InvalidField(UsageEventInput e, DateTime now)
    {
        if (e.Id is not { Length: >= 1 and <= 128 }) return "id";
        var type = e.Type ?? UsageTypes.ModelCall;
        if (type is not (UsageTypes.ModelCall or UsageTypes.Meeting or UsageTypes.Storage)) return "type";
        if (string.IsNullOrWhiteSpace(e.Organization)) return "organization";
        if (type != UsageTypes.Storage && string.IsNullOrWhiteSpace(e.User)) return "user";
        if (e.OccurredAt is not { } at || at.UtcDateTime > now.AddMinutes(5)) return "occurredAt";
        if (type == UsageTypes.ModelCall)
        {
            if (e.Feature is not (Features.AgentChat or Features.WorkflowRun)) return "feature";
            if (string.IsNullOrWhiteSpace(e.Model)) return "model";
            if (e.InputTokens is not >= 0) return "inputTokens";
            if (e.KnowledgeTokens is < 0) return "knowledgeTokens";
            if (e.OutputTokens is not >= 0) return "outputTokens";
        }
        if (type == UsageTypes.Meeting && e.Minutes is not > 0) return "minutes";
        if (type == UsageTypes.Storage && e.Bytes is not >= 0) return "bytes";
        return null;
    }

    /// <summary>What makes two events "the same": every field their type has (SPEC §4's table), with the defaults filled in.</summary>
    public static string ContentOf(UsageEventInput e)
    {
        var type = e.Type ?? UsageTypes.ModelCall;
        var common = string.Join('|', type, e.Organization, e.User?.Trim().ToUpperInvariant(),
            e.OccurredAt?.UtcTicks.ToString(CultureInfo.InvariantCulture), e.AgentId, e.WorkflowId, e.RunId, e.HoldId);
        return type switch
        {
            UsageTypes.ModelCall => string.Join('|', common, e.Feature, e.Model, e.InputTokens, e.KnowledgeTokens ?? 0, e.OutputTokens,
                string.Join(',', (e.Capabilities ?? []).Order(StringComparer.Ordinal))),
            UsageTypes.Meeting => string.Join('|', common, e.Minutes?.ToString("R", CultureInfo.InvariantCulture)),
            _ => string.Join('|', common, e.Bytes),
        };
    }

    /// <summary>Records one (valid) event as of <paramref name="now"/>: the result the engine must answer.</summary>
    public UsageResult Record(UsageEventInput e, DateTime now)
    {
        var org = Find(e.Organization!);
        if (org is null) return UsageResult.Rejected(e.Id, UsageErrors.UnknownOrganization);
        org.CloseDue(now, this);
        var content = ContentOf(e);
        if (org.Events.TryGetValue(e.Id!, out var existing))
            return existing.Content == content
                ? new UsageResult(e.Id, UsageStatuses.Duplicate, existing.Credits, null)
                : UsageResult.Rejected(e.Id, UsageErrors.Conflict);
        var type = e.Type ?? UsageTypes.ModelCall;
        ModelMember? member = null;
        if (!string.IsNullOrWhiteSpace(e.User) && (member = org.Member(e.User)) is null) return UsageResult.Rejected(e.Id, UsageErrors.UnknownMember);
        long credits = 0;
        if (type == UsageTypes.ModelCall)
        {
            var (price, error) = Price(e.Model!, e.InputTokens!.Value, e.KnowledgeTokens ?? 0, e.OutputTokens!.Value, e.Capabilities ?? [], e.Feature!);
            if (error is not null) return UsageResult.Rejected(e.Id, error);
            credits = price;
            var onLight = OnLighterModel(e.Model!, e.InputTokens!.Value, e.KnowledgeTokens ?? 0, e.OutputTokens!.Value, e.Capabilities ?? [], e.Feature!);
            org.Calls.Add(e.OccurredAt!.Value.UtcDateTime, credits, onLight, e.AgentId is not null || e.WorkflowId is not null);
            org.Debit(credits, LedgerKinds.Usage, now);
            org.UsageEntries++;
            org.MemberUsage[member!.UserId] = org.MemberUsage.GetValueOrDefault(member.UserId) + credits;
            org.PeriodUsage += credits;
            if (e.HoldId is { } holdId && org.Holds.TryGetValue(holdId, out var hold) && hold.IsActive(now)) hold.State = HoldStatuses.Settled;
        }
        org.Events[e.Id!] = new ModelEvent(content, credits, type);
        return new UsageResult(e.Id, UsageStatuses.Recorded, credits, null);
    }
}

internal sealed record ModelEvent(string Content, long Credits, string Type);

/// <summary>
/// Every recorded model call added up, as the rollups must add up: credits, and credits on the lighter model; all, and of
/// agents and workflows; and each call's hour, so the daily rollups can be compared day by day in any zone.
/// </summary>
internal sealed class ModelCallTotals
{
    private readonly List<ModelCall> _calls = [];

    public long Credits { get; private set; }
    public long OnLighterModel { get; private set; }
    public long AgentCredits { get; private set; }
    public long AgentOnLighterModel { get; private set; }
    public IReadOnlyList<ModelCall> All => _calls;

    public void Add(DateTime occurredAt, long credits, long onLighterModel, bool byAgent)
    {
        _calls.Add(new ModelCall(LocalDays.FloorHour(occurredAt), credits, onLighterModel, byAgent));
        Credits += credits;
        OnLighterModel += onLighterModel;
        if (!byAgent) return;
        AgentCredits += credits;
        AgentOnLighterModel += onLighterModel;
    }
}

internal sealed record ModelCall(DateTime Hour, long Credits, long OnLighterModel, bool ByAgent);

internal sealed record ModelMember(string UserId, string NormalizedEmail, long? Cap);

internal sealed class ModelGrant
{
    public required long Sequence { get; init; }
    public required string Kind { get; init; }
    public required long Amount { get; init; }
    public long Remaining { get; set; }
    public required DateTime StartsAt { get; init; }
    public DateTime? ExpiresAt { get; init; }
    public bool Expired { get; set; }
}

internal sealed class ModelHold
{
    public required string Id { get; init; }
    public required string UserId { get; init; }
    public required long Amount { get; init; }
    public required DateTime ExpiresAt { get; init; }
    public string State { get; set; } = HoldStatuses.Active;
    public bool IsActive(DateTime now) => State == HoldStatuses.Active && ExpiresAt > now;
}

/// <summary>One organization as the spec says it must be.</summary>
internal sealed class ModelOrganization
{
    public required int Id { get; init; }
    public required string Slug { get; init; }
    public required DateTime Anchor { get; init; }
    public string Plan { get; set; } = "Free";
    public string? ScheduledPlan { get; set; }
    public long? EnterpriseCredits { get; set; }
    public int? RolloverPercent { get; set; }

    public int PeriodIndex { get; private set; }
    public DateTime PeriodStart => MonthsFromAnchor(PeriodIndex);
    public DateTime PeriodEnd => MonthsFromAnchor(PeriodIndex + 1);
    public long Allowance { get; set; }

    public List<ModelGrant> Grants { get; } = [];
    public long Overdraft { get; private set; }
    public long Balance { get; private set; }
    public Dictionary<string, long> MemberUsage { get; } = new(StringComparer.Ordinal);
    public long PeriodUsage { get; set; }
    public long UsageEntries { get; set; }
    public ModelCallTotals Calls { get; } = new();
    public Dictionary<string, long> LedgerByKind { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, ModelEvent> Events { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, ModelHold> Holds { get; } = new(StringComparer.Ordinal);

    /// <summary>Members by normalized e-mail, as the database says at the start of the writer's transaction.</summary>
    public Dictionary<string, ModelMember> Members { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Quotes whose upgrade was carried out, with their price in cents: each has exactly one issued invoice.</summary>
    public Dictionary<string, long> AppliedQuotes { get; } = new(StringComparer.Ordinal);

    private long _sequence;

    public ModelMember? Member(string email) => Members.GetValueOrDefault(email.Trim().ToUpperInvariant());

    /// <summary>A calendar month from the anchor, the day clamped to the month's length (31 Jan → 28 Feb → 31 Mar).</summary>
    public DateTime MonthsFromAnchor(int months)
    {
        var first = new DateTime(Anchor.Year, Anchor.Month, 1, 0, 0, 0, DateTimeKind.Utc).AddMonths(months);
        return first.AddDays(Math.Min(Anchor.Day, DateTime.DaysInMonth(first.Year, first.Month)) - 1) + Anchor.TimeOfDay;
    }

    /// <summary>The account opens with the first period's allowance.</summary>
    public void Open(ReferenceModel model)
    {
        PeriodIndex = 0;
        Allowance = model.AllowanceOf(Plan, EnterpriseCredits);
        Grant(GrantKinds.MonthlyAllowance, Allowance, Anchor, PeriodEnd, LedgerKinds.Grant);
    }

    private void Ledger(string kind, long amount) => LedgerByKind[kind] = LedgerByKind.GetValueOrDefault(kind) + amount;

    /// <summary>§3.2: credits enter as a grant; a grant pays any overdraft first. A negative adjustment takes credits like usage.</summary>
    public void Grant(string kind, long amount, DateTime startsAt, DateTime? expiresAt, string ledgerKind)
    {
        if (amount < 0)
        {
            Debit(-amount, ledgerKind, startsAt);
            return;
        }
        var payoff = Math.Min(Overdraft, amount);
        Overdraft -= payoff;
        Grants.Add(new ModelGrant
        {
            Sequence = ++_sequence, Kind = kind, Amount = amount, Remaining = amount - payoff, StartsAt = startsAt, ExpiresAt = expiresAt,
        });
        Balance += amount;
        Ledger(ledgerKind, amount);
    }

    /// <summary>§3.2: taken from the grant that expires soonest (no expiry last, ties oldest first); the rest is overdraft.</summary>
    public void Debit(long amount, string ledgerKind, DateTime now)
    {
        var left = amount;
        foreach (var grant in Grants.Where(g => !g.Expired && g.Remaining > 0 && g.StartsAt <= now)
                     .OrderBy(g => g.ExpiresAt ?? DateTime.MaxValue).ThenBy(g => g.StartsAt).ThenBy(g => g.Sequence))
        {
            var take = Math.Min(grant.Remaining, left);
            grant.Remaining -= take;
            left -= take;
            if (left == 0) break;
        }
        Overdraft += left;
        Balance -= amount;
        Ledger(ledgerKind, -amount);
    }

    private void ExpireWhere(Func<DateTime, bool> due)
    {
        foreach (var grant in Grants.Where(g => !g.Expired && g.ExpiresAt is { } at && due(at)).OrderBy(g => g.ExpiresAt))
        {
            grant.Expired = true;
            if (grant.Remaining > 0) Ledger(LedgerKinds.Expiry, -grant.Remaining);
            Balance -= grant.Remaining;
            grant.Remaining = 0;
        }
    }

    /// <summary>
    /// §3.3, as of <paramref name="now"/>: each ended period's allowance expires (with any grant due), an Enterprise
    /// agreement with rollover carries over up to its cap, a scheduled plan takes over, and the next allowance is granted.
    /// </summary>
    public void CloseDue(DateTime now, ReferenceModel model)
    {
        while (PeriodEnd <= now)
        {
            var end = PeriodEnd;
            ExpireWhere(at => at < end);
            var left = Grants.Where(g => !g.Expired && g.Kind == GrantKinds.MonthlyAllowance && g.ExpiresAt == end).Sum(g => g.Remaining);
            var closingAllowance = Allowance;
            ExpireWhere(at => at <= end);
            if (ScheduledPlan is { } scheduled)
            {
                Plan = scheduled;
                ScheduledPlan = null;
            }
            PeriodIndex++;
            Allowance = model.AllowanceOf(Plan, EnterpriseCredits);
            if (Plan == PlanCatalog.Enterprise && RolloverPercent is > 0 and var percent && left > 0)
            {
                var carry = Math.Min(left, closingAllowance * percent / 100);
                if (carry > 0) Grant(GrantKinds.Rollover, carry, end, PeriodEnd, LedgerKinds.Rollover);
            }
            Grant(GrantKinds.MonthlyAllowance, Allowance, end, PeriodEnd, LedgerKinds.Grant);
            MemberUsage.Clear();
            PeriodUsage = 0;
        }
        ExpireWhere(at => at <= now);
    }

    /// <summary>§3.3: an upgrade (or a new Enterprise agreement) takes effect at once; a higher allowance tops the period up.</summary>
    public long ChangePlan(string plan, long? enterpriseCredits, int? rolloverPercent, DateTime now, ReferenceModel model)
    {
        var before = Allowance;
        Plan = plan;
        ScheduledPlan = null;
        if (plan == PlanCatalog.Enterprise)
        {
            EnterpriseCredits = enterpriseCredits;
            RolloverPercent = rolloverPercent;
        }
        Allowance = model.AllowanceOf(plan, EnterpriseCredits);
        var topUp = Allowance - before;
        if (topUp <= 0) return 0;
        Grant(GrantKinds.MonthlyAllowance, topUp, now, PeriodEnd, LedgerKinds.Grant);
        return topUp;
    }

    public long Held(DateTime now, string? userId = null) =>
        Holds.Values.Where(h => h.IsActive(now) && (userId is null || h.UserId == userId)).Sum(h => h.Amount);

    /// <summary>§3.4: authorize's decision for a member, as of the last commit and the holds active now.</summary>
    public AuthorizeDecision Decide(ModelMember member, long? estimate, DateTime now)
    {
        var available = Balance - Held(now);
        var used = MemberUsage.GetValueOrDefault(member.UserId);
        var memberHeld = Held(now, member.UserId);
        AuthorizeDecision Answer(bool allowed, string reason, long? held = null) =>
            new(allowed, reason, Balance, available - (held ?? 0), used, member.Cap, PeriodEnd, held is null ? null : "?", held);
        if (available <= 0) return Answer(false, AuthorizeReasons.OrganizationOutOfCredits);
        if (member.Cap is { } cap && used + memberHeld >= cap) return Answer(false, AuthorizeReasons.MemberLimitReached);
        if (estimate is not { } need) return Answer(true, AuthorizeReasons.Ok);
        if (need > available) return Answer(false, AuthorizeReasons.OrganizationOutOfCredits);
        if (member.Cap is { } cap2 && used + memberHeld + need > cap2) return Answer(false, AuthorizeReasons.MemberLimitReached);
        return Answer(true, AuthorizeReasons.Ok, need);
    }

    public long GrantsRemaining => Grants.Where(g => !g.Expired).Sum(g => g.Remaining);
}
