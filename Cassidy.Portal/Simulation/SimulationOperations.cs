using Cassidy.Portal.Data;
using Cassidy.Portal.Billing;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Limits;
using Cassidy.Portal.Organizations;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Simulation;

/// <summary>
/// One thing a caller of the portal does — the AI runtime recording or authorizing a call, an admin changing a cap,
/// staff granting a package — started by the simulation and run by its scheduler until it answers. It tells the
/// reference model what each of its writer items did when that item commits, and checks its answer when it has one.
/// </summary>
internal abstract class SimOperation
{
    public int Number { get; set; }
    public abstract string Kind { get; }
    /// <summary>The organization it concerns (null: none in particular, or one that does not exist).</summary>
    public ModelOrganization? Organization { get; init; }
    public Task? Task { get; set; }
    /// <summary>A fault or a crash happened while it was in flight: it may fail.</summary>
    public bool FaultSeen { get; set; }
    /// <summary>Commits that touched <see cref="Organization"/> when it started, and operations started for it.</summary>
    public long OrganizationCommitsAtStart { get; set; }
    public int OrganizationOpsAtStart { get; set; }
    public bool AloneAtStart { get; set; }

    public abstract Task RunAsync(SimulationRun run);

    /// <summary>Called when the start ran up to its first wait, before anything else happens.</summary>
    public virtual void Started(SimulationRun run) { }

    public virtual void Committed(SimulationRun run, WriterItemInfo item, DateTime now) { }

    public virtual void Completed(SimulationRun run) { }

    /// <summary>Its answer, for the run's trace (what a replay must reproduce).</summary>
    public virtual string Trace() => Kind;

    public override string ToString() => $"#{Number} {Kind}{(Organization is null ? "" : " " + Organization.Slug)}";
}

/// <summary>The AI runtime records a batch of events (SPEC §4), some of them replays, conflicts or bad.</summary>
internal sealed class IngestOperation : SimOperation
{
    public override string Kind => "ingest";
    public required List<UsageEventInput> Events { get; init; }
    private UsageResult?[]? _expected;
    private IReadOnlyList<UsageResult>? _actual;

    public override Task RunAsync(SimulationRun run) => Record(run);

    private async Task Record(SimulationRun run) => _actual = await run.Process.Ledger.RecordUsageAsync(Events);

    public override void Committed(SimulationRun run, WriterItemInfo item, DateTime now)
    {
        if (item.Label != "record") return;
        _expected = new UsageResult?[Events.Count];
        for (var i = 0; i < Events.Count; i++)
            if (ReferenceModel.InvalidField(Events[i], now) is null) _expected[i] = run.Model.Record(Events[i], now);
    }

    public override void Completed(SimulationRun run)
    {
        var now = run.Now;
        for (var i = 0; i < Events.Count; i++)
        {
            var e = Events[i];
            var actual = _actual![i];
            var expected = ReferenceModel.InvalidField(e, now) is { } field
                ? UsageResult.Rejected(e.Id, UsageErrors.Validation, field)
                : _expected?[i] ?? throw run.Violation($"{this}: event '{e.Id}' was answered {actual.Status} but never committed");
            run.Expect($"{this}: event '{e.Id}' ({Describe(e)})", (expected.Status, expected.CreditsMillicredits, expected.Error),
                (actual.Status, actual.CreditsMillicredits, actual.Error));
        }
    }

    private static string Describe(UsageEventInput e) => $"{e.Type ?? "model_call"} {e.Organization}/{e.User} {e.Model} in={e.InputTokens} out={e.OutputTokens}" +
                                                         (e.HoldId is null ? "" : $" hold={e.HoldId}");

    public override string Trace() => $"{Kind}:{string.Join(',', _actual?.Select(r => $"{r.Status[0]}{r.CreditsMillicredits}{r.Error}") ?? [])}";
}

/// <summary>The AI runtime asks before a call, with or without a hold.</summary>
internal sealed class AuthorizeOperation : SimOperation
{
    public override string Kind => "authorize";
    public required AuthorizeInput Input { get; init; }
    private AuthorizeOutcome? _actual;
    private AuthorizeOutcome? _expected;

    public override Task RunAsync(SimulationRun run) => Ask(run);

    private async Task Ask(SimulationRun run) => _actual = await run.Process.Ledger.AuthorizeAsync(Input);

    public override void Started(SimulationRun run)
    {
        // The decision is taken against the last commit and the holds of the moment: if nothing else happens to this
        // organization while the call is in flight, that is the model's state now.
        var org = run.Model.Find(Input.Organization);
        long? estimate = null;
        if (Input.Model is { } model)
        {
            var (price, error) = run.Model.Price(model, Input.MaxInputTokens ?? 0, 0, Input.MaxOutputTokens ?? 0, [], Input.Feature);
            if (error is not null) { _expected = new AuthorizeOutcome(null, InvalidField: "model"); return; }
            estimate = price;
        }
        if (org is null) { _expected = new AuthorizeOutcome(null, NotFound: "organization"); return; }
        var member = org.Member(Input.User);
        _expected = member is null ? new AuthorizeOutcome(null, NotFound: "user") : new AuthorizeOutcome(org.Decide(member, estimate, run.Now));
    }

    public override void Committed(SimulationRun run, WriterItemInfo item, DateTime now)
    {
        if (item.Label == "hold" && item.Result is HoldView hold) run.AddHold(hold, durable: true);
    }

    public override void Completed(SimulationRun run)
    {
        var actual = _actual!;
        if (actual.Decision is { HoldId: { } id, Held: { } held } d)
        {
            run.Expect($"{this}: hold {id} durable before its id was returned", true, run.IsDurable(id));
            run.AddHold(new HoldView(id, Organization!.Id, Organization.Member(Input.User)?.UserId ?? "?", held, run.Now + run.HoldLifetime), durable: false);
            // Whatever else happened meanwhile: a hold is only placed within what was available.
            run.Expect($"{this}: hold admitted beyond the available balance", true, d.Available >= 0);
            if (d.MemberCap is { } cap) run.Expect($"{this}: hold admitted beyond the member's cap", true, d.MemberUsed + held <= cap);
        }
        if (!run.IsAlone(this)) return;
        run.StrictAuthorizations++;
        var expected = _expected!;
        run.Expect($"{this}: not found", expected.NotFound, actual.NotFound);
        run.Expect($"{this}: invalid", expected.InvalidField, actual.InvalidField);
        if (expected.Decision is { } e && actual.Decision is { } a)
            run.Expect($"{this}: decision for {Input.User} (model {Input.Model}, {Input.MaxInputTokens}/{Input.MaxOutputTokens})",
                (e.Allowed, e.Reason, e.Balance, e.Available, e.MemberUsed, e.MemberCap, e.ResetsAt, e.HoldId is null, e.Held),
                (a.Allowed, a.Reason, a.Balance, a.Available, a.MemberUsed, a.MemberCap, a.ResetsAt, a.HoldId is null, a.Held));
    }

    public override string Trace() => $"{Kind}:{_actual?.NotFound}{_actual?.Decision?.Reason}{_actual?.Decision?.Held}";
}

/// <summary>The AI runtime releases a hold whose call never ran (DELETE /holds/{id}).</summary>
internal sealed class ReleaseOperation : SimOperation
{
    public override string Kind => "release";
    public required string HoldId { get; init; }
    private bool _actual;
    private bool? _expected;

    public override Task RunAsync(SimulationRun run) => Release(run);

    private async Task Release(SimulationRun run) => _actual = await run.Process.Ledger.ReleaseHoldAsync(HoldId);

    public override void Committed(SimulationRun run, WriterItemInfo item, DateTime now)
    {
        if (item.Label != "release") return;
        var hold = run.FindHold(HoldId);
        _expected = hold is not null && hold.IsActive(now);
        if (_expected == true) hold!.State = HoldStatuses.Released;
    }

    public override void Completed(SimulationRun run)
    {
        if (_expected is { } expected) run.Expect($"{this}: release of hold {HoldId} answered", expected, _actual);
    }

    public override string Trace() => $"{Kind}:{_actual}";
}

/// <summary>Staff grant a credit package or a signed adjustment (SPEC §3.2).</summary>
internal sealed class GrantOperation : SimOperation
{
    public override string Kind => Package ? "package" : "adjustment";
    public required bool Package { get; init; }
    public required decimal Credits { get; init; }
    public DateTime? ExpiresAt { get; init; }
    private ChangeResult? _result;
    private bool _committed;

    public override Task RunAsync(SimulationRun run) => Grant(run);

    private async Task Grant(SimulationRun run) => _result = Package
        ? await run.Process.Plans.GrantPackageAsync(Organization!.Id, run.Staff, Credits, ExpiresAt, "simulated package")
        : await run.Process.Plans.AdjustAsync(Organization!.Id, run.Staff, Credits, "simulated adjustment");

    public override void Committed(SimulationRun run, WriterItemInfo item, DateTime now)
    {
        if (item.Label != "grant") return;
        _committed = true;
        var amount = (long)(Credits * 1000);
        if (Package) Organization!.Grant(GrantKinds.CreditPackage, amount, now, ExpiresAt ?? now + PlanChanges.DefaultPackageLifetime, LedgerKinds.Grant);
        else Organization!.Grant(GrantKinds.Adjustment, amount, now, null, LedgerKinds.Adjustment);
    }

    public override void Completed(SimulationRun run)
    {
        var valid = Package ? Credits is > 0 and <= 100_000_000 : Credits != 0 && Math.Abs(Credits) <= 100_000_000;
        valid &= decimal.Round(Credits, 3) == Credits && (ExpiresAt is null || ExpiresAt > run.Now);
        run.Expect($"{this}: {Credits} credits accepted", valid, _result!.Succeeded);
        run.Expect($"{this}: {Credits} credits committed", valid, _committed);
    }

    public override string Trace() => $"{Kind}:{_result?.Succeeded}";
}

/// <summary>
/// An admin upgrades the plan (SPEC §3.3) as the Plan page does: a quote, then its confirmation — sometimes at the same
/// moment as another admin with their own quote, sometimes confirming the same quote twice (two tabs, a double click).
/// </summary>
internal sealed class UpgradeOperation : SimOperation
{
    public override string Kind => "upgrade";
    public required string ToPlan { get; init; }
    /// <summary>Confirms the quote this other operation got, instead of one of its own.</summary>
    public UpgradeOperation? SameQuoteAs { get; init; }
    public UpgradeQuote? Quote { get; private set; }
    private (ChangeResult Result, UpgradeQuote? Quote) _result;
    private bool? _applied;

    public override Task RunAsync(SimulationRun run) => Upgrade(run);

    private async Task Upgrade(SimulationRun run)
    {
        Quote = SameQuoteAs?.Quote ?? await run.Process.Plans.QuoteUpgradeAsync(Organization!.Id, ToPlan);
        if (Quote is null) return;
        _result = await run.Process.Plans.UpgradeAsync(Organization!.Id, run.OwnerOf(Organization), Quote);
    }

    public override void Committed(SimulationRun run, WriterItemInfo item, DateTime now)
    {
        if (item.Label != "plan" || Quote is null) return;
        var org = Organization!;
        // Carried out once per quote, only from the plan it was quoted from (another admin's upgrade in between wins), and
        // only while its payment stands (a failed confirmation of the same quote voided it).
        if (org.AppliedQuotes.ContainsKey(Quote.Id)) _applied = true;
        else if (org.Plan == Quote.FromPlan && !run.IsVoided(Quote.Id))
        {
            _applied = true;
            org.AppliedQuotes[Quote.Id] = Quote.ChargeCents;
            org.ChangePlan(Quote.ToPlan, null, null, now, run.Model);
        }
        else _applied = false;
    }

    public override void Completed(SimulationRun run)
    {
        if (Quote is null) return;
        run.Expect($"{this}: {Quote.FromPlan} → {Quote.ToPlan} ({Quote.Id}) carried out", _applied == true, _result.Result?.Succeeded == true);
    }

    public override string Trace() => $"{Kind}:{_result.Result?.Succeeded}";
}

/// <summary>An admin schedules a downgrade for the next period, or cancels it.</summary>
internal sealed class DowngradeOperation : SimOperation
{
    public override string Kind => ToPlan is null ? "cancel-downgrade" : "downgrade";
    public string? ToPlan { get; init; }

    public override Task RunAsync(SimulationRun run) => ToPlan is null
        ? run.Process.Plans.CancelDowngradeAsync(Organization!.Id, run.OwnerOf(Organization))
        : run.Process.Plans.ScheduleDowngradeAsync(Organization!.Id, run.OwnerOf(Organization), ToPlan);

    public override void Committed(SimulationRun run, WriterItemInfo item, DateTime now)
    {
        if (item.Label == "schedule") Organization!.ScheduledPlan = (string?)item.Result;
    }
}

/// <summary>Staff put the organization on an Enterprise agreement, or change it (SPEC §3.3).</summary>
internal sealed class AgreementOperation : SimOperation
{
    public override string Kind => "agreement";
    public required long MonthlyCredits { get; init; }
    public required int RolloverPercent { get; init; }
    private ChangeResult? _result;

    public override Task RunAsync(SimulationRun run) => Agree(run);

    private async Task Agree(SimulationRun run) => _result = await run.Process.Plans.SetEnterpriseAsync(Organization!.Id, run.Staff,
        new EnterpriseAgreement(MonthlyCredits, RolloverPercent, 1000, 5000, 2000));

    public override void Committed(SimulationRun run, WriterItemInfo item, DateTime now)
    {
        if (item.Label == "plan") Organization!.ChangePlan(PlanCatalog.Enterprise, MonthlyCredits, RolloverPercent, now, run.Model);
    }

    public override void Completed(SimulationRun run) => run.Expect($"{this}: agreement accepted", true, _result!.Succeeded);
}
