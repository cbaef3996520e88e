using Cassidy.Portal.Billing;
using Cassidy.Portal.Data;
using Microsoft.Data.Sqlite;

namespace Cassidy.Portal.Ledger;

/// <summary>A plan change the writer carries out in one transaction (SPEC §3.3; LEDGER.md, "Invariants").</summary>
/// <param name="ExpectedFromPlan">The plan the admin was quoted from: if the organization is on another one now, nothing changes.</param>
/// <param name="QuoteId">The quote whose invoice pays for it: marked applied in the same transaction, so it is used once.</param>
/// <param name="Agreement">New Enterprise terms (staff), or null for a self-serve upgrade.</param>
public sealed record PlanChange(string ToPlan, string? ExpectedFromPlan, string? QuoteId, EnterpriseAgreement? Agreement, string? ByUserId,
    string Reason);

/// <summary>What became of a <see cref="PlanChange"/>: carried out (now or by an earlier confirmation of the same quote), or why not.</summary>
public sealed record PlanChangeOutcome(bool Applied, string? Refusal = null, bool AlreadyApplied = false);

/// <summary>An invariant of LEDGER.md broke on the write path: the transaction is rolled back instead of committed.</summary>
public sealed class LedgerInvariantException(int organizationId, string rule)
    : Exception($"Ledger invariant broken for organization {organizationId}: {rule}. The transaction was rolled back.");

/// <summary>
/// The ledger's core, on the writer's side of the database (LEDGER.md): one long-lived SQLite connection, its prepared
/// statements, and the cached <see cref="OrganizationBook"/> of every organization it has touched. Used only from the writer's
/// thread, inside one transaction per batch (<see cref="Begin"/> … <see cref="Commit"/>, then <see cref="Publish"/>), so
/// it needs no locking of its own. Every credit movement happens here: usage, grants, expiries, period closes, plan
/// changes, holds. A cached book is used only while the database says it is current (versions checked at its first
/// touch in every transaction) and is never replaced once the transaction has touched it. This file holds the transaction
/// and the ledger entries; LedgerStore.Usage.cs what ingest and authorize do, LedgerStore.Books.cs the cached books,
/// LedgerStore.Periods.cs periods, grants and plan changes.
/// </summary>
internal sealed partial class LedgerStore : IDisposable
{
    private const int LedgerChunk = 32;
    private const string LedgerValues = "(?, ?, ?, ?, ?, ?, ?, ?, ?)";

    private readonly SqliteConnection _connection;
    private readonly PlanCatalog _plans;
    private readonly BalanceView _view;
    private readonly IWriterHooks? _hooks;
    private readonly RollupWriter _rollups;
    private readonly Dictionary<int, OrganizationBook> _books = new();
    private readonly Dictionary<string, int> _orgIdsBySlug = new(StringComparer.Ordinal);
    private readonly List<SqliteStatement> _statements = [];

    // Per transaction.
    private readonly List<OrganizationBook> _touched = [];
    private readonly Dictionary<int, long> _opening = new();
    private readonly HashSet<int> _advanced = [];
    private readonly Dictionary<int, long> _moved = new();
    private readonly List<GrantState> _expired = [];
    private readonly Dictionary<int, List<string>> _resolvedHolds = new();
    private readonly List<HoldView> _insertedHolds = [];
    private readonly List<LedgerRow> _ledger = [];
    private bool _inTransaction;

    private readonly SqliteStatement _begin, _commit, _rollback, _insertEvent, _findEvent, _insertLedger, _insertLedgerChunk, _insertDraw,
        _insertGrant, _updateGrant, _upsertAccount, _versions, _settingsVersion, _organizationBySlug, _organization, _members, _account,
        _grants, _usage, _upsertMemberUsage, _holds, _nextHoldExpiry, _expireHolds, _insertHold, _settleHold, _releaseHold, _setPlan, _setAgreement,
        _setScheduledPlan, _invoiceOfQuote, _applyInvoice, _insertStorage, _dueOrganizations, _organizationsOfUser;

    public DateTime Now { get; private set; }

    public LedgerStore(string connectionString, PlanCatalog plans, BalanceView view, IWriterHooks? hooks = null)
    {
        _plans = plans;
        _view = view;
        _hooks = hooks;
        _connection = new SqliteConnection(connectionString);
        _connection.Open();
        using (var pragmas = _connection.CreateCommand())
        {
            pragmas.CommandText = SqliteConnectionSetup.Pragmas;
            pragmas.ExecuteNonQuery();
        }
        _rollups = new RollupWriter(_connection);

        _begin = Statement("BEGIN IMMEDIATE");
        _commit = Statement("COMMIT");
        _rollback = Statement("ROLLBACK");
        _insertEvent = Statement("""
            INSERT INTO UsageEvents (OrganizationId, ExternalId, ContentHash, Type, UserId, OccurredAt, Feature, Model,
                InputTokens, KnowledgeTokens, OutputTokens, Capabilities, AgentId, WorkflowId, RunId, HoldId, Minutes, Bytes,
                CreditsMillicredits, RecordedAt)
            VALUES ($org, $ext, $hash, $type, $user, $at, $feature, $model, $in, $kn, $out, $caps, $agent, $workflow, $run,
                $hold, $minutes, $bytes, $credits, $now)
            ON CONFLICT (OrganizationId, ExternalId) DO NOTHING
            """);
        _findEvent = Statement("SELECT ContentHash, CreditsMillicredits FROM UsageEvents WHERE OrganizationId = $org AND ExternalId = $ext");
        const string ledgerInsert = """
            INSERT INTO LedgerEntries (OrganizationId, Kind, AmountMillicredits, BalanceAfterMillicredits, OccurredAt, GrantId,
                UsageEventId, UserId, Description)
            VALUES
            """;
        _insertLedger = Statement(ledgerInsert + LedgerValues);
        _insertLedgerChunk = Statement(ledgerInsert + string.Join(",", Enumerable.Repeat(LedgerValues, LedgerChunk)));
        _insertDraw = Statement("INSERT INTO UsageDraws (UsageEventId, GrantId, AmountMillicredits) VALUES ($event, $grant, $amount)");
        _insertGrant = Statement("""
            INSERT INTO CreditGrants (OrganizationId, Kind, AmountMillicredits, RemainingMillicredits, StartsAt, ExpiresAt,
                PeriodStart, Reason, CreatedByUserId, CreatedAt)
            VALUES ($org, $kind, $amount, $remaining, $starts, $expires, $period, $reason, $by, $now)
            """);
        _updateGrant = Statement("UPDATE CreditGrants SET RemainingMillicredits = $remaining, ExpiredAt = $expired WHERE Id = $id");
        _upsertAccount = Statement("""
            INSERT INTO CreditAccounts (OrganizationId, BalanceMillicredits, OverdraftMillicredits, CurrentPeriodStart,
                CurrentPeriodEnd, LastClosedPeriodStart, Version, UpdatedAt, RollupTimeZone, DailyRollupsBuiltBefore)
            VALUES ($org, $balance, $overdraft, $start, $end, $closed, $version, $now, $zone, $builtBefore)
            ON CONFLICT (OrganizationId) DO UPDATE SET BalanceMillicredits = excluded.BalanceMillicredits,
                OverdraftMillicredits = excluded.OverdraftMillicredits, CurrentPeriodStart = excluded.CurrentPeriodStart,
                CurrentPeriodEnd = excluded.CurrentPeriodEnd, LastClosedPeriodStart = excluded.LastClosedPeriodStart,
                Version = excluded.Version, UpdatedAt = excluded.UpdatedAt, RollupTimeZone = excluded.RollupTimeZone,
                DailyRollupsBuiltBefore = excluded.DailyRollupsBuiltBefore
            """);
        _versions = Statement("""
            SELECT a.Version, o.SettingsVersion FROM Organizations o LEFT JOIN CreditAccounts a ON a.OrganizationId = o.Id WHERE o.Id = $org
            """);
        _settingsVersion = Statement("SELECT SettingsVersion FROM Organizations WHERE Id = $org");
        _organizationBySlug = Statement("SELECT Id FROM Organizations WHERE Slug = $slug");
        _organization = Statement("""
            SELECT Slug, BillingAnchor, Plan, EnterpriseMonthlyCredits, RolloverCapPercent, DefaultMemberCapMillicredits, ScheduledPlan,
                TimeZone, SettingsVersion
            FROM Organizations WHERE Id = $org
            """);
        _members = Statement("""
            SELECT m.UserId, u.NormalizedEmail, m.CapMode, m.CapMillicredits
            FROM Memberships m JOIN AspNetUsers u ON u.Id = m.UserId
            WHERE m.OrganizationId = $org AND u.NormalizedEmail IS NOT NULL
            """);
        _account = Statement("""
            SELECT BalanceMillicredits, OverdraftMillicredits, CurrentPeriodStart, LastClosedPeriodStart, Version, RollupTimeZone,
                DailyRollupsBuiltBefore
            FROM CreditAccounts WHERE OrganizationId = $org
            """);
        _grants = Statement("""
            SELECT Id, Kind, AmountMillicredits, RemainingMillicredits, StartsAt, ExpiresAt, PeriodStart
            FROM CreditGrants WHERE OrganizationId = $org AND ExpiredAt IS NULL AND RemainingMillicredits > 0
            """);
        _usage = Statement("SELECT UserId, UsedMillicredits FROM MemberPeriodUsages WHERE OrganizationId = $org AND PeriodStart = $start");
        _upsertMemberUsage = Statement("""
            INSERT INTO MemberPeriodUsages (OrganizationId, UserId, PeriodStart, UsedMillicredits) VALUES ($org, $user, $start, $used)
            ON CONFLICT (OrganizationId, UserId) DO UPDATE SET PeriodStart = excluded.PeriodStart, UsedMillicredits = excluded.UsedMillicredits
            """);
        _holds = Statement("""
            SELECT Id, UserId, EstimateMillicredits, ExpiresAt FROM CreditHolds
            WHERE OrganizationId = $org AND Status = 'active' AND ExpiresAt > $now
            """);
        _nextHoldExpiry = Statement("SELECT MIN(ExpiresAt) FROM CreditHolds WHERE OrganizationId = $org AND Status = 'active'");
        _expireHolds = Statement("""
            UPDATE CreditHolds SET Status = 'expired', ResolvedAt = ExpiresAt
            WHERE OrganizationId = $org AND Status = 'active' AND ExpiresAt <= $now
            """);
        _insertHold = Statement("""
            INSERT INTO CreditHolds (Id, OrganizationId, UserId, Feature, Model, EstimateMillicredits, CreatedAt, ExpiresAt, Status)
            VALUES ($id, $org, $user, $feature, $model, $estimate, $now, $expires, 'active')
            """);
        _settleHold = Statement("""
            UPDATE CreditHolds SET Status = 'settled', ResolvedAt = $now
            WHERE Id = $id AND OrganizationId = $org AND Status = 'active' AND ExpiresAt > $now
            """);
        _releaseHold = Statement("""
            UPDATE CreditHolds SET Status = 'released', ResolvedAt = $now
            WHERE Id = $id AND Status = 'active' AND ExpiresAt > $now
            RETURNING OrganizationId
            """);
        _setPlan = Statement("UPDATE Organizations SET Plan = $plan, ScheduledPlan = NULL WHERE Id = $org");
        _setAgreement = Statement("""
            UPDATE Organizations SET Plan = $plan, ScheduledPlan = NULL, EnterpriseMonthlyCredits = $credits, RolloverCapPercent = $rollover,
                EnterpriseMembers = $members, EnterpriseStorageGb = $storage, EnterpriseMeetingHours = $hours
            WHERE Id = $org
            """);
        _setScheduledPlan = Statement("UPDATE Organizations SET ScheduledPlan = $plan WHERE Id = $org");
        _invoiceOfQuote = Statement("SELECT Status, AppliedAt FROM Invoices WHERE OrganizationId = $org AND QuoteId = $quote");
        _applyInvoice = Statement("""
            UPDATE Invoices SET AppliedAt = $now WHERE OrganizationId = $org AND QuoteId = $quote AND Status = 'issued' AND AppliedAt IS NULL
            """);
        _insertStorage = Statement("INSERT INTO StorageSnapshots (OrganizationId, OccurredAt, Bytes, UsageEventId) VALUES ($org, $at, $bytes, $event)");
        _dueOrganizations = Statement("""
            SELECT o.Id FROM Organizations o LEFT JOIN CreditAccounts a ON a.OrganizationId = o.Id
            WHERE a.OrganizationId IS NULL OR a.CurrentPeriodEnd <= $now
            UNION SELECT OrganizationId FROM CreditGrants WHERE ExpiredAt IS NULL AND RemainingMillicredits > 0 AND ExpiresAt <= $now
            UNION SELECT OrganizationId FROM CreditHolds WHERE Status = 'active' AND ExpiresAt <= $now
            """);
        _organizationsOfUser = Statement("SELECT OrganizationId FROM Memberships WHERE UserId = $user");
    }

    private SqliteStatement Statement(string sql)
    {
        var statement = new SqliteStatement(_connection, sql);
        _statements.Add(statement);
        return statement;
    }

    // ---- transaction ----------------------------------------------------------------------------------------------

    public void Begin(DateTime now)
    {
        _hooks?.At(WriterPoint.Begin);
        Now = now;
        _begin.Execute();
        _inTransaction = true;
    }

    /// <summary>
    /// Writes what the transaction accumulated (ledger entries, grants, accounts, rollups), checks LEDGER.md's invariants of
    /// every book it touched, and commits. Nothing after the COMMIT statement may undo it: the writer answers its callers
    /// once this returns, whatever <see cref="Publish"/> does.
    /// </summary>
    internal void Commit(IReadOnlyList<LedgerWriter.WriterItem> items)
    {
        Flush();
        foreach (var book in _touched)
            if (book.Violation(Now) is { } broken) throw new LedgerInvariantException(book.OrganizationId, broken);
        _hooks?.At(WriterPoint.BeforeCommit);
        _commit.Execute();
        _inTransaction = false;
        _hooks?.Committed(items.Select(i => new WriterItemInfo(i.Id, i.Label, i.Caller, i.Result)).ToList(),
            _touched.Select(b => b.OrganizationId).ToList());
    }

    /// <summary>After the commit: the view takes the new state of every book touched, and holds settled, released or placed.</summary>
    public void Publish()
    {
        foreach (var book in _touched)
        {
            _hooks?.At(WriterPoint.Publish);
            _view.Publish(book, _resolvedHolds.Remove(book.OrganizationId, out var resolved) ? resolved : []);
        }
        foreach (var (organizationId, resolved) in _resolvedHolds) _view.Find(organizationId)?.RemoveHolds(resolved);
        foreach (var hold in _insertedHolds) _view.Find(hold.OrganizationId)?.KeepHold(hold);
        ResetTransaction();
    }

    /// <summary>
    /// Publishing failed after a commit: the view of every touched organization may be stale, so it is dropped with the
    /// books, and the next use loads both from the database. Nothing committed is ever run again.
    /// </summary>
    public void Unpublished()
    {
        var organizations = _touched.Select(b => b.OrganizationId).Concat(_resolvedHolds.Keys).Concat(_insertedHolds.Select(h => h.OrganizationId));
        foreach (var organizationId in organizations.Distinct().ToList())
        {
            Forget(organizationId);
            _view.Forget(organizationId);
        }
        ResetTransaction();
    }

    /// <summary>Rolls back and forgets every book the transaction touched: the next use reloads them from the database.</summary>
    public void Rollback()
    {
        if (_inTransaction)
        {
            try { _rollback.Execute(); } catch (SqliteException) { /* no transaction left to roll back */ }
            _inTransaction = false;
        }
        foreach (var book in _touched) Forget(book.OrganizationId);
        ResetTransaction();
    }

    private void Forget(int organizationId)
    {
        if (_books.Remove(organizationId, out var book)) _orgIdsBySlug.Remove(book.Slug);
    }

    private void ResetTransaction()
    {
        _ledger.Clear();
        _touched.Clear();
        _opening.Clear();
        _advanced.Clear();
        _moved.Clear();
        _expired.Clear();
        _resolvedHolds.Clear();
        _insertedHolds.Clear();
        _rollups.Clear();
    }

    private void Flush()
    {
        FlushLedger();
        _hooks?.At(WriterPoint.Statement);
        foreach (var grant in _touched.SelectMany(b => b.Grants).Where(g => g.Dirty).Concat(_expired).Distinct())
        {
            _updateGrant.Bind(grant.Remaining).Bind(grant.ExpiredAt).Bind(grant.Id).Execute();
            grant.Dirty = false;
        }
        foreach (var book in _touched)
        {
            book.Version++;
            _upsertAccount.Bind(book.OrganizationId).Bind(book.Balance).Bind(book.Overdraft).Bind(book.Period.Start).Bind(book.Period.End)
                .Bind(book.LastClosedPeriodStart).Bind(book.Version).Bind(Now).Bind(book.Zone.Id).Bind(book.DailyBuiltBefore).Execute();
            // Invariant 5's stored side: the member's whole usage this period, as the book has it.
            foreach (var userId in book.ChangedMembers)
                _upsertMemberUsage.Bind(book.OrganizationId).Bind(userId).Bind(book.Period.Start).Bind(book.MemberUsage[userId]).Execute();
            book.ChangedMembers.Clear();
        }
        _hooks?.At(WriterPoint.Statement);
        _rollups.Flush(id => _books.TryGetValue(id, out var book) ? (book.Zone, book.DailyBuiltBefore) : (TimeZoneInfo.Utc, null));
    }

    /// <summary>Marks the book as part of this transaction (published after it), remembering its balance before it.</summary>
    private void Touch(OrganizationBook book)
    {
        if (_opening.TryAdd(book.OrganizationId, book.Balance)) _touched.Add(book);
    }

    // ---- ledger entries ---------------------------------------------------------------------------------------------

    /// <summary>A ledger entry waiting for the transaction's flush, in the order the movements happened.</summary>
    private readonly record struct LedgerRow(int OrganizationId, string Kind, long Amount, long BalanceAfter, DateTime At, long? GrantId,
        long? EventId, string? UserId, string? Description);

    /// <summary>
    /// Appends an entry. Paired assertion (LEDGER.md): the balance the entry records after it must be the balance before the
    /// transaction plus every entry of the transaction so far.
    /// </summary>
    private void Ledger(OrganizationBook book, string kind, long amount, DateTime at, long? grantId, long? eventId, string? userId, string? description)
    {
        var moved = _moved[book.OrganizationId] = _moved.GetValueOrDefault(book.OrganizationId) + amount;
        if (_opening[book.OrganizationId] + moved != book.Balance)
            throw new LedgerInvariantException(book.OrganizationId,
                $"entry '{kind}' {amount} leaves the balance at {book.Balance}, the entries say {_opening[book.OrganizationId] + moved}");
        _ledger.Add(new LedgerRow(book.OrganizationId, kind, amount, book.Balance, at, grantId, eventId, userId, description));
    }

    /// <summary>
    /// Writes the buffered ledger entries in order, <see cref="LedgerChunk"/> rows per statement: one statement per entry
    /// cost the writer more in statement overhead than in SQLite's row work. Ids keep the order of the movements.
    /// </summary>
    private void FlushLedger()
    {
        var i = 0;
        for (; i + LedgerChunk <= _ledger.Count; i += LedgerChunk)
        {
            for (var j = i; j < i + LedgerChunk; j++) BindLedger(_insertLedgerChunk, _ledger[j]);
            _insertLedgerChunk.Execute();
        }
        for (; i < _ledger.Count; i++) BindLedger(_insertLedger, _ledger[i]).Execute();
        _ledger.Clear();
    }

    private static SqliteStatement BindLedger(SqliteStatement statement, LedgerRow e) =>
        statement.Bind(e.OrganizationId).Bind(e.Kind).Bind(e.Amount).Bind(e.BalanceAfter).Bind(e.At).Bind(e.GrantId).Bind(e.EventId)
            .Bind(e.UserId).Bind(e.Description);

    public void Dispose()
    {
        if (_inTransaction) Rollback();
        _rollups.Dispose();
        foreach (var statement in _statements) statement.Dispose();
        _connection.Dispose();
    }
}
