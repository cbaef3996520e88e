using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Cassidy.Portal.Ledger;

/// <summary>
/// What the Overview shows about the books (LEDGER.md, "The ledger check"): the incremental check of what changed since
/// the last verified point, and the last full check's result. <see cref="Checked"/> is what the incremental check
/// added up to (every ledger entry of the organization), <see cref="NewEntries"/> how many it had to read.
/// </summary>
/// <see cref="DailyRebuilding"/>: the daily rollups are being rebuilt after a time-zone change, so the check left them to
/// the full check that follows the rebuild.
public sealed record LedgerVerification(bool Ok, string? Problem, long LedgerEntries, long NewEntries, int DaysRechecked,
    bool WasFull, DateTime Checked, DateTime? FullCheckedAt, bool? FullOk, string? FullProblem, bool DailyRebuilding = false);

/// <summary>
/// The ledger check, both ways, on its own reader connection (WAL: the writer never waits for it). The full check adds
/// up every entry, event and rollup of the organization; the incremental one starts from the checkpoint the last check
/// left (<c>LedgerCheckpoints</c>) and reads only what came after it:
/// <list type="bullet">
/// <item>ledger entries after the checkpoint (by id when few came in since, else by the organization-and-time index), so balance = ledger sum;</item>
/// <item>the grants (a few rows), so grants remaining − overdraft = balance;</item>
/// <item>usage events after the checkpoint (a rowid range), so usage entries = recorded calls, in number and credits;</item>
/// <item>the daily model and agent rollups in total (a few thousand rows), so they equal the recorded calls' credits;</item>
/// <item>for each local day a new call fell on, the hourly rollups of its hours against each daily table's row of that day.</item>
/// </list>
/// By induction that is the full check's proof: days no new call fell on were equal at the checkpoint and only the writer
/// changes them, and only for the hours of the calls it records. What the induction cannot see (a row changed behind the
/// engine's back on an old day) the full check finds, on a schedule (<c>Organizations.LedgerAudit</c>).
/// </summary>
internal static class LedgerChecks
{
    /// <summary>Up to this many new entries (of every organization) since the checkpoint, the check reads them by id (tests set 0).</summary>
    internal static long IdRangeEntries { get; set; } = 100_000;

    private sealed record Checkpoint(long ThroughEntryId, DateTime ThroughEntryAt, long ThroughEventId, long Ledger, long Entries,
        long Usage, long UsageEntries, long Calls, long CallCount, long AgentCalls, string? Zone, DateTime? FullAt, bool? FullOk, string? FullProblem);

    public static async Task<LedgerCheck> FullAsync(string connectionString, int organizationId, DateTime now)
    {
        await using var c = await OpenAsync(connectionString);
        LedgerCheck check;
        Checkpoint point;
        await using (var snapshot = c.BeginTransaction(deferred: true))
        {
            long Sum(string sql, params (string, object)[] more) => Scalar(c, snapshot, sql, organizationId, more);
            var (zone, builtBefore) = DailyState(c, snapshot, organizationId);
            // The daily rollups hold every hour, or while they are rebuilt the hours folded in so far (none while the old zone's are cleared).
            (string, object) before = ("$before", builtBefore ?? DateTime.MaxValue);
            check = new LedgerCheck(
                StoredBalance: Sum("SELECT COALESCE(MAX(BalanceMillicredits), 0) FROM CreditAccounts WHERE OrganizationId = $org"),
                LedgerSum: Sum("SELECT COALESCE(SUM(AmountMillicredits), 0) FROM LedgerEntries WHERE OrganizationId = $org"),
                GrantsRemaining: Sum("SELECT COALESCE(SUM(RemainingMillicredits), 0) FROM CreditGrants WHERE OrganizationId = $org"),
                Overdraft: Sum("SELECT COALESCE(MAX(OverdraftMillicredits), 0) FROM CreditAccounts WHERE OrganizationId = $org"),
                UsageLedgerSum: Sum("SELECT COALESCE(-SUM(AmountMillicredits), 0) FROM LedgerEntries WHERE OrganizationId = $org AND Kind = 'usage'"),
                RollupSum: Sum("SELECT COALESCE(SUM(CreditsMillicredits), 0) FROM UsageRollups WHERE OrganizationId = $org"),
                UsageEventsSum: Sum("SELECT COALESCE(SUM(CreditsMillicredits), 0) FROM UsageEvents WHERE OrganizationId = $org AND Type = 'model_call'"),
                DailyRollupSum: Sum("SELECT COALESCE(SUM(CreditsMillicredits), 0) FROM DailyUsageRollups WHERE OrganizationId = $org"),
                DailyModelRollupSum: Sum("SELECT COALESCE(SUM(CreditsMillicredits), 0) FROM DailyModelRollups WHERE OrganizationId = $org"),
                DailyMemberRollupSum: Sum("SELECT COALESCE(SUM(CreditsMillicredits), 0) FROM DailyMemberRollups WHERE OrganizationId = $org"),
                AgentRollupSum: Sum("SELECT COALESCE(SUM(CreditsMillicredits), 0) FROM AgentRollups WHERE OrganizationId = $org"),
                DailyAgentRollupSum: Sum("SELECT COALESCE(SUM(CreditsMillicredits), 0) FROM DailyAgentRollups WHERE OrganizationId = $org"),
                LedgerEntries: Sum("SELECT COUNT(*) FROM LedgerEntries WHERE OrganizationId = $org"),
                UsageEntries: Sum("SELECT COUNT(*) FROM LedgerEntries WHERE OrganizationId = $org AND Kind = 'usage'"),
                RecordedCalls: Sum("SELECT COUNT(*) FROM UsageEvents WHERE OrganizationId = $org AND Type = 'model_call'"),
                DailyHoursSum: Sum("SELECT COALESCE(SUM(CreditsMillicredits), 0) FROM UsageRollups WHERE OrganizationId = $org AND HourStart < $before", before),
                DailyAgentHoursSum: Sum("SELECT COALESCE(SUM(CreditsMillicredits), 0) FROM AgentRollups WHERE OrganizationId = $org AND HourStart < $before", before),
                DailyBuiltBefore: builtBefore);
            point = new Checkpoint(
                ThroughEntryId: Sum("SELECT COALESCE(MAX(Id), 0) FROM LedgerEntries"),
                ThroughEntryAt: Rows(c, snapshot, "SELECT MAX(OccurredAt) FROM LedgerEntries WHERE OrganizationId = $org", organizationId)
                    .Single()[0] is string at ? SqliteStatement.ParseDateTime(at) : DateTime.MinValue,
                ThroughEventId: Sum("SELECT COALESCE(MAX(Id), 0) FROM UsageEvents"),
                Ledger: check.LedgerSum, Entries: check.LedgerEntries, Usage: check.UsageLedgerSum, UsageEntries: check.UsageEntries,
                Calls: check.UsageEventsSum, CallCount: check.RecordedCalls,
                AgentCalls: Sum("""
                    SELECT COALESCE(SUM(CreditsMillicredits), 0) FROM UsageEvents
                    WHERE OrganizationId = $org AND Type = 'model_call' AND (AgentId IS NOT NULL OR WorkflowId IS NOT NULL)
                    """),
                Zone: builtBefore is null ? zone : null, // after a rebuild, the next round's full check compares every day again

                FullAt: now, FullOk: check.Ok, FullProblem: check.Problem);
        }
        // A full check that adds up is the new starting point of the incremental one; one that does not leaves the last
        // good point where it was (the incremental check keeps failing from there) and records what broke.
        if (check.Ok) await SaveAsync(c, organizationId, point, now, full: true);
        else await ExecuteAsync(c, """
            INSERT INTO LedgerCheckpoints (OrganizationId, ThroughEntryId, ThroughEntryAt, ThroughEventId, LedgerMillicredits, LedgerEntries,
                UsageMillicredits, UsageEntries, CallsMillicredits, Calls, AgentCallsMillicredits, VerifiedAt, FullCheckedAt, FullOk, FullProblem)
            VALUES ($org, 0, $now, 0, 0, 0, 0, 0, 0, 0, 0, $now, $now, 0, $problem)
            ON CONFLICT (OrganizationId) DO UPDATE SET FullCheckedAt = $now, FullOk = 0, FullProblem = $problem
            """, organizationId, ("$now", now), ("$problem", (object?)check.Problem ?? DBNull.Value));
        return check;
    }

    public static async Task<LedgerVerification> VerifyAsync(string connectionString, int organizationId, DateTime now)
    {
        await using var c = await OpenAsync(connectionString);
        Checkpoint? start;
        bool neverBuilt;
        await using (var peek = c.BeginTransaction(deferred: true))
        {
            start = ReadCheckpoint(c, peek, organizationId);
            var (keyedIn, builtBefore) = DailyState(c, peek, organizationId);
            neverBuilt = keyedIn is null && builtBefore is null;
        }
        // A full check found the books wrong and there is no good point to go on from: say so (staff were told) rather
        // than add everything up again on every page load.
        if (start is { ThroughEntryId: 0, FullOk: false })
            return new LedgerVerification(false, start.FullProblem, start.Entries, 0, 0, false, now, start.FullAt, false, start.FullProblem);
        // No good point yet (or no daily rollups yet): the full check, which leaves one.
        if (start is null || neverBuilt || start.ThroughEntryId == 0)
        {
            var full = await FullAsync(connectionString, organizationId, now);
            return new LedgerVerification(full.Ok, full.Problem, full.LedgerEntries, full.LedgerEntries, 0, true, now, now, full.Ok, full.Problem,
                DailyRebuilding: full.DailyBuiltBefore is not null);
        }

        var (problem, point, newEntries, days) = await VerifyFromAsync(c, organizationId, start);
        if (problem is null) await SaveAsync(c, organizationId, point, now, full: false);
        return new LedgerVerification(problem is null, problem, point.Entries, newEntries, days, false, now, start.FullAt, start.FullOk, start.FullProblem,
            DailyRebuilding: point.Zone is null);
    }

    private static async Task<(string? Problem, Checkpoint Point, long NewEntries, int Days)> VerifyFromAsync(SqliteConnection c, int org,
        Checkpoint start)
    {
        await using var snapshot = c.BeginTransaction(deferred: true);
        long Sum(string sql, params (string, object)[] more) => Scalar(c, snapshot, sql, org, more);
        var account = Rows(c, snapshot, "SELECT BalanceMillicredits, OverdraftMillicredits FROM CreditAccounts WHERE OrganizationId = $org", org).Single();
        long balance = (long)account[0]!, overdraft = (long)account[1]!;
        // Days are compared in the zone they are keyed in now. After a time-zone change the days no new call fell on were
        // last compared in the old zone: the checkpoint keeps that zone until a full check has compared them all again
        // (LedgerAudit runs one at its next round), and the totals below do not depend on the zone. While the days are
        // being rebuilt they are left out, and the checkpoint forgets its zone, so that full check follows the rebuild.
        var keyedIn = DailyState(c, snapshot, org).Zone;
        var zone = keyedIn is null ? null : TimeZoneInfo.FindSystemTimeZoneById(keyedIn);

        // Entries after the checkpoint, the id deciding what is new. Few entries of any organization since (the scheduled
        // checks keep it so): that id range itself, this organization's picked out. Many: the (organization, time) index
        // from a day before the last included entry (a clock set back a little cannot hide one), which at a busy
        // organization is a day of its entries (all of them, where millions were recorded within the day).
        var newestEntry = Sum("SELECT COALESCE(MAX(Id), 0) FROM LedgerEntries");
        const string Totals = """
            SELECT COALESCE(SUM(AmountMillicredits), 0), COUNT(*), COALESCE(SUM(CASE WHEN Kind = 'usage' THEN -AmountMillicredits ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN Kind = 'usage' THEN 1 ELSE 0 END), 0), MAX(OccurredAt)
            FROM LedgerEntries
            """;
        var entries = (newestEntry - start.ThroughEntryId <= IdRangeEntries
            ? Rows(c, snapshot, Totals + " WHERE Id > $through AND +OrganizationId = $org", org, ("$through", start.ThroughEntryId))
            : Rows(c, snapshot, Totals + " WHERE OrganizationId = $org AND OccurredAt >= $since AND Id > $through", org,
                ("$since", start.ThroughEntryAt == DateTime.MinValue ? DateTime.MinValue : start.ThroughEntryAt.AddDays(-1)), ("$through", start.ThroughEntryId))).Single();
        // Calls after the checkpoint: a rowid range (the scheduled checks keep it short), this organization's picked out.
        long calls = 0, callCount = 0, agentCalls = 0;
        var hours = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in Rows(c, snapshot, """
            SELECT CreditsMillicredits, strftime('%Y-%m-%d %H:00:00', OccurredAt), AgentId IS NOT NULL OR WorkflowId IS NOT NULL
            FROM UsageEvents WHERE Id > $through AND +OrganizationId = $org AND Type = 'model_call'
            """, org, ("$through", start.ThroughEventId)))
        {
            calls += (long)e[0]!;
            callCount++;
            if ((long)e[2]! != 0) agentCalls += (long)e[0]!;
            hours.Add((string)e[1]!);
        }
        var point = start with
        {
            ThroughEntryId = newestEntry,
            ThroughEntryAt = entries[4] is string at ? SqliteStatement.ParseDateTime(at) : start.ThroughEntryAt,
            ThroughEventId = Sum("SELECT COALESCE(MAX(Id), 0) FROM UsageEvents"),
            Ledger = start.Ledger + (long)entries[0]!, Entries = start.Entries + (long)entries[1]!,
            Usage = start.Usage + (long)entries[2]!, UsageEntries = start.UsageEntries + (long)entries[3]!,
            Calls = start.Calls + calls, CallCount = start.CallCount + callCount, AgentCalls = start.AgentCalls + agentCalls,
            Zone = zone is null ? null : start.Zone,
        };
        var grants = Sum("SELECT COALESCE(SUM(RemainingMillicredits), 0) FROM CreditGrants WHERE OrganizationId = $org");
        var days = zone is null ? [] : hours.Select(h => LocalDays.Of(SqliteStatement.ParseDateTime(h), zone)).ToHashSet();
        var problem =
            balance != point.Ledger ? "the stored balance differs from the sum of the ledger"
            : grants - overdraft != balance ? "the grants' remaining credits less the overdraft differ from the balance"
            : point.UsageEntries != point.CallCount ? "recorded calls and usage entries differ in number"
            : point.Calls != point.Usage ? "the credits of recorded calls differ from the usage in the ledger"
            : zone is null ? null
            : Sum("SELECT COALESCE(SUM(CreditsMillicredits), 0) FROM DailyModelRollups WHERE OrganizationId = $org") != point.Usage
                ? "the usage rollups differ from the usage in the ledger"
            : Sum("SELECT COALESCE(SUM(CreditsMillicredits), 0) FROM DailyAgentRollups WHERE OrganizationId = $org") != point.AgentCalls
                ? "the agent rollups differ from the calls of agents and workflows"
            : days.Select(d => DayProblem(c, snapshot, org, d, zone)).FirstOrDefault(p => p is not null);

        return (problem, point, (long)entries[1]!, days.Count);
    }

    /// <summary>One local day: its hours in the hourly rollups against its row in each daily table (credits and light-model credits).</summary>
    private static string? DayProblem(SqliteConnection c, SqliteTransaction t, int org, DateOnly day, TimeZoneInfo zone)
    {
        (string, object)[] hours = [("$from", LocalDays.StartUtc(day, zone)), ("$to", LocalDays.StartUtc(day.AddDays(1), zone))];
        (string, object)[] on = [("$day", day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture))];
        (long Credits, long Light) Sums(string table, string where, (string, object)[] more, bool light = true)
        {
            var row = Rows(c, t, $"SELECT COALESCE(SUM(CreditsMillicredits), 0), {(light ? "COALESCE(SUM(LightCreditsMillicredits), 0)" : "0")} FROM {table} WHERE OrganizationId = $org AND {where}", org, more).Single();
            return ((long)row[0]!, (long)row[1]!);
        }
        const string InHours = "HourStart >= $from AND HourStart < $to", OnDay = "Day = $day";
        var hourly = Sums("UsageRollups", InHours, hours);
        if (Sums("DailyUsageRollups", OnDay, on) != hourly || Sums("DailyModelRollups", OnDay, on) != hourly
            || Sums("DailyMemberRollups", OnDay, on, light: false).Credits != hourly.Credits)
            return $"the daily rollups of {day:yyyy-MM-dd} differ from its hours";
        return Sums("DailyAgentRollups", OnDay, on) != Sums("AgentRollups", InHours, hours)
            ? $"the daily agent rollups of {day:yyyy-MM-dd} differ from its hours"
            : null;
    }

    /// <summary>
    /// The zone the daily rollups are keyed in, null while they are being rebuilt after a time-zone change; and how far that
    /// rebuild is (null: done; <see cref="DateTime.MinValue"/>: the old zone's rows are still being cleared).
    /// </summary>
    private static (string? Zone, DateTime? BuiltBefore) DailyState(SqliteConnection c, SqliteTransaction t, int org)
    {
        var row = Rows(c, t, "SELECT RollupTimeZone, DailyRollupsBuiltBefore FROM CreditAccounts WHERE OrganizationId = $org", org).SingleOrDefault();
        var builtBefore = row?[1] is string at ? SqliteStatement.ParseDateTime(at) : (DateTime?)null;
        return (builtBefore is null ? row?[0] as string : null, builtBefore);
    }

    private static Checkpoint? ReadCheckpoint(SqliteConnection c, SqliteTransaction t, int org) =>
        Rows(c, t, """
            SELECT ThroughEntryId, ThroughEntryAt, ThroughEventId, LedgerMillicredits, LedgerEntries, UsageMillicredits, UsageEntries,
                CallsMillicredits, Calls, AgentCallsMillicredits, RollupTimeZone, FullCheckedAt, FullOk, FullProblem
            FROM LedgerCheckpoints WHERE OrganizationId = $org
            """, org).Select(r => new Checkpoint((long)r[0]!, SqliteStatement.ParseDateTime((string)r[1]!), (long)r[2]!, (long)r[3]!,
                (long)r[4]!, (long)r[5]!, (long)r[6]!, (long)r[7]!, (long)r[8]!, (long)r[9]!, r[10] as string,
                r[11] is string at ? SqliteStatement.ParseDateTime(at) : null, r[12] is long ok ? ok != 0 : null, r[13] as string))
            .SingleOrDefault();

    /// <summary>Moves the checkpoint forward (never back: two checks at once keep the later point).</summary>
    private static Task SaveAsync(SqliteConnection c, int org, Checkpoint p, DateTime now, bool full) => ExecuteAsync(c, $"""
        INSERT INTO LedgerCheckpoints (OrganizationId, ThroughEntryId, ThroughEntryAt, ThroughEventId, LedgerMillicredits, LedgerEntries,
            UsageMillicredits, UsageEntries, CallsMillicredits, Calls, AgentCallsMillicredits, RollupTimeZone, VerifiedAt
            {(full ? ", FullCheckedAt, FullOk, FullProblem" : "")})
        VALUES ($org, $entry, $entryAt, $event, $ledger, $entries, $usage, $usageEntries, $calls, $callCount, $agentCalls, $zone, $now
            {(full ? ", $now, 1, NULL" : "")})
        ON CONFLICT (OrganizationId) DO UPDATE SET ThroughEntryId = $entry, ThroughEntryAt = $entryAt, ThroughEventId = $event,
            LedgerMillicredits = $ledger, LedgerEntries = $entries, UsageMillicredits = $usage, UsageEntries = $usageEntries,
            CallsMillicredits = $calls, Calls = $callCount, AgentCallsMillicredits = $agentCalls, RollupTimeZone = $zone, VerifiedAt = $now
            {(full ? ", FullCheckedAt = $now, FullOk = 1, FullProblem = NULL" : "")}
        WHERE $event >= LedgerCheckpoints.ThroughEventId AND $entry >= LedgerCheckpoints.ThroughEntryId
        """, org, ("$entry", p.ThroughEntryId), ("$entryAt", p.ThroughEntryAt), ("$event", p.ThroughEventId), ("$ledger", p.Ledger),
        ("$entries", p.Entries), ("$usage", p.Usage), ("$usageEntries", p.UsageEntries), ("$calls", p.Calls), ("$callCount", p.CallCount),
        ("$agentCalls", p.AgentCalls), ("$zone", (object?)p.Zone ?? DBNull.Value), ("$now", now));

    private static async Task<SqliteConnection> OpenAsync(string connectionString)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync();
        return connection;
    }

    private static async Task ExecuteAsync(SqliteConnection c, string sql, int org, params (string Name, object Value)[] more)
    {
        await using var command = Command(c, null, sql, org, more);
        await command.ExecuteNonQueryAsync();
    }

    private static long Scalar(SqliteConnection c, SqliteTransaction t, string sql, int org, params (string, object)[] more)
    {
        using var command = Command(c, t, sql, org, more);
        return Convert.ToInt64(command.ExecuteScalar() ?? 0L, CultureInfo.InvariantCulture);
    }

    private static List<object?[]> Rows(SqliteConnection c, SqliteTransaction t, string sql, int org, params (string, object)[] more)
    {
        using var command = Command(c, t, sql, org, more);
        using var reader = command.ExecuteReader();
        var rows = new List<object?[]>();
        while (reader.Read())
        {
            var row = new object?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++) row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            rows.Add(row);
        }
        return rows;
    }

    private static SqliteCommand Command(SqliteConnection c, SqliteTransaction? t, string sql, int org, IEnumerable<(string Name, object Value)> more)
    {
        var command = c.CreateCommand();
        command.Transaction = t;
        command.CommandText = sql;
        command.Parameters.AddWithValue("$org", org);
        foreach (var (name, value) in more) command.Parameters.AddWithValue(name, value);
        return command;
    }
}
