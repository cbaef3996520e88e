using System.Diagnostics;
using Cassidy.Portal.Data;
using Cassidy.Portal.Billing;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Pricing;
using Cassidy.Portal.Usage;
using Microsoft.AspNetCore.Identity;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project Cassidy.Portal -- --benchmark-usage [runs]</c>: fills a fresh SQLite database with
/// 1,000,000 and then 10,000,000 generated model-call events (50 members, 5 models, 90 days), with the hourly rollups the
/// engine would have written (built by bulk SQL from those events; the daily ones re-keyed by the engine itself, as after
/// a time-zone change), and times the Usage tab's data load for the last 30 days of an organization in New York through
/// <see cref="UsageReport"/> — against the same figures computed by GROUP BY over the raw events.
/// </summary>
public static class UsageBenchmark
{
    internal const int Members = 50;
    internal const int Days = 90;
    /// <summary>Not UTC, so local days and UTC days differ (and DST applies), as for most customers.</summary>
    private const string Zone = "America/New_York";

    public static async Task RunAsync(string[] args)
    {
        var runs = args.SkipWhile(a => a != "--benchmark-usage").Skip(1).Select(a => int.TryParse(a, out var n) ? n : 0).FirstOrDefault();
        runs = runs > 0 ? runs : 30;
        var folder = Path.Combine(Path.GetTempPath(), "cassidy-bench", "usage-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var connectionString = $"Data Source={Path.Combine(folder, "portal.db")}";
        Console.WriteLine($"Cassidy usage benchmark — {Environment.ProcessorCount} cores, {runs} runs per figure, database {folder}");

        var services = new ServiceCollection();
        services.AddPortalDatabase(connectionString);
        await using var provider = services.BuildServiceProvider();
        await PortalDatabase.MigrateAsync(provider);
        var dbFactory = provider.GetRequiredService<IDbContextFactory<PortalDbContext>>();

        var configuration = new ConfigurationBuilder().AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json")).Build();
        var prices = new PriceTable(configuration.GetSection(MeteringOptions.Section).Get<MeteringOptions>()!);
        var plans = PlanCatalog.FromConfiguration(configuration);
        var now = DateTime.UtcNow;
        var orgId = await SeedOrganizationAsync(dbFactory, now);
        await using var ledger = CreditLedger.Create(connectionString, prices, plans, TimeProvider.System,
            Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        await ledger.OpenAccountAsync(orgId);
        var report = new UsageReport(dbFactory, ledger, plans, TimeProvider.System, new SharedLoads());
        var zone = TimeZoneInfo.FindSystemTimeZoneById(Zone);
        var range = UsageRange.LastDays(30, now, zone);
        var models = prices.Options.Models.OrderBy(m => m.Key, StringComparer.Ordinal).Select(m =>
        {
            var light = m.Value.LighterAlternative is { } l ? prices.Options.Models[l] : m.Value;
            return (m.Key, m.Value.Input, m.Value.Output, LightInput: light.Input, LightOutput: light.Output);
        }).ToList();

        var results = new List<(long Events, Stats Rollup, Stats Raw, (int Hourly, int Daily) RollupRows)>();
        long generated = 0;
        foreach (var target in new long[] { 1_000_000, 10_000_000 })
        {
            var sw = Stopwatch.StartNew();
            await using (var connection = new SqliteConnection(connectionString))
            {
                await connection.OpenAsync();
                while (generated < target)
                {
                    var chunk = Math.Min(1_000_000, target - generated);
                    Generate(connection, orgId, generated, chunk, now, models);
                    generated += chunk;
                    Console.WriteLine($"  {generated:N0} events and their hourly rollups written ({sw.Elapsed.TotalSeconds:0} s)");
                }
                // The engine rebuilds the daily rollups when it finds them stale (as after a time-zone change); the new
                // version makes it reload the account.
                Exec(connection, "UPDATE CreditAccounts SET RollupTimeZone = NULL, Version = Version + 1");
            }
            sw.Restart();
            await ledger.RefreshAsync(orgId);
            await ledger.RebuildDailyRollupsAsync(orgId, maxRows: int.MaxValue);
            Console.WriteLine($"  daily rollups rebuilt by the engine from the hourly ones in {sw.Elapsed.TotalSeconds:0.0} s");
            await using (var connection = new SqliteConnection(connectionString))
            {
                await connection.OpenAsync();
                Exec(connection, "ANALYZE");
            }
            var rollupRows = await CountAsync(connectionString, range, zone);

            // Warm both paths once, then time them.
            await UsageTabAsync(report, orgId, range, zone);
            var rollup = await TimeAsync(runs, () => UsageTabAsync(report, orgId, range, zone));
            var raw = await TimeAsync(Math.Max(3, runs / 10), () => Task.Run(() => RawGroupBy(connectionString, orgId, range)));
            results.Add((generated, rollup, raw, rollupRows));
            Console.WriteLine($"  {generated:N0} events: rollups p50 {rollup.P50:0.0} ms p95 {rollup.P95:0.0} ms; raw GROUP BY p50 {raw.P50:0.0} ms");
        }

        var (small, large) = (results[0], results[1]);
        Console.WriteLine();
        Console.WriteLine("| measurement (Usage tab data load, last 30 days) | figure | target | result |");
        Console.WriteLine("| --- | --- | --- | --- |");
        foreach (var r in results)
        {
            var limit = r.Events >= 10_000_000 ? 100 : 50;
            Row($"{r.Events:N0} events ({r.RollupRows.Hourly:N0} hourly, {r.RollupRows.Daily:N0} daily rollup rows in range): rollups", $"p50 {r.Rollup.P50:0.0} ms, p95 {r.Rollup.P95:0.0} ms", $"p95 ≤ {limit} ms", r.Rollup.P95 <= limit);
            Row($"{r.Events:N0} events: GROUP BY over raw events", $"p50 {r.Raw.P50:0.0} ms, p95 {r.Raw.P95:0.0} ms", "baseline", null);
            Row($"{r.Events:N0} events: speed-up vs raw (p50)", $"{r.Raw.P50 / r.Rollup.P50:0.0}×", "≥ 20×", r.Raw.P50 / r.Rollup.P50 >= 20);
        }
        Row("t(10M) / t(1M) (p95)", $"{large.Rollup.P95 / small.Rollup.P95:0.00}", "≤ 2", large.Rollup.P95 / small.Rollup.P95 <= 2);
        SqliteConnection.ClearAllPools();
        if (args.Contains("--keep")) Console.WriteLine($"Database kept: {folder}");
        else try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
    }

    private static void Row(string what, string figure, string target, bool? ok) =>
        Console.WriteLine($"| {what} | {figure} | {target} | {(ok is null ? "" : ok.Value ? "met" : "NOT met")} |");

    /// <summary>What the Usage tab loads on open: periods and balance, the report, the meters and the member breakdown.</summary>
    private static async Task UsageTabAsync(UsageReport report, int orgId, UsageRange range, TimeZoneInfo zone)
    {
        await report.PeriodsAsync(orgId);
        await report.LoadAsync(UsageScope.Organization(orgId), range, zone);
        await report.MetersAsync(orgId);
        await report.MembersAsync(orgId, range);
    }

    /// <summary>The same figures straight from the raw events: per hour and feature, per member and model, per agent and model.</summary>
    private static void RawGroupBy(string connectionString, int orgId, UsageRange range)
    {
        using var connection = new SqliteConnection(connectionString);
        connection.Open();
        foreach (var sql in new[]
        {
            "SELECT strftime('%Y-%m-%d %H', OccurredAt), Feature, SUM(CreditsMillicredits) FROM UsageEvents WHERE OrganizationId = $org AND Type = 'model_call' AND OccurredAt >= $from AND OccurredAt < $to GROUP BY 1, 2",
            "SELECT UserId, Model, SUM(CreditsMillicredits), COUNT(*), SUM(InputTokens), SUM(KnowledgeTokens), SUM(OutputTokens) FROM UsageEvents WHERE OrganizationId = $org AND Type = 'model_call' AND OccurredAt >= $from AND OccurredAt < $to GROUP BY 1, 2",
            "SELECT AgentId, WorkflowId, Model, SUM(CreditsMillicredits), COUNT(*), COUNT(DISTINCT RunId) FROM UsageEvents WHERE OrganizationId = $org AND Type = 'model_call' AND OccurredAt >= $from AND OccurredAt < $to GROUP BY 1, 2, 3",
        })
        {
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            command.Parameters.AddWithValue("$org", orgId);
            command.Parameters.AddWithValue("$from", range.FromUtc);
            command.Parameters.AddWithValue("$to", range.ToUtc);
            using var reader = command.ExecuteReader();
            while (reader.Read()) { }
        }
    }

    internal static async Task<int> SeedOrganizationAsync(IDbContextFactory<PortalDbContext> dbFactory, DateTime now, string slug = "bench")
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        var anchor = now.Date.AddDays(-Days - 10);
        var org = new Organization { Slug = slug, Name = "Benchmark " + slug, Plan = "Business", BillingAnchor = anchor, CreatedAt = anchor, DefaultMemberCapMillicredits = 5_000_000, TimeZone = Zone };
        db.Organizations.Add(org);
        for (var i = 0; i < Members; i++)
        {
            var email = $"member{i:00}@{slug}.test";
            var user = new ApplicationUser { UserName = email, NormalizedUserName = email.ToUpperInvariant(), Email = email, NormalizedEmail = email.ToUpperInvariant(), DisplayName = $"Member {i:00}", SecurityStamp = Guid.NewGuid().ToString(), CreatedAt = anchor };
            db.Users.Add(user);
            db.Memberships.Add(new Membership { Organization = org, User = user, Role = i == 0 ? OrganizationRole.Owner : OrganizationRole.Member, JoinedAt = anchor });
        }
        await db.SaveChangesAsync();
        return org.Id;
    }

    /// <summary>
    /// Writes <paramref name="count"/> raw events (one INSERT … SELECT over a recursive sequence) and folds them into the
    /// hourly rollups with bulk upserts, all in one transaction.
    /// </summary>
    private static void Generate(SqliteConnection connection, int orgId, long first, long count, DateTime now,
        List<(string Model, decimal Input, decimal Output, decimal LightInput, decimal LightOutput)> models)
    {
        using var transaction = connection.BeginTransaction();
        void Run(string sql)
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandTimeout = 0;
            command.CommandText = sql;
            command.Parameters.AddWithValue("$org", orgId);
            command.Parameters.AddWithValue("$first", first);
            command.Parameters.AddWithValue("$last", first + count - 1);
            command.Parameters.AddWithValue("$t0", new DateTimeOffset(now.AddDays(-Days)).ToUnixTimeSeconds());
            command.Parameters.AddWithValue("$span", (long)TimeSpan.FromDays(Days).TotalSeconds);
            command.ExecuteNonQuery();
        }
        Run("CREATE TEMP TABLE IF NOT EXISTS bench_users (k INTEGER PRIMARY KEY, id TEXT NOT NULL)");
        Run("INSERT OR IGNORE INTO bench_users (k, id) SELECT ROW_NUMBER() OVER (ORDER BY UserId) - 1, UserId FROM Memberships WHERE OrganizationId = $org");
        Run("CREATE TEMP TABLE IF NOT EXISTS bench_models (k INTEGER PRIMARY KEY, name TEXT NOT NULL, input REAL NOT NULL, output REAL NOT NULL, light_input REAL NOT NULL, light_output REAL NOT NULL)");
        Run("INSERT OR IGNORE INTO bench_models VALUES " + string.Join(", ", models.Select((m, i) =>
            FormattableString.Invariant($"({i}, '{m.Model}', {m.Input}, {m.Output}, {m.LightInput}, {m.LightOutput})"))));
        // Token counts, times, members, models and agents vary with n (multiplicative hashing spreads them).
        Run($"""
            WITH RECURSIVE seq(n) AS (SELECT $first UNION ALL SELECT n + 1 FROM seq WHERE n < $last),
            e AS (SELECT n, (n * 2654435761) % 4294967296 AS h FROM seq)
            INSERT INTO UsageEvents (OrganizationId, ExternalId, ContentHash, Type, UserId, OccurredAt, Feature, Model, InputTokens,
                KnowledgeTokens, OutputTokens, AgentId, WorkflowId, RunId, CreditsMillicredits, RecordedAt)
            SELECT $org, 'bench-' || n, x'00', 'model_call', u.id,
                strftime('%Y-%m-%d %H:%M:%S', $t0 + (h % $span), 'unixepoch'),
                CASE WHEN h % 4 = 0 THEN 'workflow_run' ELSE 'agent_chat' END, m.name,
                200 + h % 1800, (h / 7) % 3 * 500, 50 + h % 600,
                CASE WHEN h % 4 = 0 THEN NULL ELSE 'Agent ' || (h / 11) % 8 END,
                CASE WHEN h % 4 = 0 THEN 'Workflow ' || (h / 13) % 4 ELSE NULL END,
                CASE WHEN h % 4 = 0 THEN 'run-' || (n / 16) ELSE NULL END,
                CAST(((200 + h % 1800) + (h / 7) % 3 * 500) * m.input + (50 + h % 600) * m.output + (CASE WHEN h % 4 = 0 THEN 500 ELSE 0 END) + 0.999 AS INTEGER),
                strftime('%Y-%m-%d %H:%M:%S', $t0 + (h % $span), 'unixepoch')
            FROM e JOIN bench_users u ON u.k = (h / 5) % {Members} JOIN bench_models m ON m.k = (h / 3) % {models.Count}
            """);
        const string chunk = "FROM UsageEvents WHERE Id > (SELECT COALESCE(MAX(Id), 0) FROM UsageEvents) - $last + $first - 1 AND OrganizationId = $org";
        Run($"""
            INSERT INTO UsageRollups (OrganizationId, HourStart, UserId, Model, Feature, CreditsMillicredits, Calls, InputTokens, KnowledgeTokens,
                OutputTokens, LightCreditsMillicredits)
            SELECT e.OrganizationId, strftime('%Y-%m-%d %H:00:00', e.OccurredAt), e.UserId, e.Model, e.Feature, SUM(e.CreditsMillicredits), COUNT(*),
                SUM(e.InputTokens), SUM(e.KnowledgeTokens), SUM(e.OutputTokens),
                SUM(CAST((e.InputTokens + e.KnowledgeTokens) * m.light_input + e.OutputTokens * m.light_output
                    + (CASE WHEN e.Feature = 'workflow_run' THEN 500 ELSE 0 END) + 0.999 AS INTEGER))
            FROM UsageEvents e JOIN bench_models m ON m.name = e.Model
            WHERE e.Id > (SELECT COALESCE(MAX(Id), 0) FROM UsageEvents) - $last + $first - 1 AND e.OrganizationId = $org
            GROUP BY 1, 2, 3, 4, 5
            ON CONFLICT (OrganizationId, HourStart, UserId, Model, Feature) DO UPDATE SET
                CreditsMillicredits = CreditsMillicredits + excluded.CreditsMillicredits, Calls = Calls + excluded.Calls,
                InputTokens = InputTokens + excluded.InputTokens, KnowledgeTokens = KnowledgeTokens + excluded.KnowledgeTokens,
                OutputTokens = OutputTokens + excluded.OutputTokens,
                LightCreditsMillicredits = LightCreditsMillicredits + excluded.LightCreditsMillicredits
            """);
        Run($"""
            INSERT INTO AgentRollups (OrganizationId, HourStart, UserId, AgentId, WorkflowId, Model, CreditsMillicredits, Calls,
                LightCreditsMillicredits)
            SELECT e.OrganizationId, strftime('%Y-%m-%d %H:00:00', e.OccurredAt), e.UserId, COALESCE(e.AgentId, ''), COALESCE(e.WorkflowId, ''), e.Model,
                SUM(e.CreditsMillicredits), COUNT(*),
                SUM(CAST((e.InputTokens + e.KnowledgeTokens) * m.light_input + e.OutputTokens * m.light_output
                    + (CASE WHEN e.Feature = 'workflow_run' THEN 500 ELSE 0 END) + 0.999 AS INTEGER))
            FROM UsageEvents e JOIN bench_models m ON m.name = e.Model
            WHERE e.Id > (SELECT COALESCE(MAX(Id), 0) FROM UsageEvents) - $last + $first - 1 AND e.OrganizationId = $org
            GROUP BY 1, 2, 3, 4, 5, 6
            ON CONFLICT (OrganizationId, HourStart, UserId, AgentId, WorkflowId, Model) DO UPDATE SET
                CreditsMillicredits = CreditsMillicredits + excluded.CreditsMillicredits, Calls = Calls + excluded.Calls,
                LightCreditsMillicredits = LightCreditsMillicredits + excluded.LightCreditsMillicredits
            """);
        Run($"""
            INSERT INTO RunRollups (OrganizationId, RunId, UserId, AgentId, WorkflowId, FirstAt, LastAt, CreditsMillicredits, Calls)
            SELECT OrganizationId, RunId, MIN(UserId), '', MIN(WorkflowId), MIN(OccurredAt), MAX(OccurredAt), SUM(CreditsMillicredits), COUNT(*)
            {chunk} AND RunId IS NOT NULL GROUP BY OrganizationId, RunId
            ON CONFLICT (OrganizationId, RunId) DO UPDATE SET
                CreditsMillicredits = CreditsMillicredits + excluded.CreditsMillicredits, Calls = Calls + excluded.Calls,
                FirstAt = MIN(FirstAt, excluded.FirstAt), LastAt = MAX(LastAt, excluded.LastAt)
            """);
        transaction.Commit();
    }

    private static void Exec(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandTimeout = 0;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>Hourly and daily usage rollup rows of the range (what a GROUP BY over each would read).</summary>
    private static async Task<(int Hourly, int Daily)> CountAsync(string connectionString, UsageRange range, TimeZoneInfo zone)
    {
        await using var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync();
        async Task<int> Count(string sql, object from, object to)
        {
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            command.Parameters.AddWithValue("$from", from);
            command.Parameters.AddWithValue("$to", to);
            return Convert.ToInt32(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
        }
        return (await Count("SELECT COUNT(*) FROM UsageRollups WHERE HourStart >= $from AND HourStart < $to", range.FromUtc, range.ToUtc),
            await Count("SELECT COUNT(*) FROM DailyUsageRollups WHERE Day >= $from AND Day < $to",
                LocalDays.Of(range.FromUtc, zone), LocalDays.Of(range.ToUtc, zone)));
    }

    internal sealed record Stats(double P50, double P95);

    internal static async Task<Stats> TimeAsync(int runs, Func<Task> action)
    {
        var times = new List<double>(runs);
        for (var i = 0; i < runs; i++)
        {
            var sw = Stopwatch.StartNew();
            await action();
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        double At(double q) => times[Math.Min(times.Count - 1, (int)Math.Ceiling(q * times.Count) - 1)];
        return new Stats(At(0.50), At(0.95));
    }
}
