using System.Security.Cryptography;
using Cassidy.Portal.Data;
using Microsoft.Data.Sqlite;
using Cassidy.Portal.Billing;
using Cassidy.Portal.Pricing;

namespace Cassidy.Portal.Ledger;

/// <summary>An authorize request (SPEC §4): model and token ceilings are optional; with a model a hold is placed.</summary>
public sealed record AuthorizeInput(string Organization, string User, string Feature, string? Model = null,
    long? MaxInputTokens = null, long? MaxOutputTokens = null);

/// <summary>Authorize's answer: a decision, or the organization / member is unknown (404), or the model is (400).</summary>
public sealed record AuthorizeOutcome(AuthorizeDecision? Decision, string? NotFound = null, string? InvalidField = null);

/// <summary>An organization's balance as the balance endpoint and pages show it; millicredits.</summary>
public sealed record BalanceSnapshot(int OrganizationId, long Balance, string Plan, DateTime PeriodStart, DateTime PeriodEnd,
    long Allowance, long Used, long Held)
{
    /// <summary>What new AI calls may still use: the balance less what calls in progress hold.</summary>
    public long Available => Balance - Held;
    /// <summary>AI features are paused (SPEC: out of credits).</summary>
    public bool OutOfCredits => Available <= 0;
}

/// <summary>
/// Proof that the books balance (SPEC §3.2, §6; LEDGER.md), read from the database side: the stored balance equals the
/// ledger's sum and what the grants hold minus overdraft; each recorded call has exactly one usage entry and the credits
/// of recorded calls equal the usage in the ledger; the hourly rollups equal that usage, and each daily rollup the hours
/// it holds (<see cref="DailyHoursSum"/>: all of them, or while the days are rebuilt after a time-zone change, the hours
/// before <see cref="DailyBuiltBefore"/>; <see cref="DateTime.MinValue"/>: the old zone's days are still being cleared, so
/// there is nothing to compare yet).
/// </summary>
public sealed record LedgerCheck(long StoredBalance, long LedgerSum, long GrantsRemaining, long Overdraft,
    long UsageLedgerSum, long RollupSum, long UsageEventsSum, long DailyRollupSum, long DailyModelRollupSum,
    long DailyMemberRollupSum, long AgentRollupSum, long DailyAgentRollupSum, long LedgerEntries, long UsageEntries, long RecordedCalls,
    long DailyHoursSum, long DailyAgentHoursSum, DateTime? DailyBuiltBefore = null)
{
    public bool Ok => StoredBalance == LedgerSum && GrantsRemaining - Overdraft == StoredBalance
                      && UsageEntries == RecordedCalls && UsageEventsSum == UsageLedgerSum && RollupSum == UsageLedgerSum
                      && (DailyBuiltBefore == DateTime.MinValue || (DailyRollupSum == DailyHoursSum && DailyModelRollupSum == DailyHoursSum
                          && DailyMemberRollupSum == DailyHoursSum && DailyAgentRollupSum == DailyAgentHoursSum));

    /// <summary>What does not add up, in words (null when everything does).</summary>
    public string? Problem =>
        StoredBalance != LedgerSum ? "the stored balance differs from the sum of the ledger"
        : GrantsRemaining - Overdraft != StoredBalance ? "the grants' remaining credits less the overdraft differ from the balance"
        : UsageEntries != RecordedCalls ? "recorded calls and usage entries differ in number"
        : UsageEventsSum != UsageLedgerSum ? "the credits of recorded calls differ from the usage in the ledger"
        : !Ok ? "the usage rollups differ from the usage in the ledger"
        : null;
}

/// <summary>
/// The metering engine's front door, used by the internal API, the pages and the demo: records usage, authorizes
/// calls (holds), grants credits and closes periods — every write through the one <see cref="LedgerWriter"/>,
/// every authorize from the in-memory <see cref="BalanceView"/>.
/// </summary>
public sealed class CreditLedger(LedgerWriter writer, PriceTable prices, TimeProvider clock, string connectionString)
    : IAsyncDisposable
{
    private bool _ownsWriter;

    public BalanceView View => writer.View;
    public PriceTable Prices => prices;
    public TimeProvider Clock => clock;

    /// <summary>A ledger with its own writer and view (the demo seeder's, on its own clock; tests).</summary>
    public static CreditLedger Create(string connectionString, PriceTable prices, PlanCatalog plans, TimeProvider clock, ILogger logger,
        IWriterHooks? hooks = null, bool manual = false) =>
        new(new LedgerWriter(connectionString, plans, new BalanceView(), clock, logger, hooks, manual), prices, clock, connectionString)
            { _ownsWriter = true };

    /// <summary>The writer behind this ledger (the simulation pumps it by hand).</summary>
    public LedgerWriter Writer => writer;

    private DateTime Now => clock.GetUtcNow().UtcDateTime;

    // ---- usage ------------------------------------------------------------------------------------------------

    /// <summary>Validates and prices each event, then records the valid ones in one transaction. Results in input order;
    /// returns only after the commit.</summary>
    public async Task<IReadOnlyList<UsageResult>> RecordUsageAsync(IReadOnlyList<UsageEventInput> events)
    {
        var now = Now;
        var results = new UsageResult[events.Count];
        var prepared = new List<(int Index, PreparedUsage Event)>(events.Count);
        for (var i = 0; i < events.Count; i++)
        {
            var (ready, rejection) = PreparedUsage.Prepare(events[i], prices, now);
            if (ready is null) results[i] = rejection!;
            else prepared.Add((i, ready));
        }
        if (prepared.Count > 0)
        {
            var recorded = await writer.RunAsync("record", store =>
            {
                var r = new UsageResult[prepared.Count];
                for (var j = 0; j < prepared.Count; j++) r[j] = store.Record(prepared[j].Event);
                return r;
            }, prepared.Count);
            for (var j = 0; j < prepared.Count; j++) results[prepared[j].Index] = recorded[j];
        }
        return results;
    }

    // ---- authorize and holds ----------------------------------------------------------------------------------

    public async Task<AuthorizeOutcome> AuthorizeAsync(AuthorizeInput input)
    {
        long? estimate = null;
        if (input.Model is { } model)
        {
            var price = prices.Estimate(model, input.MaxInputTokens ?? 0, input.MaxOutputTokens ?? 0, input.Feature);
            if (!price.Ok) return new AuthorizeOutcome(null, InvalidField: "model");
            estimate = price.Millicredits;
        }
        var view = await CurrentViewAsync(input.Organization);
        if (view is null) return new AuthorizeOutcome(null, NotFound: "organization");

        // Membership changes reach the view when they are made (LEDGER.md): an e-mail it doesn't know is not a member, and
        // asking costs the writer nothing.
        var member = view.FindMember(input.User.Trim().Normalize().ToUpperInvariant());
        if (member is null) return new AuthorizeOutcome(null, NotFound: "user");
        var holdLifetime = TimeSpan.FromSeconds(prices.Options.HoldSeconds);
        var now = Now; // one instant: the hold the view admits and the row stored expire together
        var decision = view.Decide(member, estimate, now, holdLifetime, NewHoldId);
        if (decision.HoldId is { } holdId)
        {
            // The hold counts in the view from this moment, so concurrent calls can't slip past it; its id is answered only
            // once its row has committed (group-committed with whatever else is queued).
            var hold = new HoldView(holdId, view.OrganizationId, member.UserId, decision.Held!.Value, now + holdLifetime);
            try
            {
                await writer.RunAsync("hold", store => store.InsertHold(hold, input.Feature, input.Model));
            }
            catch
            {
                view.RemoveHold(holdId);
                throw;
            }
        }
        return new AuthorizeOutcome(decision);
    }

    /// <summary>Releases an active hold (its call never ran). False when no active, unexpired hold has this id.</summary>
    public Task<bool> ReleaseHoldAsync(string holdId) => writer.RunAsync("release", store => store.ReleaseHold(holdId));

    private static string NewHoldId() => "hold_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));

    // ---- balance, periods, grants -------------------------------------------------------------------------------

    /// <summary>The organization's view with due periods closed first; null when the organization does not exist.</summary>
    public async Task<OrgView?> CurrentViewAsync(string slug)
    {
        var view = View.Find(slug);
        if (view is not null && Now < view.NextChangeAt) return view;
        var id = view?.OrganizationId ?? await writer.RunAsync("load", store => store.Book(slug)?.OrganizationId);
        return id is null ? null : await CurrentViewAsync(id.Value);
    }

    /// <inheritdoc cref="CurrentViewAsync(string)"/>
    public async Task<OrgView?> CurrentViewAsync(int organizationId)
    {
        // A commit whose publishing failed drops the organization's view (LEDGER.md): the next pass through the writer rebuilds it.
        for (var attempt = 1; ; attempt++)
        {
            var view = View.Find(organizationId);
            if (view is not null && Now < view.NextChangeAt) return view;
            if (!await CloseDuePeriodsAsync(organizationId)) return null;
            view = View.Find(organizationId);
            if (view is not null) return view;
            if (attempt == 3) throw new InvalidOperationException($"The credits of organization {organizationId} could not be loaded.");
        }
    }

    public async Task<BalanceSnapshot?> GetBalanceAsync(string slug) => await CurrentViewAsync(slug) is { } view ? Snapshot(view) : null;

    public async Task<BalanceSnapshot?> GetBalanceAsync(int organizationId) =>
        await CurrentViewAsync(organizationId) is { } view ? Snapshot(view) : null;

    private BalanceSnapshot Snapshot(OrgView view) => new(view.OrganizationId, view.Balance, view.Plan, view.Period.Start,
        view.Period.End, view.Allowance, view.PeriodUsage, view.HeldMillicredits(Now));

    /// <summary>Opens the organization's credit account (its first monthly allowance, for the period starting at the
    /// billing anchor) if it has none yet. Closing later periods is left to the next read or write.</summary>
    public Task OpenAccountAsync(int organizationId) => writer.RunAsync("open", store => store.Open(organizationId) is not null);

    /// <summary>Closes every period (and grant) of the organization that is due; false when it does not exist.</summary>
    public Task<bool> CloseDuePeriodsAsync(int organizationId) => writer.RunAsync("close", store => store.Book(organizationId) is not null);

    /// <summary>Closes due periods of every organization (the background closer's job). Returns how many were due.</summary>
    public Task<int> CloseAllDuePeriodsAsync() => writer.RunAsync("close-all", store =>
    {
        var due = store.DueOrganizations();
        foreach (var id in due) store.Book(id);
        return due.Count;
    });

    /// <summary>
    /// The organization's settings or members changed (caps, time zone, someone joined or left): the writer reads them into
    /// its book now — never replacing the book's money — and authorize sees them as soon as this returns.
    /// </summary>
    public async Task RefreshAsync(int organizationId)
    {
        try
        {
            await writer.RunAsync("refresh", store => store.Refresh(organizationId) is not null);
        }
        catch
        {
            // The change is in the database but the view may not show it: the next read goes through the writer, whose
            // version check picks the change up (LEDGER.md), instead of trusting what the view holds.
            View.Find(organizationId)?.MarkStale();
            throw;
        }
    }

    /// <summary>A person's e-mail changed or their account was deleted: every organization they are (or were) in refreshes.</summary>
    public async Task RefreshMemberAsync(string userId)
    {
        try
        {
            await writer.RunAsync("refresh", store =>
            {
                foreach (var organizationId in store.OrganizationsOf(userId)) store.Refresh(organizationId);
                return true;
            });
        }
        catch
        {
            foreach (var organizationId in View.OrganizationsWithMember(userId)) View.Find(organizationId)?.MarkStale();
            throw;
        }
    }

    /// <summary>Grants credits now: a credit package (expiry default 12 months), or a signed adjustment.</summary>
    public Task<long> GrantAsync(int organizationId, string kind, long millicredits, DateTime? expiresAt, string? reason, string? byUserId)
    {
        if (kind is not (GrantKinds.CreditPackage or GrantKinds.Adjustment))
            throw new ArgumentException("Only credit packages and adjustments are granted by hand.", nameof(kind));
        if (millicredits == 0 || (millicredits < 0 && kind != GrantKinds.Adjustment))
            throw new ArgumentOutOfRangeException(nameof(millicredits), "Only an adjustment may be negative; no grant is zero.");
        return writer.RunAsync("grant", store =>
        {
            var book = store.Book(organizationId) ?? throw new InvalidOperationException($"Organization {organizationId} does not exist.");
            var ledgerKind = kind == GrantKinds.Adjustment ? LedgerKinds.Adjustment : LedgerKinds.Grant;
            return store.AddGrant(book, kind, millicredits, store.Now, expiresAt, null, reason, byUserId, ledgerKind, store.Now);
        });
    }

    /// <summary>
    /// A plan change (SPEC §3.3), as one writer operation: the plan the admin was quoted is compared with the current one,
    /// the quote's invoice is marked applied, and the real difference in monthly credits is granted until the period ends.
    /// </summary>
    public Task<PlanChangeOutcome> ChangePlanAsync(int organizationId, PlanChange change) => writer.RunAsync("plan", store =>
    {
        var book = store.Book(organizationId) ?? throw new InvalidOperationException($"Organization {organizationId} does not exist.");
        return store.ChangePlan(book, change);
    });

    /// <summary>Schedules a downgrade for the next period (null: cancels it), after any period that was due has closed.</summary>
    public Task<string?> SchedulePlanAsync(int organizationId, string? plan) => writer.RunAsync("schedule", store =>
    {
        var book = store.Book(organizationId) ?? throw new InvalidOperationException($"Organization {organizationId} does not exist.");
        return store.SchedulePlan(book, plan);
    });

    // ---- a time-zone change ----------------------------------------------------------------------------------------

    /// <summary>
    /// How long a step of the daily-rollup rebuild should hold the writer: all another organization's call waits behind it.
    /// The steps are sized to it as they go, by what the previous one took (<c>--benchmark-time-zone</c> measures the effect).
    /// </summary>
    public static readonly TimeSpan RebuildStepTime = TimeSpan.FromMilliseconds(5);

    /// <summary>Rows the first step of a rebuild clears or folds (later ones are sized to <see cref="RebuildStepTime"/>).</summary>
    public const int RebuildRowsPerStep = 1_000;

    /// <summary>
    /// One step of rebuilding the organization's daily rollups in its new time zone (LEDGER.md, "A time-zone change"): a
    /// writer item of its own, so other work queues behind one small step, never behind the whole rebuild. True while more
    /// steps are needed; false when the daily rollups are complete (or were not being rebuilt).
    /// </summary>
    public async Task<bool> RebuildDailyRollupsStepAsync(int organizationId, int maxRows = RebuildRowsPerStep) =>
        (await RebuildStepAsync(organizationId, maxRows)).More;

    /// <summary>
    /// Runs the rebuild's steps to the end; returns how many it took. Each step is sized to take about
    /// <see cref="RebuildStepTime"/> of the writer's time (at most twice the rows of the one before), unless
    /// <paramref name="maxRows"/> fixes the size.
    /// </summary>
    public async Task<int> RebuildDailyRollupsAsync(int organizationId, int? maxRows = null, CancellationToken ct = default)
    {
        var rows = maxRows ?? RebuildRowsPerStep;
        for (var steps = 1; ; steps++)
        {
            var (more, took) = await RebuildStepAsync(organizationId, rows);
            if (!more) return steps;
            ct.ThrowIfCancellationRequested();
            if (maxRows is null)
                rows = (int)Math.Clamp(rows * Math.Min(2, RebuildStepTime / TimeSpan.FromTicks(Math.Max(took.Ticks, 1))), 50, 50_000);
        }
    }

    private Task<(bool More, TimeSpan Took)> RebuildStepAsync(int organizationId, int maxRows) => writer.RunAsync("rebuild-days", store =>
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var more = store.RebuildDailyStep(organizationId, maxRows);
        return (more, System.Diagnostics.Stopwatch.GetElapsedTime(started));
    });

    // ---- check --------------------------------------------------------------------------------------------------

    /// <summary>
    /// The full check: every entry, event and rollup of the organization added up from one snapshot (<see cref="LedgerCheck"/>).
    /// Its result is kept (the Overview shows it) and, when everything adds up, it is the incremental check's new starting point.
    /// </summary>
    public Task<LedgerCheck> FullCheckAsync(int organizationId) =>
        LedgerChecks.FullAsync(connectionString, organizationId, clock.GetUtcNow().UtcDateTime);

    /// <summary>The same proof from the last verified point, reading only what came after it (<see cref="LedgerChecks"/>).</summary>
    public Task<LedgerVerification> VerifyAsync(int organizationId) =>
        LedgerChecks.VerifyAsync(connectionString, organizationId, clock.GetUtcNow().UtcDateTime);

    public async ValueTask DisposeAsync()
    {
        if (_ownsWriter) await writer.DisposeAsync();
    }
}
