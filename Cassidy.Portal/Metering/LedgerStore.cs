using System.Globalization;
using Cassidy.Portal.Data;
using Microsoft.Data.Sqlite;

namespace Cassidy.Portal.Metering;

/// <summary>
/// The writer's side of the database: one long-lived SQLite connection, prepared statements, and the cached
/// <see cref="CreditBook"/> of every organization it has touched. Used only from the writer's loop, inside one
/// transaction per batch (<see cref="Begin"/> … <see cref="Commit"/>), so it needs no locking of its own.
/// Every credit movement happens here: usage, grants, expiries, period closes, rollovers.
/// </summary>
internal sealed class LedgerStore : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly PlanCatalog _plans;
    private readonly CreditView _view;
    private readonly IWriterHooks? _hooks;
    private readonly Dictionary<int, CreditBook> _books = new();
    private readonly Dictionary<string, int> _orgIdsBySlug = new(StringComparer.Ordinal);

    // Per batch.
    private readonly HashSet<CreditBook> _touched = [];
    private readonly HashSet<int> _checked = [];
    private readonly HashSet<int> _advanced = [];
    private readonly Dictionary<string, SqliteCommand> _adhoc = new(StringComparer.Ordinal);
    private readonly HashSet<int> _membersReloaded = [];
    private readonly List<GrantState> _expired = [];
    private readonly Dictionary<int, List<string>> _settledHolds = new();
    private readonly Dictionary<(int, DateTime, string, string, string), UsageRollup> _usageRollups = new();
    private readonly Dictionary<(int, DateTime, string, string, string, string), AgentRollup> _agentRollups = new();
    private readonly Dictionary<(int, string), RunRollup> _runRollups = new();
    private readonly Dictionary<(int, DateTime, string), MeetingRollup> _meetingRollups = new();
    private readonly Dictionary<(int, DateOnly, string, string, string), DailyUsageRollup> _dailyUsage = new();
    private readonly Dictionary<(int, DateOnly, string, string), DailyModelRollup> _dailyModels = new();
    private readonly Dictionary<(int, DateOnly, string), DailyMemberRollup> _dailyMembers = new();
    private readonly Dictionary<(int, DateOnly, string, string, string), DailyAgentRollup> _dailyAgents = new();
    private bool _inTransaction;

    private readonly SqliteStatement _insertEvent, _insertLedger, _insertLedgerChunk, _insertDraw, _upsertUsageRollup, _upsertAgentRollup,
        _upsertMeetingRollup, _upsertDailyUsage, _upsertDailyModel, _upsertDailyMember, _upsertDailyAgent;
    private readonly SqliteCommand _begin, _commit, _rollback, _findEvent,
        _insertGrant, _updateGrant, _upsertAccount, _accountVersion,
        _upsertRunRollup, _insertStorage, _insertHold, _resolveHold, _setPlan;

    public DateTime Now { get; private set; }

    public LedgerStore(string connectionString, PlanCatalog plans, CreditView view, IWriterHooks? hooks = null)
    {
        _plans = plans;
        _view = view;
        _hooks = hooks;
        _connection = new SqliteConnection(connectionString);
        _connection.Open();
        Execute(SqliteConnectionSetup.Pragmas);

        _begin = Prepare("BEGIN IMMEDIATE");
        _commit = Prepare("COMMIT");
        _rollback = Prepare("ROLLBACK");
        _insertEvent = new SqliteStatement(_connection, """
            INSERT INTO UsageEvents (OrganizationId, ExternalId, ContentHash, Type, UserId, OccurredAt, Feature, Model,
                InputTokens, KnowledgeTokens, OutputTokens, Capabilities, AgentId, WorkflowId, RunId, HoldId, Minutes, Bytes,
                CreditsMillicredits, RecordedAt)
            VALUES ($org, $ext, $hash, $type, $user, $at, $feature, $model, $in, $kn, $out, $caps, $agent, $workflow, $run,
                $hold, $minutes, $bytes, $credits, $now)
            ON CONFLICT (OrganizationId, ExternalId) DO NOTHING
            """);
        _findEvent = Prepare("SELECT ContentHash, CreditsMillicredits FROM UsageEvents WHERE OrganizationId = $org AND ExternalId = $ext",
            "$org", "$ext");
        const string ledgerInsert = """
            INSERT INTO LedgerEntries (OrganizationId, Kind, AmountMillicredits, BalanceAfterMillicredits, OccurredAt, GrantId,
                UsageEventId, UserId, Description)
            VALUES
            """;
        _insertLedger = new SqliteStatement(_connection, ledgerInsert + LedgerValues);
        _insertLedgerChunk = new SqliteStatement(_connection, ledgerInsert + string.Join(",", Enumerable.Repeat(LedgerValues, LedgerChunk)));
        _insertDraw = new SqliteStatement(_connection,
            "INSERT INTO UsageDraws (UsageEventId, GrantId, AmountMillicredits) VALUES ($event, $grant, $amount)");
        _insertGrant = Prepare("""
            INSERT INTO CreditGrants (OrganizationId, Kind, AmountMillicredits, RemainingMillicredits, StartsAt, ExpiresAt,
                PeriodStart, Reason, CreatedByUserId, CreatedAt)
            VALUES ($org, $kind, $amount, $remaining, $starts, $expires, $period, $reason, $by, $now)
            RETURNING Id
            """, "$org", "$kind", "$amount", "$remaining", "$starts", "$expires", "$period", "$reason", "$by", "$now");
        _updateGrant = Prepare("UPDATE CreditGrants SET RemainingMillicredits = $remaining, ExpiredAt = $expired WHERE Id = $id",
            "$remaining", "$expired", "$id");
        _upsertAccount = Prepare("""
            INSERT INTO CreditAccounts (OrganizationId, BalanceMillicredits, OverdraftMillicredits, CurrentPeriodStart,
                CurrentPeriodEnd, LastClosedPeriodStart, Version, UpdatedAt, RollupTimeZone)
            VALUES ($org, $balance, $overdraft, $start, $end, $closed, $version, $now, $zone)
            ON CONFLICT (OrganizationId) DO UPDATE SET BalanceMillicredits = excluded.BalanceMillicredits,
                OverdraftMillicredits = excluded.OverdraftMillicredits, CurrentPeriodStart = excluded.CurrentPeriodStart,
                CurrentPeriodEnd = excluded.CurrentPeriodEnd, LastClosedPeriodStart = excluded.LastClosedPeriodStart,
                Version = excluded.Version, UpdatedAt = excluded.UpdatedAt, RollupTimeZone = excluded.RollupTimeZone
            """, "$org", "$balance", "$overdraft", "$start", "$end", "$closed", "$version", "$now", "$zone");
        _accountVersion = Prepare("SELECT Version FROM CreditAccounts WHERE OrganizationId = $org", "$org");
        _upsertUsageRollup = new SqliteStatement(_connection, """
            INSERT INTO UsageRollups (OrganizationId, HourStart, UserId, Model, Feature, CreditsMillicredits, Calls,
                InputTokens, KnowledgeTokens, OutputTokens)
            VALUES ($org, $hour, $user, $model, $feature, $credits, $calls, $in, $kn, $out)
            ON CONFLICT (OrganizationId, HourStart, UserId, Model, Feature) DO UPDATE SET
                CreditsMillicredits = CreditsMillicredits + excluded.CreditsMillicredits, Calls = Calls + excluded.Calls,
                InputTokens = InputTokens + excluded.InputTokens, KnowledgeTokens = KnowledgeTokens + excluded.KnowledgeTokens,
                OutputTokens = OutputTokens + excluded.OutputTokens
            """);
        _upsertAgentRollup = new SqliteStatement(_connection, """
            INSERT INTO AgentRollups (OrganizationId, HourStart, UserId, AgentId, WorkflowId, Model, CreditsMillicredits, Calls,
                LightCreditsMillicredits)
            VALUES ($org, $hour, $user, $agent, $workflow, $model, $credits, $calls, $light)
            ON CONFLICT (OrganizationId, HourStart, UserId, AgentId, WorkflowId, Model) DO UPDATE SET
                CreditsMillicredits = CreditsMillicredits + excluded.CreditsMillicredits, Calls = Calls + excluded.Calls,
                LightCreditsMillicredits = LightCreditsMillicredits + excluded.LightCreditsMillicredits
            """);
        _upsertRunRollup = Prepare("""
            INSERT INTO RunRollups (OrganizationId, RunId, UserId, AgentId, WorkflowId, FirstAt, LastAt, CreditsMillicredits, Calls)
            VALUES ($org, $run, $user, $agent, $workflow, $first, $last, $credits, $calls)
            ON CONFLICT (OrganizationId, RunId) DO UPDATE SET
                FirstAt = min(FirstAt, excluded.FirstAt), LastAt = max(LastAt, excluded.LastAt),
                CreditsMillicredits = CreditsMillicredits + excluded.CreditsMillicredits, Calls = Calls + excluded.Calls
            RETURNING Calls, FirstAt, UserId, AgentId, WorkflowId
            """, "$org", "$run", "$user", "$agent", "$workflow", "$first", "$last", "$credits", "$calls");
        _upsertDailyUsage = new SqliteStatement(_connection, """
            INSERT INTO DailyUsageRollups (OrganizationId, Day, UserId, Model, Feature, CreditsMillicredits, Calls,
                InputTokens, KnowledgeTokens, OutputTokens)
            VALUES ($org, $day, $user, $model, $feature, $credits, $calls, $in, $kn, $out)
            ON CONFLICT (OrganizationId, Day, UserId, Model, Feature) DO UPDATE SET
                CreditsMillicredits = CreditsMillicredits + excluded.CreditsMillicredits, Calls = Calls + excluded.Calls,
                InputTokens = InputTokens + excluded.InputTokens, KnowledgeTokens = KnowledgeTokens + excluded.KnowledgeTokens,
                OutputTokens = OutputTokens + excluded.OutputTokens
            """);
        _upsertDailyModel = new SqliteStatement(_connection, """
            INSERT INTO DailyModelRollups (OrganizationId, Day, Model, Feature, CreditsMillicredits, Calls, InputTokens,
                KnowledgeTokens, OutputTokens)
            VALUES ($org, $day, $model, $feature, $credits, $calls, $in, $kn, $out)
            ON CONFLICT (OrganizationId, Day, Model, Feature) DO UPDATE SET
                CreditsMillicredits = CreditsMillicredits + excluded.CreditsMillicredits, Calls = Calls + excluded.Calls,
                InputTokens = InputTokens + excluded.InputTokens, KnowledgeTokens = KnowledgeTokens + excluded.KnowledgeTokens,
                OutputTokens = OutputTokens + excluded.OutputTokens
            """);
        _upsertDailyMember = new SqliteStatement(_connection, """
            INSERT INTO DailyMemberRollups (OrganizationId, Day, UserId, CreditsMillicredits, Calls)
            VALUES ($org, $day, $user, $credits, $calls)
            ON CONFLICT (OrganizationId, Day, UserId) DO UPDATE SET
                CreditsMillicredits = CreditsMillicredits + excluded.CreditsMillicredits, Calls = Calls + excluded.Calls
            """);
        _upsertDailyAgent = new SqliteStatement(_connection, """
            INSERT INTO DailyAgentRollups (OrganizationId, Day, UserId, AgentId, WorkflowId, CreditsMillicredits, Calls,
                LightCreditsMillicredits, Runs, RunCreditsMillicredits)
            VALUES ($org, $day, $user, $agent, $workflow, $credits, $calls, $light, $runs, $runCredits)
            ON CONFLICT (OrganizationId, Day, UserId, AgentId, WorkflowId) DO UPDATE SET
                CreditsMillicredits = CreditsMillicredits + excluded.CreditsMillicredits, Calls = Calls + excluded.Calls,
                LightCreditsMillicredits = LightCreditsMillicredits + excluded.LightCreditsMillicredits,
                Runs = Runs + excluded.Runs, RunCreditsMillicredits = RunCreditsMillicredits + excluded.RunCreditsMillicredits
            """);
        _upsertMeetingRollup = new SqliteStatement(_connection, """
            INSERT INTO MeetingRollups (OrganizationId, HourStart, UserId, Minutes, Meetings)
            VALUES ($org, $hour, $user, $minutes, $meetings)
            ON CONFLICT (OrganizationId, HourStart, UserId) DO UPDATE SET
                Minutes = Minutes + excluded.Minutes, Meetings = Meetings + excluded.Meetings
            """);
        _insertStorage = Prepare("INSERT INTO StorageSnapshots (OrganizationId, OccurredAt, Bytes, UsageEventId) VALUES ($org, $at, $bytes, $event)",
            "$org", "$at", "$bytes", "$event");
        _insertHold = Prepare("""
            INSERT INTO CreditHolds (Id, OrganizationId, UserId, Feature, Model, EstimateMillicredits, CreatedAt, ExpiresAt, Status)
            VALUES ($id, $org, $user, $feature, $model, $estimate, $now, $expires, 'active')
            ON CONFLICT (Id) DO NOTHING
            """, "$id", "$org", "$user", "$feature", "$model", "$estimate", "$now", "$expires");
        _resolveHold = Prepare("UPDATE CreditHolds SET Status = $status, ResolvedAt = $now WHERE Id = $id AND Status = 'active' AND ($org IS NULL OR OrganizationId = $org)",
            "$status", "$now", "$id", "$org");
        _setPlan = Prepare("UPDATE Organizations SET Plan = $plan, ScheduledPlan = NULL WHERE Id = $org", "$plan", "$org");
    }

    // ---- transaction ----------------------------------------------------------------------------------------

    public void Begin(DateTime now)
    {
        _hooks?.At(WriterPoint.Begin);
        Now = now;
        _begin.ExecuteNonQuery();
        _inTransaction = true;
    }

    /// <summary>Writes what the batch accumulated (grants, accounts, rollups), commits, then publishes to the view.</summary>
    internal void Commit(IReadOnlyList<IngestWriter.WriterItem> items)
    {
        Flush();
        _hooks?.At(WriterPoint.BeforeCommit);
        _commit.ExecuteNonQuery();
        _inTransaction = false;
        _hooks?.Committed(items.Select(i => new WriterItemInfo(i.Id, i.Label, i.Caller, i.Result)).ToList(),
            _touched.Select(b => b.OrganizationId).Distinct().ToList());
        _hooks?.At(WriterPoint.AfterCommit);
        foreach (var book in _touched)
        {
            _hooks?.At(WriterPoint.Publish);
            _view.Publish(book, _settledHolds.TryGetValue(book.OrganizationId, out var settled) ? settled : []);
        }
        ResetBatch();
    }

    /// <summary>Rolls back and forgets every book the batch touched: the next use reloads them from the database.</summary>
    public void Rollback()
    {
        if (_inTransaction)
        {
            try { _rollback.ExecuteNonQuery(); } catch (SqliteException) { /* no transaction left to roll back */ }
            _inTransaction = false;
        }
        foreach (var book in _touched) Forget(book.OrganizationId);
        ResetBatch();
    }

    public void Forget(int organizationId)
    {
        if (_books.Remove(organizationId, out var book)) _orgIdsBySlug.Remove(book.Slug);
    }

    private void ResetBatch()
    {
        _ledger.Clear();
        _touched.Clear();
        _checked.Clear();
        _advanced.Clear();
        _membersReloaded.Clear();
        _expired.Clear();
        _settledHolds.Clear();
        _usageRollups.Clear();
        _agentRollups.Clear();
        _runRollups.Clear();
        _meetingRollups.Clear();
        _dailyUsage.Clear();
        _dailyModels.Clear();
        _dailyMembers.Clear();
        _dailyAgents.Clear();
    }

    private void Flush()
    {
        FlushLedger();
        _hooks?.At(WriterPoint.Statement);
        foreach (var grant in _touched.SelectMany(b => b.Grants).Where(g => g.Dirty).Concat(_expired).Distinct())
        {
            Run(_updateGrant, grant.Remaining, grant.ExpiredAt, grant.Id);
            grant.Dirty = false;
        }
        foreach (var book in _touched)
        {
            book.Version++;
            Run(_upsertAccount, book.OrganizationId, book.Balance, book.Overdraft, book.Period.Start, book.Period.End,
                book.LastClosedPeriodStart, book.Version, Now, book.Zone.Id);
        }
        _hooks?.At(WriterPoint.Statement);
        foreach (var r in _usageRollups.Values)
        {
            _upsertUsageRollup.Bind(r.OrganizationId).Bind(r.HourStart).Bind(r.UserId).Bind(r.Model).Bind(r.Feature)
                .Bind(r.CreditsMillicredits).Bind(r.Calls).Bind(r.InputTokens).Bind(r.KnowledgeTokens)
                .Bind(r.OutputTokens).Execute();
            var day = DayOf(r.OrganizationId, r.HourStart);
            Accumulate(_dailyUsage, (r.OrganizationId, day, r.UserId, r.Model, r.Feature),
                () => new DailyUsageRollup { OrganizationId = r.OrganizationId, Day = day, UserId = r.UserId, Model = r.Model, Feature = r.Feature },
                d =>
                {
                    d.CreditsMillicredits += r.CreditsMillicredits; d.Calls += r.Calls;
                    d.InputTokens += r.InputTokens; d.KnowledgeTokens += r.KnowledgeTokens; d.OutputTokens += r.OutputTokens;
                });
            Accumulate(_dailyModels, (r.OrganizationId, day, r.Model, r.Feature),
                () => new DailyModelRollup { OrganizationId = r.OrganizationId, Day = day, Model = r.Model, Feature = r.Feature },
                d =>
                {
                    d.CreditsMillicredits += r.CreditsMillicredits; d.Calls += r.Calls;
                    d.InputTokens += r.InputTokens; d.KnowledgeTokens += r.KnowledgeTokens; d.OutputTokens += r.OutputTokens;
                });
            Accumulate(_dailyMembers, (r.OrganizationId, day, r.UserId),
                () => new DailyMemberRollup { OrganizationId = r.OrganizationId, Day = day, UserId = r.UserId },
                d => { d.CreditsMillicredits += r.CreditsMillicredits; d.Calls += r.Calls; });
        }
        foreach (var r in _agentRollups.Values)
        {
            _upsertAgentRollup.Bind(r.OrganizationId).Bind(r.HourStart).Bind(r.UserId).Bind(r.AgentId).Bind(r.WorkflowId)
                .Bind(r.Model).Bind(r.CreditsMillicredits).Bind(r.Calls).Bind(r.LightCreditsMillicredits).Execute();
            DailyAgent(r.OrganizationId, DayOf(r.OrganizationId, r.HourStart), r.UserId, r.AgentId, r.WorkflowId,
                d => { d.CreditsMillicredits += r.CreditsMillicredits; d.Calls += r.Calls; d.LightCreditsMillicredits += r.LightCreditsMillicredits; });
        }
        foreach (var r in _runRollups.Values)
        {
            // A run counts on the day it started, with all its credits (as the hourly reading of RunRollups counts it).
            // Its stored first event, member and agent decide, so later events of the run add to that same day's row.
            using var run = Reader(_upsertRunRollup, r.OrganizationId, r.RunId, r.UserId, r.AgentId, r.WorkflowId, r.FirstAt, r.LastAt,
                r.CreditsMillicredits, r.Calls);
            run.Read();
            var isNew = run.GetInt64(0) == r.Calls;
            DailyAgent(r.OrganizationId, DayOf(r.OrganizationId, Hour(Utc(run.GetDateTime(1)))), run.GetString(2), run.GetString(3),
                run.GetString(4), d => { d.Runs += isNew ? 1 : 0; d.RunCreditsMillicredits += r.CreditsMillicredits; });
        }
        foreach (var r in _meetingRollups.Values)
            _upsertMeetingRollup.Bind(r.OrganizationId).Bind(r.HourStart).Bind(r.UserId).Bind(r.Minutes)
                .Bind(r.Meetings).Execute();
        foreach (var d in _dailyUsage.Values)
            _upsertDailyUsage.Bind(d.OrganizationId).Bind(d.Day).Bind(d.UserId).Bind(d.Model).Bind(d.Feature)
                .Bind(d.CreditsMillicredits).Bind(d.Calls).Bind(d.InputTokens).Bind(d.KnowledgeTokens)
                .Bind(d.OutputTokens).Execute();
        foreach (var d in _dailyModels.Values)
            _upsertDailyModel.Bind(d.OrganizationId).Bind(d.Day).Bind(d.Model).Bind(d.Feature).Bind(d.CreditsMillicredits)
                .Bind(d.Calls).Bind(d.InputTokens).Bind(d.KnowledgeTokens).Bind(d.OutputTokens).Execute();
        foreach (var d in _dailyMembers.Values)
            _upsertDailyMember.Bind(d.OrganizationId).Bind(d.Day).Bind(d.UserId).Bind(d.CreditsMillicredits)
                .Bind(d.Calls).Execute();
        foreach (var d in _dailyAgents.Values)
            _upsertDailyAgent.Bind(d.OrganizationId).Bind(d.Day).Bind(d.UserId).Bind(d.AgentId).Bind(d.WorkflowId)
                .Bind(d.CreditsMillicredits).Bind(d.Calls).Bind(d.LightCreditsMillicredits).Bind(d.Runs)
                .Bind(d.RunCreditsMillicredits).Execute();
    }

    private DateOnly DayOf(int organizationId, DateTime hourStart) =>
        LocalDays.Of(hourStart, _books.TryGetValue(organizationId, out var book) ? book.Zone : TimeZoneInfo.Utc);

    private void DailyAgent(int organizationId, DateOnly day, string userId, string agentId, string workflowId, Action<DailyAgentRollup> add) =>
        Accumulate(_dailyAgents, (organizationId, day, userId, agentId, workflowId),
            () => new DailyAgentRollup { OrganizationId = organizationId, Day = day, UserId = userId, AgentId = agentId, WorkflowId = workflowId },
            add);

    // ---- books ------------------------------------------------------------------------------------------------

    /// <summary>The organization's book, loaded (and its account opened) when needed, with due periods closed.</summary>
    public CreditBook? Book(string slug)
    {
        if (!_orgIdsBySlug.TryGetValue(slug, out var id))
        {
            var found = Scalar("SELECT Id FROM Organizations WHERE Slug = $slug", ("$slug", slug));
            if (found is null) return null;
            id = Convert.ToInt32(found);
        }
        return Book(id);
    }

    public CreditBook? Book(int organizationId)
    {
        if (_books.TryGetValue(organizationId, out var book) && _checked.Add(organizationId))
        {
            // Another writer (a second portal instance, a test) may have moved the account: re-read if so.
            var version = Run(_accountVersion, organizationId) is { } v and not DBNull ? Convert.ToInt64(v) : -1;
            if (version != book.Version)
            {
                Forget(organizationId);
                book = null;
            }
        }
        else if (book is null)
        {
            _checked.Add(organizationId);
        }
        book ??= Load(organizationId);
        if (book is null) return null;
        _touched.Add(book);
        if (_advanced.Add(organizationId)) Advance(book);
        return book;
    }

    /// <summary>Loads the book (opening the account with its first allowance if it has none) without closing periods.</summary>
    public CreditBook? Open(int organizationId)
    {
        if (_books.TryGetValue(organizationId, out var cached)) return cached;
        _checked.Add(organizationId);
        return Load(organizationId);
    }

    private CreditBook? Load(int organizationId)
    {
        FlushLedger(); // the book's usage this period is read from the ledger
        CreditBook book;
        using (var reader = Reader("""
            SELECT Slug, Plan, BillingAnchor, EnterpriseMonthlyCredits, RolloverCapPercent, DefaultMemberCapMillicredits, ScheduledPlan,
                TimeZone
            FROM Organizations WHERE Id = $org
            """, ("$org", organizationId)))
        {
            if (!reader.Read()) return null;
            book = new CreditBook
            {
                OrganizationId = organizationId,
                Slug = reader.GetString(0),
                Plan = reader.GetString(1),
                Anchor = Utc(reader.GetDateTime(2)),
                EnterpriseMonthlyCredits = reader.IsDBNull(3) ? null : reader.GetInt64(3),
                RolloverCapPercent = reader.IsDBNull(4) ? null : reader.GetInt32(4),
                DefaultCapMillicredits = reader.IsDBNull(5) ? null : reader.GetInt64(5),
                ScheduledPlan = reader.IsDBNull(6) ? null : reader.GetString(6),
                Zone = TimeZoneInfo.TryFindSystemTimeZoneById(reader.GetString(7), out var zone) ? zone : TimeZoneInfo.Utc,
            };
        }
        LoadMembers(book);

        var opened = false;
        string? rollupZone = null;
        using (var reader = Reader("""
            SELECT BalanceMillicredits, OverdraftMillicredits, CurrentPeriodStart, LastClosedPeriodStart, Version, RollupTimeZone
            FROM CreditAccounts WHERE OrganizationId = $org
            """, ("$org", organizationId)))
        {
            if (reader.Read())
            {
                opened = true;
                book.Balance = reader.GetInt64(0);
                book.Overdraft = reader.GetInt64(1);
                book.Period = BillingPeriods.Starting(book.Anchor, Utc(reader.GetDateTime(2)));
                book.LastClosedPeriodStart = reader.IsDBNull(3) ? null : Utc(reader.GetDateTime(3));
                book.Version = reader.GetInt64(4);
                rollupZone = reader.IsDBNull(5) ? null : reader.GetString(5);
            }
        }
        _books[organizationId] = book;
        _orgIdsBySlug[book.Slug] = organizationId;
        _touched.Add(book);
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
        if (rollupZone != book.Zone.Id) RebuildDailyRollups(book.OrganizationId, book.Zone);
        using (var reader = Reader("""
            SELECT Id, Kind, AmountMillicredits, RemainingMillicredits, StartsAt, ExpiresAt, PeriodStart
            FROM CreditGrants WHERE OrganizationId = $org AND ExpiredAt IS NULL AND RemainingMillicredits > 0
            """, ("$org", organizationId)))
        {
            while (reader.Read())
                book.AddGrant(new GrantState
                {
                    Id = reader.GetInt64(0),
                    Kind = reader.GetString(1),
                    Amount = reader.GetInt64(2),
                    Remaining = reader.GetInt64(3),
                    StartsAt = Utc(reader.GetDateTime(4)),
                    ExpiresAt = reader.IsDBNull(5) ? null : Utc(reader.GetDateTime(5)),
                    PeriodStart = reader.IsDBNull(6) ? null : Utc(reader.GetDateTime(6)),
                });
        }
        using (var reader = Reader("""
            SELECT UserId, -SUM(AmountMillicredits) FROM LedgerEntries
            WHERE OrganizationId = $org AND Kind = 'usage' AND OccurredAt >= $start GROUP BY UserId
            """, ("$org", organizationId), ("$start", book.Period.Start)))
        {
            while (reader.Read()) book.AddUsage(reader.IsDBNull(0) ? null : reader.GetString(0), reader.GetInt64(1));
        }
        using (var reader = Reader("""
            SELECT Id, UserId, EstimateMillicredits, ExpiresAt FROM CreditHolds
            WHERE OrganizationId = $org AND Status = 'active' AND ExpiresAt > $now
            """, ("$org", organizationId), ("$now", Now)))
        {
            while (reader.Read())
                book.LoadedHolds.Add(new CreditHold
                {
                    Id = reader.GetString(0), OrganizationId = organizationId, UserId = reader.GetString(1),
                    EstimateMillicredits = reader.GetInt64(2), ExpiresAt = Utc(reader.GetDateTime(3)),
                });
        }
        return book;
    }

    private void LoadMembers(CreditBook book)
    {
        var members = new List<MemberInfo>();
        using var reader = Reader("""
            SELECT m.UserId, u.NormalizedEmail, m.CapMode, m.CapMillicredits
            FROM Memberships m JOIN AspNetUsers u ON u.Id = m.UserId
            WHERE m.OrganizationId = $org AND u.NormalizedEmail IS NOT NULL
            """, ("$org", book.OrganizationId));
        while (reader.Read())
        {
            var mode = Enum.Parse<MemberCapMode>(reader.GetString(2));
            long? cap = mode switch
            {
                MemberCapMode.Custom => reader.IsDBNull(3) ? null : reader.GetInt64(3),
                MemberCapMode.Unlimited => null,
                _ => book.DefaultCapMillicredits,
            };
            members.Add(new MemberInfo(reader.GetString(0), reader.GetString(1), cap));
        }
        book.SetMembers(members);
    }

    public MemberInfo? Member(CreditBook book, string normalizedEmail)
    {
        if (book.MembersByEmail.TryGetValue(normalizedEmail, out var member)) return member;
        // Someone may have joined since the book was loaded: look once per batch before refusing.
        if (!_membersReloaded.Add(book.OrganizationId)) return null;
        LoadMembers(book);
        return book.MembersByEmail.GetValueOrDefault(normalizedEmail);
    }

    private long AllowanceOf(CreditBook book) => _plans.MonthlyAllowanceMillicredits(book.Plan, book.EnterpriseMonthlyCredits);

    // ---- periods and grants -----------------------------------------------------------------------------------

    /// <summary>Closes every period that ended by <see cref="Now"/>, month by month, and expires grants whose time passed.</summary>
    public void Advance(CreditBook book)
    {
        while (book.Period.End <= Now)
        {
            ExpireGrants(book, g => g < book.Period.End);
            ClosePeriod(book);
        }
        ExpireGrants(book, g => g <= Now);
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
    /// SPEC §3.3: what is left of the allowance expires; on an Enterprise agreement with rollover up to the cap
    /// carries over; the new period's allowance is granted (paying any overdraft first). The allowance's unique
    /// (organization, period start) index makes a second close of the same period fail instead of granting twice.
    /// </summary>
    private void ClosePeriod(CreditBook book)
    {
        var closing = book.Period;
        var left = book.Grants.Where(g => g.Kind == GrantKinds.MonthlyAllowance && g.PeriodStart == closing.Start).Sum(g => g.Remaining);
        var closingAllowance = book.Allowance;
        ExpireGrants(book, g => g <= closing.End);

        if (book.ScheduledPlan is { } scheduled && _plans.Find(scheduled) is not null)
        {
            book.Plan = scheduled;
            book.ScheduledPlan = null;
            Run(_setPlan, scheduled, book.OrganizationId);
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

    /// <summary>Moves the organization to another plan now (an upgrade): the allowance shown from here on is the new
    /// plan's, and any scheduled downgrade is dropped.</summary>
    public void ChangePlanNow(CreditBook book, string plan)
    {
        book.Plan = plan;
        book.ScheduledPlan = null;
        book.Allowance = AllowanceOf(book);
        Run(_setPlan, plan, book.OrganizationId);
    }

    /// <summary>Adds a grant (positive) or a negative adjustment, with its ledger entry. Returns the grant's id.</summary>
    public long AddGrant(CreditBook book, string kind, long amount, DateTime startsAt, DateTime? expiresAt, DateTime? periodStart,
        string? reason, string? createdBy, string ledgerKind, DateTime at)
    {
        if (amount >= 0)
        {
            var remaining = amount - Math.Min(book.Overdraft, amount);
            var id = Convert.ToInt64(Run(_insertGrant, book.OrganizationId, kind, amount, remaining, startsAt, expiresAt, periodStart,
                reason, createdBy, Now));
            _hooks?.At(WriterPoint.Statement);
            book.Credit(new GrantState
            {
                Id = id, Kind = kind, Amount = amount, StartsAt = startsAt, ExpiresAt = expiresAt, PeriodStart = periodStart,
            });
            Ledger(book, ledgerKind, amount, at, id, null, createdBy, reason);
            return id;
        }
        // A negative adjustment takes credits away like usage does (soonest-expiring first, then overdraft).
        var adjustmentId = Convert.ToInt64(Run(_insertGrant, book.OrganizationId, kind, amount, 0L, startsAt, expiresAt, periodStart,
            reason, createdBy, Now));
        book.Debit(-amount, Now);
        Ledger(book, ledgerKind, amount, at, adjustmentId, null, createdBy, reason);
        return adjustmentId;
    }

    /// <summary>A ledger entry waiting for the batch's flush, in the order the movements happened.</summary>
    private readonly record struct LedgerRow(int OrganizationId, string Kind, long Amount, long BalanceAfter, DateTime At, long? GrantId,
        long? EventId, string? UserId, string? Description);

    private const string LedgerValues = "(?, ?, ?, ?, ?, ?, ?, ?, ?)";
    private const int LedgerChunk = 32;
    private readonly List<LedgerRow> _ledger = [];

    private void Ledger(CreditBook book, string kind, long amount, DateTime at, long? grantId, long? eventId, string? userId, string? description) =>
        _ledger.Add(new LedgerRow(book.OrganizationId, kind, amount, book.Balance, at, grantId, eventId, userId, description));

    /// <summary>
    /// Writes the buffered ledger entries in order, <see cref="LedgerChunk"/> rows per statement: one statement per
    /// entry cost the writer more in statement overhead than in SQLite's row work. Ids keep the order of the movements.
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
        if (e.NormalizedUser is { } email && (member = Member(book, email)) is null) failure = UsageErrors.UnknownMember;
        if (failure is null && !e.Price.Ok) failure = e.Price.Error;

        long? eventId = null;
        if (failure is null)
        {
            var credits = e.Price.Millicredits;
            eventId = _insertEvent.Bind(book.OrganizationId).Bind(e.Id).Bind(e.ContentHash).Bind(e.Type).Bind(member?.UserId)
                .Bind(e.OccurredAt).Bind(e.Feature).Bind(e.Model).Bind(e.InputTokens).Bind(e.KnowledgeTokens).Bind(e.OutputTokens)
                .Bind(e.Capabilities.Count == 0 ? null : string.Join(',', e.Capabilities)).Bind(e.AgentId).Bind(e.WorkflowId)
                .Bind(e.RunId).Bind(e.HoldId).Bind(e.Minutes).Bind(e.Bytes).Bind(credits).Bind(Now).ExecuteInsert();
        }
        _hooks?.At(WriterPoint.Statement);
        if (eventId is null)
        {
            using var reader = Reader(_findEvent, book.OrganizationId, e.Id);
            if (!reader.Read()) return UsageResult.Rejected(e.Id, failure ?? UsageErrors.Conflict);
            var hash = (byte[])reader.GetValue(0);
            return hash.AsSpan().SequenceEqual(e.ContentHash)
                ? new UsageResult(e.Id, UsageStatuses.Duplicate, reader.GetInt64(1), null)
                : UsageResult.Rejected(e.Id, UsageErrors.Conflict);
        }

        switch (e.Type)
        {
            case UsageTypes.ModelCall:
                Charge(book, e, member!, eventId.Value);
                break;
            case UsageTypes.Meeting:
                Accumulate(_meetingRollups, (book.OrganizationId, Hour(e.OccurredAt), member!.UserId),
                    () => new MeetingRollup { OrganizationId = book.OrganizationId, HourStart = Hour(e.OccurredAt), UserId = member.UserId },
                    r => { r.Minutes += e.Minutes!.Value; r.Meetings++; });
                break;
            default:
                Run(_insertStorage, book.OrganizationId, e.OccurredAt, e.Bytes!.Value, eventId.Value);
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

        var hour = Hour(e.OccurredAt);
        var org = book.OrganizationId;
        Accumulate(_usageRollups, (org, hour, member.UserId, e.Model!, e.Feature!),
            () => new UsageRollup { OrganizationId = org, HourStart = hour, UserId = member.UserId, Model = e.Model!, Feature = e.Feature! },
            r =>
            {
                r.CreditsMillicredits += credits; r.Calls++;
                r.InputTokens += e.InputTokens; r.KnowledgeTokens += e.KnowledgeTokens; r.OutputTokens += e.OutputTokens;
            });
        if (e.AgentId is not null || e.WorkflowId is not null)
            Accumulate(_agentRollups, (org, hour, member.UserId, e.AgentId ?? "", e.WorkflowId ?? "", e.Model!),
                () => new AgentRollup { OrganizationId = org, HourStart = hour, UserId = member.UserId, AgentId = e.AgentId ?? "", WorkflowId = e.WorkflowId ?? "", Model = e.Model! },
                r => { r.CreditsMillicredits += credits; r.Calls++; r.LightCreditsMillicredits += e.Price.OnLighterModel; });
        if (e.RunId is not null)
            Accumulate(_runRollups, (org, e.RunId),
                () => new RunRollup { OrganizationId = org, RunId = e.RunId, UserId = member.UserId, AgentId = e.AgentId ?? "", WorkflowId = e.WorkflowId ?? "", FirstAt = e.OccurredAt, LastAt = e.OccurredAt },
                r =>
                {
                    r.CreditsMillicredits += credits; r.Calls++;
                    if (e.OccurredAt < r.FirstAt) r.FirstAt = e.OccurredAt;
                    if (e.OccurredAt > r.LastAt) r.LastAt = e.OccurredAt;
                });
        if (e.HoldId is { } holdId)
        {
            Run(_resolveHold, HoldStatuses.Settled, Now, holdId, org);
            if (!_settledHolds.TryGetValue(org, out var settled)) _settledHolds[org] = settled = [];
            settled.Add(holdId);
        }
    }

    private static void Accumulate<TKey, TRollup>(Dictionary<TKey, TRollup> rollups, TKey key, Func<TRollup> create, Action<TRollup> add)
        where TKey : notnull
    {
        if (!rollups.TryGetValue(key, out var rollup)) rollups[key] = rollup = create();
        add(rollup);
    }

    private static DateTime Hour(DateTime instant) =>
        new(instant.Ticks - instant.Ticks % TimeSpan.TicksPerHour, DateTimeKind.Utc);

    /// <summary>
    /// Re-derives an organization's daily rollups from its hourly ones, keyed by the local days of <paramref name="zone"/>
    /// (each hour mapped on its own, as <see cref="LocalDays.Of"/> does): run when the time zone changes, in the writer's
    /// transaction, so readers see the old days or the new ones, never a mix. Bulk SQL: seconds for millions of hours.
    /// </summary>
    private void RebuildDailyRollups(int organizationId, TimeZoneInfo zone)
    {
        var org = ("$org", (object?)organizationId);
        Execute("DELETE FROM DailyUsageRollups WHERE OrganizationId = $org", org);
        Execute("DELETE FROM DailyModelRollups WHERE OrganizationId = $org", org);
        Execute("DELETE FROM DailyMemberRollups WHERE OrganizationId = $org", org);
        Execute("DELETE FROM DailyAgentRollups WHERE OrganizationId = $org", org);
        Execute("CREATE TEMP TABLE IF NOT EXISTS RollupDays (HourStart TEXT PRIMARY KEY, Day TEXT NOT NULL)");
        Execute("DELETE FROM temp.RollupDays");

        var hours = new List<string>();
        using (var reader = Reader("""
            SELECT HourStart FROM UsageRollups WHERE OrganizationId = $org
            UNION SELECT HourStart FROM AgentRollups WHERE OrganizationId = $org
            UNION SELECT strftime('%Y-%m-%d %H:00:00', FirstAt) FROM RunRollups WHERE OrganizationId = $org
            """, org))
            while (reader.Read()) hours.Add(reader.GetString(0));
        using (var insert = Prepare("INSERT INTO temp.RollupDays (HourStart, Day) VALUES ($hour, $day)", "$hour", "$day"))
            foreach (var hour in hours)
            {
                var utc = DateTime.Parse(hour, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
                RunNonQuery(insert, hour, LocalDays.Of(utc, zone));
            }

        Execute("""
            INSERT INTO DailyUsageRollups (OrganizationId, Day, UserId, Model, Feature, CreditsMillicredits, Calls, InputTokens,
                KnowledgeTokens, OutputTokens)
            SELECT r.OrganizationId, d.Day, r.UserId, r.Model, r.Feature, SUM(r.CreditsMillicredits), SUM(r.Calls), SUM(r.InputTokens),
                SUM(r.KnowledgeTokens), SUM(r.OutputTokens)
            FROM UsageRollups r JOIN temp.RollupDays d ON d.HourStart = r.HourStart
            WHERE r.OrganizationId = $org GROUP BY d.Day, r.UserId, r.Model, r.Feature
            """, org);
        Execute("""
            INSERT INTO DailyModelRollups (OrganizationId, Day, Model, Feature, CreditsMillicredits, Calls, InputTokens,
                KnowledgeTokens, OutputTokens)
            SELECT OrganizationId, Day, Model, Feature, SUM(CreditsMillicredits), SUM(Calls), SUM(InputTokens), SUM(KnowledgeTokens),
                SUM(OutputTokens)
            FROM DailyUsageRollups WHERE OrganizationId = $org GROUP BY Day, Model, Feature
            """, org);
        Execute("""
            INSERT INTO DailyMemberRollups (OrganizationId, Day, UserId, CreditsMillicredits, Calls)
            SELECT OrganizationId, Day, UserId, SUM(CreditsMillicredits), SUM(Calls)
            FROM DailyUsageRollups WHERE OrganizationId = $org GROUP BY Day, UserId
            """, org);
        Execute("""
            INSERT INTO DailyAgentRollups (OrganizationId, Day, UserId, AgentId, WorkflowId, CreditsMillicredits, Calls,
                LightCreditsMillicredits, Runs, RunCreditsMillicredits)
            SELECT r.OrganizationId, d.Day, r.UserId, r.AgentId, r.WorkflowId, SUM(r.CreditsMillicredits), SUM(r.Calls),
                SUM(r.LightCreditsMillicredits), 0, 0
            FROM AgentRollups r JOIN temp.RollupDays d ON d.HourStart = r.HourStart
            WHERE r.OrganizationId = $org GROUP BY d.Day, r.UserId, r.AgentId, r.WorkflowId
            """, org);
        Execute("""
            INSERT INTO DailyAgentRollups (OrganizationId, Day, UserId, AgentId, WorkflowId, CreditsMillicredits, Calls,
                LightCreditsMillicredits, Runs, RunCreditsMillicredits)
            SELECT r.OrganizationId, d.Day, r.UserId, r.AgentId, r.WorkflowId, 0, 0, 0, COUNT(*), SUM(r.CreditsMillicredits)
            FROM RunRollups r JOIN temp.RollupDays d ON d.HourStart = strftime('%Y-%m-%d %H:00:00', r.FirstAt)
            WHERE r.OrganizationId = $org GROUP BY d.Day, r.UserId, r.AgentId, r.WorkflowId
            ON CONFLICT (OrganizationId, Day, UserId, AgentId, WorkflowId) DO UPDATE SET
                Runs = Runs + excluded.Runs, RunCreditsMillicredits = RunCreditsMillicredits + excluded.RunCreditsMillicredits
            """, org);
        Execute("DELETE FROM temp.RollupDays");
    }

    // ---- holds and plans ---------------------------------------------------------------------------------------

    public void InsertHold(HoldView hold, string feature, string? model) =>
        Run(_insertHold, hold.Id, hold.OrganizationId, hold.UserId, feature, model, hold.Millicredits, Now, hold.ExpiresAt);

    public bool ResolveHold(string holdId, string status, int? organizationId) =>
        Convert.ToInt32(RunNonQuery(_resolveHold, status, Now, holdId, organizationId)) > 0;

    /// <summary>Organizations with a period or a grant due to close by now (for the background closer).</summary>
    public List<int> DueOrganizations()
    {
        var ids = new List<int>();
        using var reader = Reader("""
            SELECT o.Id FROM Organizations o LEFT JOIN CreditAccounts a ON a.OrganizationId = o.Id
            WHERE a.OrganizationId IS NULL OR a.CurrentPeriodEnd <= $now
            UNION
            SELECT DISTINCT OrganizationId FROM CreditGrants
            WHERE ExpiredAt IS NULL AND RemainingMillicredits > 0 AND ExpiresAt <= $now
            """, ("$now", Now));
        while (reader.Read()) ids.Add(reader.GetInt32(0));
        return ids;
    }

    // ---- ADO.NET plumbing ---------------------------------------------------------------------------------------

    private SqliteCommand Prepare(string sql, params string[] parameters)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        foreach (var name in parameters) command.Parameters.Add(new SqliteParameter { ParameterName = name });
        command.Prepare();
        return command;
    }

    private static void Bind(SqliteCommand command, object?[] values)
    {
        for (var i = 0; i < values.Length; i++) command.Parameters[i].Value = values[i] ?? DBNull.Value;
    }

    private static object? Run(SqliteCommand command, params object?[] values)
    {
        Bind(command, values);
        return command.ExecuteScalar();
    }

    private static int RunNonQuery(SqliteCommand command, params object?[] values)
    {
        Bind(command, values);
        return command.ExecuteNonQuery();
    }

    private static SqliteDataReader Reader(SqliteCommand command, params object?[] values)
    {
        Bind(command, values);
        return command.ExecuteReader();
    }

    /// <summary>A statement used now and then (loading a book): prepared on first use, then reused.</summary>
    private SqliteCommand Adhoc(string sql, (string Name, object? Value)[] parameters)
    {
        if (!_adhoc.TryGetValue(sql, out var command))
            _adhoc[sql] = command = Prepare(sql, parameters.Select(p => p.Name).ToArray());
        Bind(command, parameters.Select(p => p.Value).ToArray());
        return command;
    }

    private SqliteDataReader Reader(string sql, params (string Name, object? Value)[] parameters) =>
        Adhoc(sql, parameters).ExecuteReader();

    private object? Scalar(string sql, params (string Name, object? Value)[] parameters) =>
        Adhoc(sql, parameters).ExecuteScalar();

    private void Execute(string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.CommandTimeout = 0;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        command.ExecuteNonQuery();
    }

    private static DateTime Utc(DateTime value) => DateTime.SpecifyKind(value, DateTimeKind.Utc);

    public void Dispose()
    {
        if (_inTransaction) Rollback();
        foreach (var command in _adhoc.Values) command.Dispose();
        foreach (var statement in new[] { _insertEvent, _insertLedger, _insertLedgerChunk, _insertDraw, _upsertUsageRollup, _upsertAgentRollup,
                     _upsertMeetingRollup, _upsertDailyUsage, _upsertDailyModel, _upsertDailyMember, _upsertDailyAgent })
            statement.Dispose();
        _connection.Dispose();
    }
}
