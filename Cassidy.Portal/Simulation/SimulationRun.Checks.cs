using System.Security.Cryptography;
using System.Text;
using Cassidy.Portal.Data;
using Cassidy.Portal.Billing;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Limits;
using Cassidy.Portal.Pricing;
using Cassidy.Portal.Organizations;
using Microsoft.Data.Sqlite;

namespace Cassidy.Portal.Simulation;

/// <summary>
/// The run's checks: engine, reference model and database compared (after each commit, in full at rest), alerts and credit
/// states as the model expects them.
/// </summary>
internal sealed partial class SimulationRun
{
    public void Expect<T>(string what, T expected, T actual)
    {
        Report.Checks++;
        if (!EqualityComparer<T>.Default.Equals(expected, actual)) throw Violation($"{what}: expected {expected}, got {actual}");
    }

    public SimulationFailureException Violation(string message)
    {
        var replay = $"dotnet run -c Release --project Cassidy.Portal -- --simulate --seed {_options.Seed} --steps {Step}";
        return new SimulationFailureException(_options.Seed, Step, message, replay, [.. _recent]);
    }

    private void Note(string line)
    {
        _recent.Enqueue($"[{Step}] {line}");
        if (_recent.Count > 60) _recent.Dequeue();
    }

    /// <summary>Brings every organization up to now (as a page read does), then holds engine, model and database together.</summary>
    private void FullCheck()
    {
        // A crash or a fault may lose a read (a crash also loses what the process had read): read again, as a page would be.
        for (var attempt = 0; !Model.Organizations.Values.All(org => RunOperation(new ReadOperation { Organization = org })); attempt++)
            if (attempt > 20) throw Violation("the organizations cannot be read");
        foreach (var org in Model.Organizations.Values)
        {
            org.CloseDue(Now, Model);
            CompareOrganization(org, full: true);
        }
        Report.FullChecks++;
    }

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_configuration.GetConnectionString("Portal"));
        connection.Open();
        return connection;
    }

    private static object? Scalar(SqliteConnection connection, string sql, int org, params (string, object)[] more)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$org", org);
        foreach (var (name, value) in more) command.Parameters.AddWithValue(name, value);
        var value1 = command.ExecuteScalar();
        return value1 is DBNull ? null : value1;
    }

    private static List<object?[]> Rows(SqliteConnection connection, string sql, int org, params (string, object)[] more)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$org", org);
        foreach (var (name, value) in more) command.Parameters.AddWithValue(name, value);
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

    private static DateTime Utc(object? text) => DateTime.SpecifyKind(DateTime.Parse((string)text!, System.Globalization.CultureInfo.InvariantCulture), DateTimeKind.Utc);

    /// <summary>
    /// The organization's money in the model, in the database and in the authorize view must agree, and the database must
    /// agree with itself (LEDGER.md's invariants). <paramref name="full"/>: also holds, rollups, the ledger's running
    /// balances, invoices and alert firings (when the run is at rest).
    /// </summary>
    private void CompareOrganization(ModelOrganization org, bool full)
    {
        var o = $"{org.Slug}";
        using var c = Open();
        var account = Rows(c, "SELECT BalanceMillicredits, OverdraftMillicredits, CurrentPeriodStart, CurrentPeriodEnd FROM CreditAccounts WHERE OrganizationId = $org", org.Id).Single();
        long balance = (long)account[0]!, overdraft = (long)account[1]!;
        Expect($"{o}: the model's balance is its grants less overdraft", org.Balance, org.GrantsRemaining - org.Overdraft);
        Expect($"{o}: balance", org.Balance, balance);
        Expect($"{o}: overdraft", org.Overdraft, overdraft);
        Expect($"{o}: period", (org.PeriodStart, org.PeriodEnd), (Utc(account[2]), Utc(account[3])));
        var ledger = Rows(c, "SELECT Kind, SUM(AmountMillicredits), COUNT(*) FROM LedgerEntries WHERE OrganizationId = $org GROUP BY Kind", org.Id)
            .ToDictionary(r => (string)r[0]!, r => ((long)r[1]!, (long)r[2]!));
        Expect($"{o}: stored balance = sum of the ledger", balance, ledger.Values.Sum(v => v.Item1));
        string[] kinds = [LedgerKinds.Grant, LedgerKinds.Usage, LedgerKinds.Expiry, LedgerKinds.Rollover, LedgerKinds.Adjustment];
        Expect($"{o}: ledger sums by kind", string.Join(", ", kinds.Select(k => $"{k} {org.LedgerByKind.GetValueOrDefault(k)}")),
            string.Join(", ", kinds.Select(k => $"{k} {ledger.GetValueOrDefault(k).Item1}")));
        Expect($"{o}: one usage entry per recorded call", org.UsageEntries, ledger.GetValueOrDefault(LedgerKinds.Usage).Item2);
        var grants = Rows(c, "SELECT Kind, RemainingMillicredits, ExpiresAt FROM CreditGrants WHERE OrganizationId = $org AND ExpiredAt IS NULL AND RemainingMillicredits <> 0", org.Id)
            .Select(r => $"{r[0]} {r[1]} {(r[2] is null ? "-" : Utc(r[2]).ToString("O"))}").Order().ToList();
        Expect($"{o}: stored balance = grants remaining − overdraft", balance,
            Rows(c, "SELECT COALESCE(SUM(RemainingMillicredits), 0) FROM CreditGrants WHERE OrganizationId = $org AND ExpiredAt IS NULL", org.Id).Single()[0] is long sum ? sum - overdraft : -1);
        Expect($"{o}: grants with credits left", string.Join("; ", org.Grants.Where(g => !g.Expired && g.Remaining != 0)
            .Select(g => $"{g.Kind} {g.Remaining} {(g.ExpiresAt is { } e ? e.ToString("O") : "-")}").Order()), string.Join("; ", grants));
        var events = Rows(c, "SELECT Type, COUNT(*), SUM(CreditsMillicredits) FROM UsageEvents WHERE OrganizationId = $org GROUP BY Type", org.Id)
            .ToDictionary(r => (string)r[0]!, r => ((long)r[1]!, (long)r[2]!));
        foreach (var type in new[] { UsageTypes.ModelCall, UsageTypes.Meeting, UsageTypes.Storage })
            Expect($"{o}: recorded {type} events", (long)org.Events.Values.Count(e => e.Type == type), events.GetValueOrDefault(type).Item1);
        Expect($"{o}: credits of recorded calls = usage in the ledger", -ledger.GetValueOrDefault(LedgerKinds.Usage).Item1,
            events.GetValueOrDefault(UsageTypes.ModelCall).Item2);
        var plan = Rows(c, "SELECT Plan, ScheduledPlan, EnterpriseMonthlyCredits FROM Organizations WHERE Id = $org", org.Id).Single();
        Expect($"{o}: plan", (org.Plan, org.ScheduledPlan), ((string)plan[0]!, (string?)plan[1]));
        if (org.Plan == PlanCatalog.Enterprise) Expect($"{o}: agreement", org.EnterpriseCredits, (long?)plan[2]);
        Expect($"{o}: grants expired twice", 0, Rows(c, "SELECT GrantId FROM LedgerEntries WHERE OrganizationId = $org AND Kind = 'expiry' GROUP BY GrantId HAVING COUNT(*) > 1", org.Id).Count);
        var usage = Rows(c, "SELECT UserId, -SUM(AmountMillicredits) FROM LedgerEntries WHERE OrganizationId = $org AND Kind = 'usage' AND OccurredAt >= $start GROUP BY UserId",
            org.Id, ("$start", org.PeriodStart)).ToDictionary(r => (string)r[0]!, r => (long)r[1]!);
        Expect($"{o}: members' usage this period", Describe(org.MemberUsage), Describe(usage));
        // What the writer stores for loading books: the same, member by member (rows of earlier periods don't count).
        var stored = Rows(c, "SELECT UserId, UsedMillicredits FROM MemberPeriodUsages WHERE OrganizationId = $org AND PeriodStart = $start",
            org.Id, ("$start", org.PeriodStart)).ToDictionary(r => (string)r[0]!, r => (long)r[1]!);
        Expect($"{o}: stored members' usage this period", Describe(org.MemberUsage), Describe(stored));

        var view = Process.Ledger.View.Find(org.Id);
        if (view is not null)
        {
            Expect($"{o}: view balance", org.Balance, view.Balance);
            Expect($"{o}: view plan and allowance", (org.Plan, org.Allowance), (view.Plan, view.Allowance));
            Expect($"{o}: view period", org.PeriodEnd, view.Period.End);
            Expect($"{o}: view usage this period", org.PeriodUsage, view.PeriodUsage);
            Expect($"{o}: view members' usage", Describe(org.MemberUsage), Describe(org.MemberUsage.Keys.ToDictionary(u => u, view.MemberUsage)));
            Expect($"{o}: view members and caps", string.Join(", ", org.Members.Values.Select(m => $"{m.NormalizedEmail}:{m.Cap}").Order()),
                string.Join(", ", view.Members().Select(m => $"{m.Member.NormalizedEmail}:{m.Member.CapMillicredits}").Order()));
        }
        if (!full) return;

        Expect($"{o}: view present after a read", true, view is not null);
        var active = Rows(c, "SELECT Id FROM CreditHolds WHERE OrganizationId = $org AND Status = 'active' AND ExpiresAt > $now", org.Id, ("$now", Now))
            .Select(r => (string)r[0]!).Order().ToList();
        Expect($"{o}: active holds in the database", string.Join(",", org.Holds.Values.Where(h => h.IsActive(Now)).Select(h => h.Id).Order()), string.Join(",", active));
        Expect($"{o}: held in the view", org.Held(Now), view!.HeldMillicredits(Now));
        Expect($"{o}: expired holds still marked active (view changes at {view.NextChangeAt:O})", "",
            string.Join(", ", Rows(c, "SELECT Id, ExpiresAt FROM CreditHolds WHERE OrganizationId = $org AND Status = 'active' AND ExpiresAt <= $now", org.Id, ("$now", Now))
                .Select(r => $"{r[0]} expired {r[1]}")));
        // What the Overview shows: the check of what changed since the last verified point (its checkpoint survives
        // restarts and crashes in the database), which must agree with the full check of every entry and rollup.
        var verified = Drive(Process.Ledger.VerifyAsync(org.Id));
        Expect($"{o}: the incremental ledger check ({verified.Problem})", true, verified.Ok);
        var check = Drive(Process.Ledger.FullCheckAsync(org.Id));
        Expect($"{o}: the full ledger check ({check})", true, check.Ok);
        Expect($"{o}: ledger entries the incremental check counted", check.LedgerEntries, verified.LedgerEntries);
        long running = 0;
        foreach (var row in Rows(c, "SELECT AmountMillicredits, BalanceAfterMillicredits, Id FROM LedgerEntries WHERE OrganizationId = $org ORDER BY Id", org.Id))
        {
            running += (long)row[0]!;
            if (running != (long)row[1]!) throw Violation($"{o}: ledger entry {row[2]} says the balance after it is {row[1]}, the entries before it sum to {running}");
        }
        CheckRollups(c, org);
        Report.Checks++;
        Expect($"{o}: alert fired twice", 0, Rows(c, "SELECT RuleId FROM AlertFirings WHERE OrganizationId = $org GROUP BY RuleId, Threshold, PeriodStart, Subject HAVING COUNT(*) > 1", org.Id).Count);
        CheckInvoices(c, org);
    }

    /// <summary>
    /// One issued invoice per upgrade carried out, marked applied; every other payment voided — at once when its change was
    /// refused, by the closer once its quote expired when the process died between the payment and the change.
    /// </summary>
    /// <summary>
    /// The rollups the pages read add up to every recorded call, and so does what those calls would have cost on the lighter
    /// model, as recorded when they were priced: the hourly ones in total, the daily ones day by day in the zone they are
    /// keyed in — all the calls, or while the days are rebuilt after a time-zone change exactly the calls of the hours
    /// folded in so far (LEDGER.md, "A time-zone change").
    /// </summary>
    private void CheckRollups(SqliteConnection c, ModelOrganization org)
    {
        var o = org.Slug;
        var totals = org.Calls;
        string Sums(string table) =>
            string.Join(" / ", Rows(c, $"SELECT COALESCE(SUM(CreditsMillicredits), 0), COALESCE(SUM(LightCreditsMillicredits), 0) FROM {table} WHERE OrganizationId = $org", org.Id)
                .Single().Select(v => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture)));
        Expect($"{o}: UsageRollups credits / on the lighter model = every recorded call's", $"{totals.Credits} / {totals.OnLighterModel}", Sums("UsageRollups"));
        Expect($"{o}: AgentRollups credits / on the lighter model = the agents' and workflows' calls", $"{totals.AgentCredits} / {totals.AgentOnLighterModel}", Sums("AgentRollups"));

        var state = Rows(c, "SELECT RollupTimeZone, DailyRollupsBuiltBefore FROM CreditAccounts WHERE OrganizationId = $org", org.Id).Single();
        var builtBefore = state[1] is string at ? SqliteStatement.ParseDateTime(at) : (DateTime?)null;
        if (builtBefore == DateTime.MinValue) return; // the old zone's days are still being cleared: the pages read hours meanwhile
        var zone = TimeZoneInfo.FindSystemTimeZoneById((string)state[0]!);
        var calls = totals.All.Where(call => builtBefore is not { } before || call.Hour < before).ToList();
        string Expected(Func<ModelCall, bool> which, bool light) => Days(calls.Where(which)
            .GroupBy(call => LocalDays.Of(call.Hour, zone))
            .Select(g => (g.Key.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), g.Sum(x => x.Credits), light ? g.Sum(x => x.OnLighterModel) : 0)));
        string Stored(string table, bool light) => Days(Rows(c, $"SELECT Day, SUM(CreditsMillicredits), {(light ? "SUM(LightCreditsMillicredits)" : "0")} FROM {table} WHERE OrganizationId = $org GROUP BY Day", org.Id)
            .Select(r => ((string)r[0]!, (long)r[1]!, (long)r[2]!)));
        var keyed = $"keyed in {zone.Id}{(builtBefore is { } b ? $", hours before {b:yyyy-MM-dd HH:mm}" : "")}";
        foreach (var table in new[] { "DailyUsageRollups", "DailyModelRollups" })
            Expect($"{o}: {table} per day ({keyed}) = the recorded calls'", Expected(_ => true, true), Stored(table, true));
        Expect($"{o}: DailyMemberRollups per day ({keyed}) = the recorded calls'", Expected(_ => true, false), Stored("DailyMemberRollups", false));
        Expect($"{o}: DailyAgentRollups per day ({keyed}) = the agents' and workflows' calls", Expected(call => call.ByAgent, true), Stored("DailyAgentRollups", true));
    }

    /// <summary>Days with credits, in order: "day credits/light" each.</summary>
    private static string Days(IEnumerable<(string Day, long Credits, long Light)> days) =>
        string.Join(", ", days.Where(d => d.Credits != 0 || d.Light != 0).OrderBy(d => d.Day, StringComparer.Ordinal).Select(d => $"{d.Day} {d.Credits}/{d.Light}"));

    /// <summary>
    /// At the end of a run: every rebuild the time-zone changes started is finished (the background rebuilder's rounds), and
    /// each organization's daily rollups are complete and keyed in its time zone.
    /// </summary>
    private void FinishRebuilds()
    {
        // A step touches the organization's book, which sees a time-zone change a crash kept from it until now.
        bool Finish() => Model.Organizations.Values.All(org => RunOperation(new RebuildOperation { Organization = org, MaxRows = CreditLedger.RebuildRowsPerStep }))
            && RunOperation(new RebuildOperation { MaxRows = CreditLedger.RebuildRowsPerStep, WholeRound = true });
        for (var attempt = 0; !Finish(); attempt++)
            if (attempt > 20) throw Violation("the daily rollups' rebuilds cannot finish");
        using var c = Open();
        foreach (var org in Model.Organizations.Values)
        {
            var row = Rows(c, """
                SELECT a.RollupTimeZone, a.DailyRollupsBuiltBefore, o.TimeZone FROM CreditAccounts a JOIN Organizations o ON o.Id = a.OrganizationId
                WHERE a.OrganizationId = $org
                """, org.Id).Single();
            Expect($"{org.Slug}: daily rollups complete, keyed in the organization's zone", ((string?)row[2], (object?)null), ((string?)row[0], row[1]));
        }
    }

    private void CheckInvoices(SqliteConnection c, ModelOrganization org)
    {
        var invoices = Rows(c, "SELECT Id, QuoteId, Status, AppliedAt, IssuedAt, AmountCents FROM Invoices WHERE OrganizationId = $org", org.Id);
        foreach (var row in invoices)
        {
            var quote = (string?)row[1];
            if (quote is not null && org.AppliedQuotes.TryGetValue(quote, out var cents))
                Expect($"{org.Slug}: invoice of applied quote {quote}", (InvoiceStatuses.Issued, true, cents), ((string)row[2]!, row[3] is not null, (long)row[5]!));
            else if ((string)row[2]! == InvoiceStatuses.Issued && Utc(row[4]) + QuoteLifetime <= LastTick)
                throw Violation($"{org.Slug}: invoice {row[0]} ({quote}, {row[5]} cents) is issued, and no upgrade was carried out for it");
            else Report.Checks++;
        }
        foreach (var quote in org.AppliedQuotes.Keys)
            Expect($"{org.Slug}: invoices of applied quote {quote}", 1, invoices.Count(r => (string?)r[1] == quote));
    }

    /// <summary>After an evaluation with nothing else going on: every threshold reached this period has fired.</summary>
    public void ExpectAlertsFired(ModelOrganization org)
    {
        using var c = Open();
        var rules = Rows(c, "SELECT Id, Kind, Thresholds FROM AlertRules WHERE OrganizationId = $org AND Enabled = 1", org.Id);
        var fired = Rows(c, "SELECT RuleId, Threshold, Subject FROM AlertFirings WHERE OrganizationId = $org AND PeriodStart = $start", org.Id, ("$start", org.PeriodStart))
            .Select(r => ((long)r[0]!, (long)r[1]!, (string)r[2]!)).ToHashSet();
        foreach (var rule in rules)
        {
            var thresholds = ((string)rule[2]!).Split(',', StringSplitOptions.RemoveEmptyEntries).Select(long.Parse).Where(t => t > 0);
            foreach (var t in thresholds)
            {
                if ((string)rule[1]! == AlertKinds.OrgAllowancePercent && org.Allowance > 0 && org.PeriodUsage * 100 >= t * org.Allowance)
                    Expect($"{org.Slug}: alert {t}% of the allowance ({org.PeriodUsage} of {org.Allowance}) fired", true, fired.Contains(((long)rule[0]!, t, AlertFiring.OrganizationSubject)));
                if ((string)rule[1]! == AlertKinds.OrgBalanceBelow && org.Balance < t * 1000)
                    Expect($"{org.Slug}: alert balance {org.Balance} below {t} credits fired", true, fired.Contains(((long)rule[0]!, t, AlertFiring.OrganizationSubject)));
                if ((string)rule[1]! == AlertKinds.MemberCapPercent)
                    foreach (var m in org.Members.Values.Where(m => m.Cap is > 0 && org.MemberUsage.GetValueOrDefault(m.UserId) * 100 >= t * m.Cap))
                        Expect($"{org.Slug}: alert {t}% of {m.NormalizedEmail}'s cap fired", true, fired.Contains(((long)rule[0]!, t, m.UserId)));
            }
        }

        // Thresholds reached together are told once, by the highest: a covered firing points at a higher one of its rule and subject.
        Expect($"{org.Slug}: a firing told with another that is not a higher threshold of the same rule and subject", 0, Rows(c, """
            SELECT f.Id FROM AlertFirings f LEFT JOIN AlertFirings w ON w.Id = f.SentWithId
            WHERE f.OrganizationId = $org AND f.SentWithId IS NOT NULL
              AND (w.Id IS NULL OR w.RuleId <> f.RuleId OR w.Subject <> f.Subject OR w.Threshold <= f.Threshold OR w.SentWithId IS NOT NULL)
            """, org.Id).Count);

        // Out of credits and back again: the evaluation leaves the organization's credit state as the model's balance says.
        var state = Rows(c, "SELECT Exhausted FROM CreditStates WHERE OrganizationId = $org AND Subject = 'org'", org.Id);
        var exhausted = state.Count == 1 && Convert.ToInt64(state[0][0], System.Globalization.CultureInfo.InvariantCulture) == 1;
        Expect($"{org.Slug}: credit state exhausted with a balance of {org.Balance}", org.Balance <= 0, exhausted);
    }

    private static string Describe(IReadOnlyDictionary<string, long> usage) =>
        string.Join(", ", usage.Where(u => u.Value != 0).OrderBy(u => u.Key, StringComparer.Ordinal).Select(u => $"{u.Key}={u.Value}"));
}
