using Cassidy.Portal.Data;
using Microsoft.Data.Sqlite;

namespace Cassidy.Portal.Metering;

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
/// statements, and the cached <see cref="CreditBook"/> of every organization it has touched. Used only from the writer's
/// thread, inside one transaction per batch (<see cref="Begin"/> … <see cref="Commit"/>, then <see cref="Publish"/>), so
/// it needs no locking of its own. Every credit movement happens here: usage, grants, expiries, period closes, plan
/// changes, holds. A cached book is used only while the database says it is current (versions checked at its first
/// touch in every transaction) and is never replaced once the transaction has touched it.
/// </summary>
internal sealed class LedgerStore : IDisposable
{
    private const int LedgerChunk = 32;
    private const string LedgerValues = "(?, ?, ?, ?, ?, ?, ?, ?, ?)";

    private readonly SqliteConnection _connection;
    private readonly PlanCatalog _plans;
    private readonly CreditView _view;
    private readonly IWriterHooks? _hooks;
    private readonly RollupWriter _rollups;
    private readonly Dictionary<int, CreditBook> _books = new();
    private readonly Dictionary<string, int> _orgIdsBySlug = new(StringComparer.Ordinal);
    private readonly List<SqliteStatement> _statements = [];

    // Per transaction.
    private readonly List<CreditBook> _touched = [];
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
        _grants, _usage, _holds, _nextHoldExpiry, _expireHolds, _insertHold, _settleHold, _releaseHold, _setPlan, _setAgreement,
        _setScheduledPlan, _invoiceOfQuote, _applyInvoice, _insertStorage, _dueOrganizations, _organizationsOfUser;

    public DateTime Now { get; private set; }

    public LedgerStore(string connectionString, PlanCatalog plans, CreditView view, IWriterHooks? hooks = null)
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
                CurrentPeriodEnd, LastClosedPeriodStart, Version, UpdatedAt, RollupTimeZone)
            VALUES ($org, $balance, $overdraft, $start, $end, $closed, $version, $now, $zone)
            ON CONFLICT (OrganizationId) DO UPDATE SET BalanceMillicredits = excluded.BalanceMillicredits,
                OverdraftMillicredits = excluded.OverdraftMillicredits, CurrentPeriodStart = excluded.CurrentPeriodStart,
                CurrentPeriodEnd = excluded.CurrentPeriodEnd, LastClosedPeriodStart = excluded.LastClosedPeriodStart,
                Version = excluded.Version, UpdatedAt = excluded.UpdatedAt, RollupTimeZone = excluded.RollupTimeZone
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
            SELECT BalanceMillicredits, OverdraftMillicredits, CurrentPeriodStart, LastClosedPeriodStart, Version, RollupTimeZone
            FROM CreditAccounts WHERE OrganizationId = $org
            """);
        _grants = Statement("""
            SELECT Id, Kind, AmountMillicredits, RemainingMillicredits, StartsAt, ExpiresAt, PeriodStart
            FROM CreditGrants WHERE OrganizationId = $org AND ExpiredAt IS NULL AND RemainingMillicredits > 0
            """);
        _usage = Statement("""
            SELECT UserId, -SUM(AmountMillicredits) FROM LedgerEntries
            WHERE OrganizationId = $org AND Kind = 'usage' AND OccurredAt >= $start GROUP BY UserId
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
    internal void Commit(IReadOnlyList<IngestWriter.WriterItem> items)
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
                .Bind(book.LastClosedPeriodStart).Bind(book.Version).Bind(Now).Bind(book.Zone.Id).Execute();
        }
        _hooks?.At(WriterPoint.Statement);
        _rollups.Flush(id => _books.TryGetValue(id, out var book) ? book.Zone : TimeZoneInfo.Utc);
    }

    /// <summary>Marks the book as part of this transaction (published after it), remembering its balance before it.</summary>
    private void Touch(CreditBook book)
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
    private void Ledger(CreditBook book, string kind, long amount, DateTime at, long? grantId, long? eventId, string? userId, string? description)
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

    // ---- usage --------------------------------------------------------------------------------------------------

    /// <summary>Records one prepared event exactly once: the unique (organization, id) index decides, the hash tells
    /// a replay (duplicate) from a different event reusing the id (conflict).</summary>
    public UsageResult Record(PreparedUsage e)
    {
        var book = Book(e.Organization);
        if (book is null) return UsageResult.Rejected(e.Id, UsageErrors.UnknownOrganization);

        MemberInfo? member = null;
        string? failure = null;
        if (e.NormalizedUser is { } email && (member = book.MembersByEmail.GetValueOrDefault(email)) is null) failure = UsageErrors.UnknownMember;
        if (failure is null && !e.Price.Ok) failure = e.Price.Error;

        long? eventId = null;
        if (failure is null)
            eventId = _insertEvent.Bind(book.OrganizationId).Bind(e.Id).Bind(e.ContentHash).Bind(e.Type).Bind(member?.UserId)
                .Bind(e.OccurredAt).Bind(e.Feature).Bind(e.Model).Bind(e.InputTokens).Bind(e.KnowledgeTokens).Bind(e.OutputTokens)
                .Bind(e.Capabilities.Count == 0 ? null : string.Join(',', e.Capabilities)).Bind(e.AgentId).Bind(e.WorkflowId)
                .Bind(e.RunId).Bind(e.HoldId).Bind(e.Minutes).Bind(e.Bytes).Bind(e.Price.Millicredits).Bind(Now).ExecuteInsert();
        _hooks?.At(WriterPoint.Statement);
        if (eventId is null)
        {
            using var found = _findEvent.Bind(book.OrganizationId).Bind(e.Id).Query();
            if (!found.Read()) return UsageResult.Rejected(e.Id, failure ?? UsageErrors.Conflict);
            return found.GetBytes(0).AsSpan().SequenceEqual(e.ContentHash)
                ? new UsageResult(e.Id, UsageStatuses.Duplicate, found.GetInt64(1), null)
                : UsageResult.Rejected(e.Id, UsageErrors.Conflict);
        }

        switch (e.Type)
        {
            case UsageTypes.ModelCall:
                Charge(book, e, member!, eventId.Value);
                break;
            case UsageTypes.Meeting:
                _rollups.AddMeeting(book.OrganizationId, e.OccurredAt, member!.UserId, e.Minutes!.Value);
                break;
            default:
                _insertStorage.Bind(book.OrganizationId).Bind(e.OccurredAt).Bind(e.Bytes!.Value).Bind(eventId.Value).Execute();
                break;
        }
        return new UsageResult(e.Id, UsageStatuses.Recorded, e.Price.Millicredits, null);
    }

    private void Charge(CreditBook book, PreparedUsage e, MemberInfo member, long eventId)
    {
        var credits = e.Price.Millicredits;
        var draws = book.Debit(credits, Now);
        // Which grants paid: usually all of it came from one, and the usage entry names that grant. Only usage split across
        // grants or running into overdraft gets UsageDraws rows (one per part, a null grant for the overdraft part), which
        // spares the common case a row and an index entry per event.
        var single = draws is [{ Grant: { } grant }] ? grant : null;
        if (single is null)
            foreach (var draw in draws) _insertDraw.Bind(eventId).Bind(draw.Grant?.Id).Bind(draw.Amount).Execute();
        Ledger(book, LedgerKinds.Usage, -credits, Now, single?.Id, eventId, member.UserId, null);
        book.AddUsage(member.UserId, credits);
        _rollups.AddCall(book.OrganizationId, e, member.UserId, credits);
        // The call settles its hold: the actual credits are debited above, the reservation ends (if it still held).
        if (e.HoldId is { } holdId && _settleHold.Bind(Now).Bind(holdId).Bind(book.OrganizationId).ExecuteNonQuery() == 1)
            Resolved(book.OrganizationId, holdId);
    }

    // ---- books --------------------------------------------------------------------------------------------------

    /// <summary>The organization's book, current with the database and with its due periods closed; null if it doesn't exist.</summary>
    public CreditBook? Book(string slug)
    {
        if (!_orgIdsBySlug.TryGetValue(slug, out var id))
        {
            using var rows = _organizationBySlug.Bind(slug).Query();
            if (!rows.Read()) return null;
            id = rows.GetInt32(0);
        }
        return Book(id);
    }

    public CreditBook? Book(int organizationId)
    {
        var book = Current(organizationId);
        if (book is not null && _advanced.Add(organizationId)) Advance(book);
        return book;
    }

    /// <summary>Loads the book (opening the account with its first allowance if it has none) without closing periods.</summary>
    public CreditBook? Open(int organizationId) => Current(organizationId);

    /// <summary>
    /// The book as this transaction uses it. At its first touch in a transaction the cached book is used only if the
    /// database says it is current (the write lock, BEGIN IMMEDIATE, is held from here to COMMIT, so nobody moves the account
    /// in between); after that it is never replaced until the transaction ends.
    /// </summary>
    private CreditBook? Current(int organizationId)
    {
        if (_opening.ContainsKey(organizationId)) return _books[organizationId];
        long? accountVersion;
        long settingsVersion;
        using (var versions = _versions.Bind(organizationId).Query())
        {
            if (!versions.Read())
            {
                Forget(organizationId);
                return null;
            }
            accountVersion = versions.GetInt64OrNull(0);
            settingsVersion = versions.GetInt64(1);
        }
        if (_books.TryGetValue(organizationId, out var book))
        {
            if (accountVersion != book.Version)
            {
                Forget(organizationId); // another writer (a second process, the demo seeder) moved the account
                book = null;
            }
            else if (settingsVersion != book.SettingsVersion)
            {
                RefreshSettings(book);
            }
        }
        book ??= Load(organizationId);
        if (book is not null) Touch(book);
        return book;
    }

    /// <summary>
    /// Settings or members changed (an admin, a member leaving, an e-mail change): read them again into the book, in place —
    /// the book's money is never replaced here — and publish them with the transaction.
    /// </summary>
    public CreditBook? Refresh(int organizationId)
    {
        var book = Book(organizationId);
        if (book is null) return null;
        if (CurrentSettingsVersion(organizationId) != book.SettingsVersion) RefreshSettings(book);
        return book;
    }

    /// <summary>Every organization whose members include this person, by the database or by what the engine holds.</summary>
    public List<int> OrganizationsOf(string userId)
    {
        var ids = _books.Values.Where(b => b.HasMember(userId)).Select(b => b.OrganizationId).ToHashSet();
        using (var rows = _organizationsOfUser.Bind(userId).Query())
            while (rows.Read()) ids.Add(rows.GetInt32(0));
        ids.UnionWith(_view.OrganizationsWithMember(userId));
        return ids.Order().ToList();
    }

    private void RefreshSettings(CreditBook book)
    {
        var zone = book.Zone;
        ReadSettings(book);
        // The daily rollups are keyed by local days: re-key them in the new zone before anything is added to them.
        if (zone.Id != book.Zone.Id) _rollups.Rebuild(book.OrganizationId, book.Zone);
    }

    /// <summary>Reads the organization's settings and members into the book (nothing, when the organization is gone).</summary>
    private void ReadSettings(CreditBook book)
    {
        using (var rows = _organization.Bind(book.OrganizationId).Query())
        {
            if (!rows.Read()) return;
            book.Plan = rows.GetString(2);
            book.EnterpriseMonthlyCredits = rows.GetInt64OrNull(3);
            book.RolloverCapPercent = rows.GetInt32OrNull(4);
            book.DefaultCapMillicredits = rows.GetInt64OrNull(5);
            book.ScheduledPlan = rows.GetStringOrNull(6);
            book.Zone = TimeZoneInfo.TryFindSystemTimeZoneById(rows.GetString(7), out var zone) ? zone : TimeZoneInfo.Utc;
            book.SettingsVersion = rows.GetInt64(8);
        }
        var members = new List<MemberInfo>();
        using (var rows = _members.Bind(book.OrganizationId).Query())
            while (rows.Read())
            {
                long? cap = Enum.Parse<MemberCapMode>(rows.GetString(2)) switch
                {
                    MemberCapMode.Custom => rows.GetInt64OrNull(3),
                    MemberCapMode.Unlimited => null,
                    _ => book.DefaultCapMillicredits,
                };
                members.Add(new MemberInfo(rows.GetString(0), rows.GetString(1), cap));
            }
        book.SetMembers(members);
    }

    private CreditBook? Load(int organizationId)
    {
        FlushLedger(); // the book's usage this period is read from the ledger
        CreditBook book;
        using (var rows = _organization.Bind(organizationId).Query())
        {
            if (!rows.Read()) return null;
            book = new CreditBook { OrganizationId = organizationId, Slug = rows.GetString(0), Anchor = rows.GetDateTime(1) };
        }
        ReadSettings(book);

        string? rollupZone = null;
        var opened = false;
        using (var rows = _account.Bind(organizationId).Query())
        {
            if (rows.Read())
            {
                opened = true;
                book.Balance = rows.GetInt64(0);
                book.Overdraft = rows.GetInt64(1);
                book.Period = BillingPeriods.Starting(book.Anchor, rows.GetDateTime(2));
                book.LastClosedPeriodStart = rows.GetDateTimeOrNull(3);
                book.Version = rows.GetInt64(4);
                rollupZone = rows.GetStringOrNull(5);
            }
        }
        _books[organizationId] = book;
        _orgIdsBySlug[book.Slug] = organizationId;
        Touch(book);
        if (!opened)
        {
            // The first period starts at the anchor; its allowance is the account's first grant.
            var first = BillingPeriods.Period(book.Anchor, 0);
            book.StartPeriod(first, AllowanceOf(book));
            AddGrant(book, GrantKinds.MonthlyAllowance, book.Allowance, book.Anchor, first.End, first.Start,
                $"{book.Plan} monthly allowance", null, LedgerKinds.Grant, book.Anchor);
            return book;
        }

        book.StartPeriod(book.Period, AllowanceOf(book));
        // The time zone changed (or the daily rollups were never built): re-key them before anything is added to them.
        if (rollupZone != book.Zone.Id) _rollups.Rebuild(book.OrganizationId, book.Zone);
        using (var rows = _grants.Bind(organizationId).Query())
            while (rows.Read())
                book.AddGrant(new GrantState
                {
                    Id = rows.GetInt64(0), Kind = rows.GetString(1), Amount = rows.GetInt64(2), Remaining = rows.GetInt64(3),
                    StartsAt = rows.GetDateTime(4), ExpiresAt = rows.GetDateTimeOrNull(5), PeriodStart = rows.GetDateTimeOrNull(6),
                });
        using (var rows = _usage.Bind(organizationId).Bind(book.Period.Start).Query())
            while (rows.Read()) book.AddUsage(rows.GetStringOrNull(0), rows.GetInt64(1));
        using (var rows = _holds.Bind(organizationId).Bind(Now).Query())
            while (rows.Read())
                book.LoadedHolds.Add(new CreditHold
                {
                    Id = rows.GetString(0), OrganizationId = organizationId, UserId = rows.GetString(1),
                    EstimateMillicredits = rows.GetInt64(2), ExpiresAt = rows.GetDateTime(3),
                });
        book.NextHoldExpiry = NextHoldExpiry(organizationId);
        return book;
    }

    private DateTime? NextHoldExpiry(int organizationId)
    {
        using var rows = _nextHoldExpiry.Bind(organizationId).Query();
        return rows.Read() ? rows.GetDateTimeOrNull(0) : null;
    }

    private long AllowanceOf(CreditBook book) => _plans.MonthlyAllowanceMillicredits(book.Plan, book.EnterpriseMonthlyCredits);

    // ---- periods and grants -----------------------------------------------------------------------------------

    /// <summary>
    /// Closes every period that ended by <see cref="Now"/>, month by month, expires grants whose time passed, and stamps
    /// holds whose time passed as expired.
    /// </summary>
    private void Advance(CreditBook book)
    {
        while (book.Period.End <= Now)
        {
            ExpireGrants(book, g => g < book.Period.End);
            ClosePeriod(book);
        }
        ExpireGrants(book, g => g <= Now);
        if (book.NextHoldExpiry is { } due && due <= Now)
        {
            _expireHolds.Bind(book.OrganizationId).Bind(Now).Execute();
            book.NextHoldExpiry = NextHoldExpiry(book.OrganizationId);
        }
    }

    private void ExpireGrants(CreditBook book, Func<DateTime, bool> due)
    {
        foreach (var grant in book.Grants.Where(g => g.ExpiresAt is { } at && due(at)).ToList())
        {
            var at = grant.ExpiresAt!.Value;
            var amount = book.Expire(grant);
            grant.ExpiredAt = at;
            _expired.Add(grant);
            if (amount > 0)
                Ledger(book, LedgerKinds.Expiry, -amount, at, grant.Id, null, null, $"{GrantKinds.Describe(grant.Kind)} expired");
        }
    }

    /// <summary>
    /// SPEC §3.3: what is left of the period's allowance expires (upgrade top-ups included: every monthly allowance grant
    /// expires at the end of its period); on an Enterprise agreement with rollover up to the cap carries over; a scheduled
    /// plan takes over; the new period's allowance is granted (paying any overdraft first). The allowance's unique
    /// (organization, period start) index makes a second close of the same period fail instead of granting twice.
    /// </summary>
    private void ClosePeriod(CreditBook book)
    {
        var closing = book.Period;
        var left = book.Grants.Where(g => g.Kind == GrantKinds.MonthlyAllowance && g.ExpiresAt == closing.End).Sum(g => g.Remaining);
        var closingAllowance = book.Allowance;
        ExpireGrants(book, g => g <= closing.End);

        if (book.ScheduledPlan is { } scheduled && _plans.Find(scheduled) is not null)
        {
            book.Plan = scheduled;
            book.ScheduledPlan = null;
            _setPlan.Bind(scheduled).Bind(book.OrganizationId).Execute();
            book.SettingsVersion = CurrentSettingsVersion(book.OrganizationId);
        }
        var next = BillingPeriods.Period(book.Anchor, closing.Index + 1);
        var isEnterprise = string.Equals(book.Plan, PlanCatalog.Enterprise, StringComparison.OrdinalIgnoreCase);
        book.LastClosedPeriodStart = closing.Start;
        book.StartPeriod(next, AllowanceOf(book));
        if (isEnterprise && book.RolloverCapPercent is > 0 and var percent && left > 0)
        {
            var carry = Math.Min(left, closingAllowance * percent / 100);
            if (carry > 0)
                AddGrant(book, GrantKinds.Rollover, carry, closing.End, next.End, null,
                    $"Rollover of unused allowance (up to {percent}%)", null, LedgerKinds.Rollover, closing.End);
        }
        AddGrant(book, GrantKinds.MonthlyAllowance, book.Allowance, closing.End, next.End, next.Start,
            $"{book.Plan} monthly allowance", null, LedgerKinds.Grant, closing.End);
    }

    private long CurrentSettingsVersion(int organizationId)
    {
        using var rows = _settingsVersion.Bind(organizationId).Query();
        return rows.Read() ? rows.GetInt64(0) : 0;
    }

    /// <summary>
    /// SPEC §3.3, one transaction: an upgrade (or new Enterprise terms) takes effect at once, and a higher allowance tops the
    /// period up by the real difference — compared here, against the plan the admin was quoted from, with the quote's
    /// invoice marked applied in the same transaction so a second confirmation (another tab, another admin) changes nothing.
    /// </summary>
    public PlanChangeOutcome ChangePlan(CreditBook book, PlanChange change)
    {
        var org = book.OrganizationId;
        if (change.QuoteId is { } quote)
        {
            using var invoice = _invoiceOfQuote.Bind(org).Bind(quote).Query();
            if (!invoice.Read()) return new(false, "No payment was taken for this quote.");
            if (!invoice.IsNull(1)) return new(true, AlreadyApplied: true);
            if (invoice.GetString(0) != InvoiceStatuses.Issued) return new(false, "The payment for this quote was voided.");
        }
        if (change.ExpectedFromPlan is { } from && !string.Equals(book.Plan, from, StringComparison.OrdinalIgnoreCase))
            return new(false, $"The organization is on the {book.Plan} plan now, not {from}: nothing was changed.");
        if (change.QuoteId is { } applied) _applyInvoice.Bind(Now).Bind(org).Bind(applied).Execute();

        var before = book.Allowance;
        if (change.Agreement is { } terms)
        {
            _setAgreement.Bind(change.ToPlan).Bind(terms.MonthlyCredits).Bind(terms.RolloverCapPercent).Bind(terms.Members)
                .Bind(terms.StorageGb).Bind(terms.MeetingHours).Bind(org).Execute();
            book.EnterpriseMonthlyCredits = terms.MonthlyCredits;
            book.RolloverCapPercent = terms.RolloverCapPercent;
        }
        else
        {
            _setPlan.Bind(change.ToPlan).Bind(org).Execute();
        }
        book.Plan = change.ToPlan;
        book.ScheduledPlan = null;
        book.Allowance = AllowanceOf(book);
        book.SettingsVersion = CurrentSettingsVersion(org);
        var topUp = book.Allowance - before;
        if (topUp > 0)
            AddGrant(book, GrantKinds.MonthlyAllowance, topUp, Now, book.Period.End, null, change.Reason, change.ByUserId, LedgerKinds.Grant, Now);
        return new(true);
    }

    /// <summary>
    /// A downgrade for the next period (null: none), after whatever was due has closed. Returns what is scheduled now: the
    /// writer item's result, which the simulation's reference model takes as committed.
    /// </summary>
    public string? SchedulePlan(CreditBook book, string? plan)
    {
        _setScheduledPlan.Bind(plan).Bind(book.OrganizationId).Execute();
        book.ScheduledPlan = plan;
        book.SettingsVersion = CurrentSettingsVersion(book.OrganizationId);
        return plan;
    }

    /// <summary>Adds a grant (positive) or a negative adjustment, with its ledger entry. Returns the grant's id.</summary>
    public long AddGrant(CreditBook book, string kind, long amount, DateTime startsAt, DateTime? expiresAt, DateTime? periodStart,
        string? reason, string? createdBy, string ledgerKind, DateTime at)
    {
        var remaining = amount >= 0 ? amount - Math.Min(book.Overdraft, amount) : 0L;
        var id = _insertGrant.Bind(book.OrganizationId).Bind(kind).Bind(amount).Bind(remaining).Bind(startsAt).Bind(expiresAt)
            .Bind(periodStart).Bind(reason).Bind(createdBy).Bind(Now).ExecuteInsert()!.Value;
        _hooks?.At(WriterPoint.Statement);
        if (amount >= 0)
            book.Credit(new GrantState { Id = id, Kind = kind, Amount = amount, StartsAt = startsAt, ExpiresAt = expiresAt, PeriodStart = periodStart });
        else
            book.Debit(-amount, Now); // a negative adjustment takes credits away like usage does (soonest-expiring first, then overdraft)
        Ledger(book, ledgerKind, amount, at, id, null, createdBy, reason);
        return id;
    }

    // ---- holds ------------------------------------------------------------------------------------------------

    /// <summary>Makes a hold the view admitted durable; the caller gets its id only after this commits.</summary>
    public HoldView InsertHold(HoldView hold, string feature, string? model)
    {
        _insertHold.Bind(hold.Id).Bind(hold.OrganizationId).Bind(hold.UserId).Bind(feature).Bind(model).Bind(hold.Millicredits).Bind(Now)
            .Bind(hold.ExpiresAt).Execute();
        if (_books.TryGetValue(hold.OrganizationId, out var book) && (book.NextHoldExpiry is not { } next || hold.ExpiresAt < next))
            book.NextHoldExpiry = hold.ExpiresAt;
        _insertedHolds.Add(hold);
        return hold;
    }

    /// <summary>Releases an active hold whose call never ran; false when no active, unexpired hold has this id.</summary>
    public bool ReleaseHold(string holdId)
    {
        int organizationId;
        using (var released = _releaseHold.Bind(Now).Bind(holdId).Query())
        {
            if (!released.Read()) return false;
            organizationId = released.GetInt32(0);
        }
        Resolved(organizationId, holdId);
        return true;
    }

    private void Resolved(int organizationId, string holdId)
    {
        if (!_resolvedHolds.TryGetValue(organizationId, out var ids)) _resolvedHolds[organizationId] = ids = [];
        ids.Add(holdId);
    }

    /// <summary>Organizations with a period, a grant or a hold due by now (for the background closer).</summary>
    public List<int> DueOrganizations()
    {
        var ids = new List<int>();
        using var rows = _dueOrganizations.Bind(Now).Query();
        while (rows.Read()) ids.Add(rows.GetInt32(0));
        return ids;
    }

    public void Dispose()
    {
        if (_inTransaction) Rollback();
        _rollups.Dispose();
        foreach (var statement in _statements) statement.Dispose();
        _connection.Dispose();
    }
}
