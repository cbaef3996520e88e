using Cassidy.Portal.Data;
using Microsoft.Data.Sqlite;

namespace Cassidy.Portal.Ledger;

/// <summary>
/// The writer's rollups (SPEC §6 "dashboards read pre-aggregated rollups"): what each recorded call adds to the hourly
/// buckets (per member × model × feature, per agent or workflow, per run) and, from them, to the organization's local
/// days — accumulated in memory during a transaction and upserted once at its end, in the same transaction as the
/// ledger. LEDGER.md: rollups = ledger, checked by the simulation and by <see cref="CreditLedger.CheckAsync"/>.
/// Used only by <see cref="LedgerStore"/>, on the writer's thread.
/// </summary>
internal sealed class RollupWriter : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly Dictionary<(int, DateTime, string, string, string), UsageRollup> _usage = new();
    private readonly Dictionary<(int, DateTime, string, string, string, string), AgentRollup> _agents = new();
    private readonly Dictionary<(int, string), RunRollup> _runs = new();
    private readonly Dictionary<(int, DateTime, string), MeetingRollup> _meetings = new();
    private readonly Dictionary<(int, DateOnly, string, string, string), DailyUsageRollup> _dailyUsage = new();
    private readonly Dictionary<(int, DateOnly, string, string), DailyModelRollup> _dailyModels = new();
    private readonly Dictionary<(int, DateOnly, string), DailyMemberRollup> _dailyMembers = new();
    private readonly Dictionary<(int, DateOnly, string, string, string), DailyAgentRollup> _dailyAgents = new();

    // How a row adds what a transaction (or a rebuild step) brings to it: every upsert of the rollups sums the same way.
    private const string TokenSums = """
        CreditsMillicredits = CreditsMillicredits + excluded.CreditsMillicredits, Calls = Calls + excluded.Calls,
        InputTokens = InputTokens + excluded.InputTokens, KnowledgeTokens = KnowledgeTokens + excluded.KnowledgeTokens,
        OutputTokens = OutputTokens + excluded.OutputTokens, LightCreditsMillicredits = LightCreditsMillicredits + excluded.LightCreditsMillicredits
        """;
    private const string AgentSums = """
        CreditsMillicredits = CreditsMillicredits + excluded.CreditsMillicredits, Calls = Calls + excluded.Calls,
        LightCreditsMillicredits = LightCreditsMillicredits + excluded.LightCreditsMillicredits
        """;

    private readonly SqliteStatement _upsertUsage, _upsertAgent, _upsertRun, _upsertMeeting, _upsertDailyUsage, _upsertDailyModel,
        _upsertDailyMember, _upsertDailyAgent;

    public RollupWriter(SqliteConnection connection)
    {
        _connection = connection;
        _upsertUsage = new SqliteStatement(connection, $"""
            INSERT INTO UsageRollups (OrganizationId, HourStart, UserId, Model, Feature, CreditsMillicredits, Calls,
                InputTokens, KnowledgeTokens, OutputTokens, LightCreditsMillicredits)
            VALUES ($org, $hour, $user, $model, $feature, $credits, $calls, $in, $kn, $out, $light)
            ON CONFLICT (OrganizationId, HourStart, UserId, Model, Feature) DO UPDATE SET
                {TokenSums}
            """);
        _upsertAgent = new SqliteStatement(connection, $"""
            INSERT INTO AgentRollups (OrganizationId, HourStart, UserId, AgentId, WorkflowId, Model, CreditsMillicredits, Calls,
                LightCreditsMillicredits)
            VALUES ($org, $hour, $user, $agent, $workflow, $model, $credits, $calls, $light)
            ON CONFLICT (OrganizationId, HourStart, UserId, AgentId, WorkflowId, Model) DO UPDATE SET
                {AgentSums}
            """);
        _upsertRun = new SqliteStatement(connection, """
            INSERT INTO RunRollups (OrganizationId, RunId, UserId, AgentId, WorkflowId, FirstAt, LastAt, CreditsMillicredits, Calls)
            VALUES ($org, $run, $user, $agent, $workflow, $first, $last, $credits, $calls)
            ON CONFLICT (OrganizationId, RunId) DO UPDATE SET
                FirstAt = min(FirstAt, excluded.FirstAt), LastAt = max(LastAt, excluded.LastAt),
                CreditsMillicredits = CreditsMillicredits + excluded.CreditsMillicredits, Calls = Calls + excluded.Calls
            RETURNING Calls, FirstAt, UserId, AgentId, WorkflowId
            """);
        _upsertMeeting = new SqliteStatement(connection, """
            INSERT INTO MeetingRollups (OrganizationId, HourStart, UserId, Minutes, Meetings)
            VALUES ($org, $hour, $user, $minutes, $meetings)
            ON CONFLICT (OrganizationId, HourStart, UserId) DO UPDATE SET
                Minutes = Minutes + excluded.Minutes, Meetings = Meetings + excluded.Meetings
            """);
        _upsertDailyUsage = new SqliteStatement(connection, $"""
            INSERT INTO DailyUsageRollups (OrganizationId, Day, UserId, Model, Feature, CreditsMillicredits, Calls,
                InputTokens, KnowledgeTokens, OutputTokens, LightCreditsMillicredits)
            VALUES ($org, $day, $user, $model, $feature, $credits, $calls, $in, $kn, $out, $light)
            ON CONFLICT (OrganizationId, Day, UserId, Model, Feature) DO UPDATE SET
                {TokenSums}
            """);
        _upsertDailyModel = new SqliteStatement(connection, $"""
            INSERT INTO DailyModelRollups (OrganizationId, Day, Model, Feature, CreditsMillicredits, Calls, InputTokens,
                KnowledgeTokens, OutputTokens, LightCreditsMillicredits)
            VALUES ($org, $day, $model, $feature, $credits, $calls, $in, $kn, $out, $light)
            ON CONFLICT (OrganizationId, Day, Model, Feature) DO UPDATE SET
                {TokenSums}
            """);
        _upsertDailyMember = new SqliteStatement(connection, """
            INSERT INTO DailyMemberRollups (OrganizationId, Day, UserId, CreditsMillicredits, Calls)
            VALUES ($org, $day, $user, $credits, $calls)
            ON CONFLICT (OrganizationId, Day, UserId) DO UPDATE SET
                CreditsMillicredits = CreditsMillicredits + excluded.CreditsMillicredits, Calls = Calls + excluded.Calls
            """);
        _upsertDailyAgent = new SqliteStatement(connection, $"""
            INSERT INTO DailyAgentRollups (OrganizationId, Day, UserId, AgentId, WorkflowId, CreditsMillicredits, Calls,
                LightCreditsMillicredits, Runs, RunCreditsMillicredits)
            VALUES ($org, $day, $user, $agent, $workflow, $credits, $calls, $light, $runs, $runCredits)
            ON CONFLICT (OrganizationId, Day, UserId, AgentId, WorkflowId) DO UPDATE SET
                {AgentSums},
                Runs = Runs + excluded.Runs, RunCreditsMillicredits = RunCreditsMillicredits + excluded.RunCreditsMillicredits
            """);
    }

    /// <summary>A recorded model call: its hour per member, model and feature; its agent or workflow; its run.</summary>
    public void AddCall(int org, PreparedUsage e, string userId, long credits)
    {
        var hour = LocalDays.FloorHour(e.OccurredAt);
        Accumulate(_usage, (org, hour, userId, e.Model!, e.Feature!),
            () => new UsageRollup { OrganizationId = org, HourStart = hour, UserId = userId, Model = e.Model!, Feature = e.Feature! },
            r =>
            {
                r.CreditsMillicredits += credits; r.Calls++; r.LightCreditsMillicredits += e.Price.OnLighterModel;
                r.InputTokens += e.InputTokens; r.KnowledgeTokens += e.KnowledgeTokens; r.OutputTokens += e.OutputTokens;
            });
        if (e.AgentId is not null || e.WorkflowId is not null)
            Accumulate(_agents, (org, hour, userId, e.AgentId ?? "", e.WorkflowId ?? "", e.Model!),
                () => new AgentRollup { OrganizationId = org, HourStart = hour, UserId = userId, AgentId = e.AgentId ?? "", WorkflowId = e.WorkflowId ?? "", Model = e.Model! },
                r => { r.CreditsMillicredits += credits; r.Calls++; r.LightCreditsMillicredits += e.Price.OnLighterModel; });
        if (e.RunId is not null)
            Accumulate(_runs, (org, e.RunId),
                () => new RunRollup { OrganizationId = org, RunId = e.RunId, UserId = userId, AgentId = e.AgentId ?? "", WorkflowId = e.WorkflowId ?? "", FirstAt = e.OccurredAt, LastAt = e.OccurredAt },
                r =>
                {
                    r.CreditsMillicredits += credits; r.Calls++;
                    if (e.OccurredAt < r.FirstAt) r.FirstAt = e.OccurredAt;
                    if (e.OccurredAt > r.LastAt) r.LastAt = e.OccurredAt;
                });
    }

    public void AddMeeting(int org, DateTime occurredAt, string userId, double minutes)
    {
        var hour = LocalDays.FloorHour(occurredAt);
        Accumulate(_meetings, (org, hour, userId), () => new MeetingRollup { OrganizationId = org, HourStart = hour, UserId = userId },
            r => { r.Minutes += minutes; r.Meetings++; });
    }

    /// <summary>
    /// Upserts what the transaction accumulated. <paramref name="daysOf"/> gives each organization's days: its zone, and the
    /// hour before which its daily rollups are kept (null: all; LEDGER.md "A time-zone change" — later hours are left to the
    /// rebuild, which folds them in from the hourly rows).
    /// </summary>
    public void Flush(Func<int, (TimeZoneInfo Zone, DateTime? BuiltBefore)> daysOf)
    {
        bool Daily(int org, DateTime hour, out DateOnly day)
        {
            var (zone, builtBefore) = daysOf(org);
            day = LocalDays.Of(hour, zone);
            return builtBefore is not { } before || hour < before;
        }
        foreach (var r in _usage.Values)
        {
            _upsertUsage.Bind(r.OrganizationId).Bind(r.HourStart).Bind(r.UserId).Bind(r.Model).Bind(r.Feature)
                .Bind(r.CreditsMillicredits).Bind(r.Calls).Bind(r.InputTokens).Bind(r.KnowledgeTokens).Bind(r.OutputTokens)
                .Bind(r.LightCreditsMillicredits).Execute();
            if (!Daily(r.OrganizationId, r.HourStart, out var day)) continue;
            Accumulate(_dailyUsage, (r.OrganizationId, day, r.UserId, r.Model, r.Feature),
                () => new DailyUsageRollup { OrganizationId = r.OrganizationId, Day = day, UserId = r.UserId, Model = r.Model, Feature = r.Feature },
                d =>
                {
                    d.CreditsMillicredits += r.CreditsMillicredits; d.Calls += r.Calls; d.LightCreditsMillicredits += r.LightCreditsMillicredits;
                    d.InputTokens += r.InputTokens; d.KnowledgeTokens += r.KnowledgeTokens; d.OutputTokens += r.OutputTokens;
                });
            Accumulate(_dailyModels, (r.OrganizationId, day, r.Model, r.Feature),
                () => new DailyModelRollup { OrganizationId = r.OrganizationId, Day = day, Model = r.Model, Feature = r.Feature },
                d =>
                {
                    d.CreditsMillicredits += r.CreditsMillicredits; d.Calls += r.Calls; d.LightCreditsMillicredits += r.LightCreditsMillicredits;
                    d.InputTokens += r.InputTokens; d.KnowledgeTokens += r.KnowledgeTokens; d.OutputTokens += r.OutputTokens;
                });
            Accumulate(_dailyMembers, (r.OrganizationId, day, r.UserId),
                () => new DailyMemberRollup { OrganizationId = r.OrganizationId, Day = day, UserId = r.UserId },
                d => { d.CreditsMillicredits += r.CreditsMillicredits; d.Calls += r.Calls; });
        }
        foreach (var r in _agents.Values)
        {
            _upsertAgent.Bind(r.OrganizationId).Bind(r.HourStart).Bind(r.UserId).Bind(r.AgentId).Bind(r.WorkflowId)
                .Bind(r.Model).Bind(r.CreditsMillicredits).Bind(r.Calls).Bind(r.LightCreditsMillicredits).Execute();
            if (!Daily(r.OrganizationId, r.HourStart, out var day)) continue;
            DailyAgent(r.OrganizationId, day, r.UserId, r.AgentId, r.WorkflowId,
                d => { d.CreditsMillicredits += r.CreditsMillicredits; d.Calls += r.Calls; d.LightCreditsMillicredits += r.LightCreditsMillicredits; });
        }
        foreach (var r in _runs.Values)
        {
            // A run counts on the day it started, with all its credits (as the hourly reading of RunRollups counts it).
            // Its stored first event, member and agent decide, so later events of the run add to that same day's row.
            using var run = _upsertRun.Bind(r.OrganizationId).Bind(r.RunId).Bind(r.UserId).Bind(r.AgentId).Bind(r.WorkflowId)
                .Bind(r.FirstAt).Bind(r.LastAt).Bind(r.CreditsMillicredits).Bind(r.Calls).Query();
            run.Read();
            var isNew = run.GetInt64(0) == r.Calls;
            if (!Daily(r.OrganizationId, LocalDays.FloorHour(run.GetDateTime(1)), out var day)) continue;
            DailyAgent(r.OrganizationId, day, run.GetString(2), run.GetString(3),
                run.GetString(4), d => { d.Runs += isNew ? 1 : 0; d.RunCreditsMillicredits += r.CreditsMillicredits; });
        }
        foreach (var r in _meetings.Values)
            _upsertMeeting.Bind(r.OrganizationId).Bind(r.HourStart).Bind(r.UserId).Bind(r.Minutes).Bind(r.Meetings).Execute();
        foreach (var d in _dailyUsage.Values)
            _upsertDailyUsage.Bind(d.OrganizationId).Bind(d.Day).Bind(d.UserId).Bind(d.Model).Bind(d.Feature)
                .Bind(d.CreditsMillicredits).Bind(d.Calls).Bind(d.InputTokens).Bind(d.KnowledgeTokens).Bind(d.OutputTokens)
                .Bind(d.LightCreditsMillicredits).Execute();
        foreach (var d in _dailyModels.Values)
            _upsertDailyModel.Bind(d.OrganizationId).Bind(d.Day).Bind(d.Model).Bind(d.Feature).Bind(d.CreditsMillicredits)
                .Bind(d.Calls).Bind(d.InputTokens).Bind(d.KnowledgeTokens).Bind(d.OutputTokens).Bind(d.LightCreditsMillicredits).Execute();
        foreach (var d in _dailyMembers.Values)
            _upsertDailyMember.Bind(d.OrganizationId).Bind(d.Day).Bind(d.UserId).Bind(d.CreditsMillicredits).Bind(d.Calls).Execute();
        foreach (var d in _dailyAgents.Values)
            _upsertDailyAgent.Bind(d.OrganizationId).Bind(d.Day).Bind(d.UserId).Bind(d.AgentId).Bind(d.WorkflowId)
                .Bind(d.CreditsMillicredits).Bind(d.Calls).Bind(d.LightCreditsMillicredits).Bind(d.Runs).Bind(d.RunCreditsMillicredits).Execute();
        Clear();
    }

    public void Clear()
    {
        _usage.Clear();
        _agents.Clear();
        _runs.Clear();
        _meetings.Clear();
        _dailyUsage.Clear();
        _dailyModels.Clear();
        _dailyMembers.Clear();
        _dailyAgents.Clear();
    }

    /// <summary>
    /// Clears the daily rollups an organization had in its old time zone, a local day at a time, until about
    /// <paramref name="maxRows"/> rows went (LEDGER.md, "A time-zone change"). Returns whether any are left.
    /// </summary>
    public bool ClearDaily(int org, int maxRows)
    {
        var deleted = 0;
        foreach (var table in DailyTables)
        {
            using var delete = new SqliteStatement(_connection,
                $"DELETE FROM {table} WHERE OrganizationId = $org AND Day = (SELECT MIN(Day) FROM {table} WHERE OrganizationId = $org)");
            int rows;
            while ((rows = delete.Bind(org).ExecuteNonQuery()) > 0)
                if ((deleted += rows) >= maxRows) return true;
        }
        return false;
    }

    /// <summary>The first hour an organization has hourly rollups for (null: none).</summary>
    public DateTime? FirstHour(int org)
    {
        using var first = new SqliteStatement(_connection, """
            SELECT MIN(h) FROM (
                SELECT MIN(HourStart) AS h FROM UsageRollups WHERE OrganizationId = $org
                UNION ALL SELECT MIN(HourStart) FROM AgentRollups WHERE OrganizationId = $org
                UNION ALL SELECT strftime('%Y-%m-%d %H:00:00', MIN(FirstAt)) FROM RunRollups WHERE OrganizationId = $org)
            """);
        using var rows = first.Bind(org).Query();
        return rows.Read() ? rows.GetDateTimeOrNull(0) : null;
    }

    /// <summary>
    /// Where the next fold from <paramref name="from"/> should stop so that it reads about <paramref name="maxRows"/> hourly
    /// rows (at least one hour); null when the rest of the organization's hours fit.
    /// </summary>
    public DateTime? FoldBound(int org, DateTime from, int maxRows)
    {
        using var bound = new SqliteStatement(_connection, """
            SELECT HourStart FROM UsageRollups WHERE OrganizationId = $org AND HourStart >= $from ORDER BY HourStart LIMIT 1 OFFSET $rows
            """);
        using var rows = bound.Bind(org).Bind(from).Bind(maxRows).Query();
        if (!rows.Read()) return null;
        var hour = rows.GetDateTime(0);
        return hour > from ? hour : from.AddHours(1);
    }

    /// <summary>
    /// Adds an organization's hours from <paramref name="from"/> to <paramref name="to"/> (null: all the rest) to its daily
    /// rollups, keyed by the local days of <paramref name="zone"/> (each hour mapped on its own, as <see cref="LocalDays.Of"/>
    /// does; a run on the day of its first call). The writer adds later calls of those hours itself, so each hour is
    /// folded exactly once; hours accumulated in this transaction and not yet flushed are added by <see cref="Flush"/>.
    /// </summary>
    public void Fold(int org, TimeZoneInfo zone, DateTime from, DateTime? to)
    {
        var until = to ?? DateTime.MaxValue;
        Run("CREATE TEMP TABLE IF NOT EXISTS RollupDays (HourStart TEXT PRIMARY KEY, Day TEXT NOT NULL)");
        Run("DELETE FROM temp.RollupDays");
        var hours = new List<string>();
        using (var select = new SqliteStatement(_connection, """
            SELECT HourStart FROM UsageRollups WHERE OrganizationId = $org AND HourStart >= $from AND HourStart < $to
            UNION SELECT HourStart FROM AgentRollups WHERE OrganizationId = $org AND HourStart >= $from AND HourStart < $to
            UNION SELECT strftime('%Y-%m-%d %H:00:00', FirstAt) FROM RunRollups WHERE OrganizationId = $org AND FirstAt >= $from AND FirstAt < $to
            """))
        using (var rows = select.Bind(org).Bind(from).Bind(until).Query())
            while (rows.Read()) hours.Add(rows.GetString(0));
        if (hours.Count == 0) return;
        using (var insert = new SqliteStatement(_connection, "INSERT INTO temp.RollupDays (HourStart, Day) VALUES ($hour, $day)"))
            foreach (var hour in hours)
                insert.Bind(hour).Bind(LocalDays.Of(SqliteStatement.ParseDateTime(hour), zone)).Execute();

        const string Hours = "r.OrganizationId = $org AND r.HourStart >= $from AND r.HourStart < $to";
        Fold($"""
            INSERT INTO DailyUsageRollups (OrganizationId, Day, UserId, Model, Feature, CreditsMillicredits, Calls, InputTokens,
                KnowledgeTokens, OutputTokens, LightCreditsMillicredits)
            SELECT r.OrganizationId, d.Day, r.UserId, r.Model, r.Feature, SUM(r.CreditsMillicredits), SUM(r.Calls), SUM(r.InputTokens),
                SUM(r.KnowledgeTokens), SUM(r.OutputTokens), SUM(r.LightCreditsMillicredits)
            FROM UsageRollups r JOIN temp.RollupDays d ON d.HourStart = r.HourStart
            WHERE {Hours} GROUP BY d.Day, r.UserId, r.Model, r.Feature
            ON CONFLICT (OrganizationId, Day, UserId, Model, Feature) DO UPDATE SET
                {TokenSums}
            """, org, from, until);
        Fold($"""
            INSERT INTO DailyModelRollups (OrganizationId, Day, Model, Feature, CreditsMillicredits, Calls, InputTokens,
                KnowledgeTokens, OutputTokens, LightCreditsMillicredits)
            SELECT r.OrganizationId, d.Day, r.Model, r.Feature, SUM(r.CreditsMillicredits), SUM(r.Calls), SUM(r.InputTokens),
                SUM(r.KnowledgeTokens), SUM(r.OutputTokens), SUM(r.LightCreditsMillicredits)
            FROM UsageRollups r JOIN temp.RollupDays d ON d.HourStart = r.HourStart
            WHERE {Hours} GROUP BY d.Day, r.Model, r.Feature
            ON CONFLICT (OrganizationId, Day, Model, Feature) DO UPDATE SET
                {TokenSums}
            """, org, from, until);
        Fold($"""
            INSERT INTO DailyMemberRollups (OrganizationId, Day, UserId, CreditsMillicredits, Calls)
            SELECT r.OrganizationId, d.Day, r.UserId, SUM(r.CreditsMillicredits), SUM(r.Calls)
            FROM UsageRollups r JOIN temp.RollupDays d ON d.HourStart = r.HourStart
            WHERE {Hours} GROUP BY d.Day, r.UserId
            ON CONFLICT (OrganizationId, Day, UserId) DO UPDATE SET
                CreditsMillicredits = CreditsMillicredits + excluded.CreditsMillicredits, Calls = Calls + excluded.Calls
            """, org, from, until);
        Fold($"""
            INSERT INTO DailyAgentRollups (OrganizationId, Day, UserId, AgentId, WorkflowId, CreditsMillicredits, Calls,
                LightCreditsMillicredits, Runs, RunCreditsMillicredits)
            SELECT r.OrganizationId, d.Day, r.UserId, r.AgentId, r.WorkflowId, SUM(r.CreditsMillicredits), SUM(r.Calls),
                SUM(r.LightCreditsMillicredits), 0, 0
            FROM AgentRollups r JOIN temp.RollupDays d ON d.HourStart = r.HourStart
            WHERE {Hours} GROUP BY d.Day, r.UserId, r.AgentId, r.WorkflowId
            ON CONFLICT (OrganizationId, Day, UserId, AgentId, WorkflowId) DO UPDATE SET
                {AgentSums}
            """, org, from, until);
        Fold("""
            INSERT INTO DailyAgentRollups (OrganizationId, Day, UserId, AgentId, WorkflowId, CreditsMillicredits, Calls,
                LightCreditsMillicredits, Runs, RunCreditsMillicredits)
            SELECT r.OrganizationId, d.Day, r.UserId, r.AgentId, r.WorkflowId, 0, 0, 0, COUNT(*), SUM(r.CreditsMillicredits)
            FROM RunRollups r JOIN temp.RollupDays d ON d.HourStart = strftime('%Y-%m-%d %H:00:00', r.FirstAt)
            WHERE r.OrganizationId = $org AND r.FirstAt >= $from AND r.FirstAt < $to GROUP BY d.Day, r.UserId, r.AgentId, r.WorkflowId
            ON CONFLICT (OrganizationId, Day, UserId, AgentId, WorkflowId) DO UPDATE SET
                Runs = Runs + excluded.Runs, RunCreditsMillicredits = RunCreditsMillicredits + excluded.RunCreditsMillicredits
            """, org, from, until);
        Run("DELETE FROM temp.RollupDays");
    }

    private static readonly string[] DailyTables = ["DailyUsageRollups", "DailyModelRollups", "DailyMemberRollups", "DailyAgentRollups"];

    private void Fold(string sql, int org, DateTime from, DateTime to)
    {
        using var statement = new SqliteStatement(_connection, sql);
        statement.Bind(org).Bind(from).Bind(to).Execute();
    }

    private void Run(string sql, int? org = null)
    {
        using var statement = new SqliteStatement(_connection, sql);
        if (org is { } id) statement.Bind(id);
        statement.Execute();
    }

    private void DailyAgent(int org, DateOnly day, string userId, string agentId, string workflowId, Action<DailyAgentRollup> add) =>
        Accumulate(_dailyAgents, (org, day, userId, agentId, workflowId),
            () => new DailyAgentRollup { OrganizationId = org, Day = day, UserId = userId, AgentId = agentId, WorkflowId = workflowId },
            add);

    private static void Accumulate<TKey, TRollup>(Dictionary<TKey, TRollup> rollups, TKey key, Func<TRollup> create, Action<TRollup> add)
        where TKey : notnull
    {
        if (!rollups.TryGetValue(key, out var rollup)) rollups[key] = rollup = create();
        add(rollup);
    }

    public void Dispose()
    {
        foreach (var statement in new[] { _upsertUsage, _upsertAgent, _upsertRun, _upsertMeeting, _upsertDailyUsage, _upsertDailyModel,
                     _upsertDailyMember, _upsertDailyAgent })
            statement.Dispose();
    }
}
