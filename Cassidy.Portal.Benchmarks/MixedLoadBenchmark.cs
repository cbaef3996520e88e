using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Cassidy.Portal.Data;
using Cassidy.Portal.Ledger;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Playwright;

namespace Cassidy.Portal.Benchmarks;

/// <summary>
/// The mixed-load part of <c>--benchmark</c> (issue 13; skip it with <c>--no-mixed</c>): a portal in Production on the demo
/// database with 50 live Usage tabs of acme open in Chromium (charts not drawn, lowest CPU priority: see
/// <see cref="LiveTabsBenchmark"/>), while the AI runtime's traffic arrives over HTTP for 60 s — 20,000 events/s in batches
/// of 100, and 1,000 authorize requests/s. Both are sent on a schedule (open loop: a request leaves when it is due, not when
/// the one before was answered), so a portal that falls behind shows in the latencies. The same traffic runs first for 20 s
/// with no tab open (the run's baseline). Then every acknowledged event is looked for in the database.
/// </summary>
public static class MixedLoadBenchmark
{
    private const int Port = 5304, Tabs = 50, EventsPerSecond = 20_000, BatchSize = 100, AuthorizePerSecond = 1_000;
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(60), BaselineDuration = TimeSpan.FromSeconds(20);
    private const string Key = "mixed-benchmark-key";

    public static async Task RunAsync()
    {
        var folder = Path.Combine(Path.GetTempPath(), "cassidy-bench", "mixed-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        Console.WriteLine();
        Console.WriteLine($"mixed load: {Tabs} live Usage tabs, {EventsPerSecond:N0} events/s in batches of {BatchSize}, {AuthorizePerSecond:N0} authorize/s, {Duration.TotalSeconds:0} s (database {folder})");
        var app = await PageBenchmark.StartAsync(Path.Combine(folder, "demo.db"), Port,
            new() { ["Ingest:ApiKeys:0"] = Key, ["Ingest:RateLimitPerSecond"] = "1000000" });
        var ledger = app.Services.GetRequiredService<CreditLedger>();
        int acme;
        List<string> members;
        await using (var db = await app.Services.GetRequiredService<IDbContextFactory<PortalDbContext>>().CreateDbContextAsync())
        {
            acme = await db.Organizations.Where(o => o.Slug == "acme").Select(o => o.Id).SingleAsync();
            members = await db.Memberships.Where(m => m.OrganizationId == acme).Select(m => m.User.Email!).OrderBy(e => e).ToListAsync();
        }
        await ledger.GrantAsync(acme, GrantKinds.CreditPackage, 50_000_000_000, null, "benchmark", null); // a minute of heavy use
        var models = ledger.Prices.Options.Models.Keys.Order(StringComparer.Ordinal).ToArray();

        // Ingest and authorize come from different parts of the AI runtime: each its own connections.
        using var http = Client();
        using var authorizeHttp = Client();
        long acknowledged = 0;
        var failures = new ConcurrentQueue<string>();
        var batchNumber = 0;
        var authorizeNumber = 0;
        async Task<(List<double> Ingest, List<double> Authorize)> LoadAsync(TimeSpan duration, Func<CancellationToken, Task> meanwhile)
        {
            using var stop = new CancellationTokenSource(duration);
            var ingest = Paced(BatchSize * 1.0 / EventsPerSecond, failures, async () =>
            {
                var n = Interlocked.Increment(ref batchNumber);
                var recorded = await PostBatchAsync(http, n, members, models);
                Interlocked.Add(ref acknowledged, recorded);
            }, stop.Token);
            var authorize = Paced(1.0 / AuthorizePerSecond, failures, async () =>
            {
                var n = Interlocked.Increment(ref authorizeNumber);
                using var response = await authorizeHttp.PostAsync("/internal/v1/authorize", Json($"{{\"organization\":\"acme\",\"user\":\"{members[n % members.Count]}\",\"feature\":\"agent_chat\"}}"));
                response.EnsureSuccessStatusCode();
                await response.Content.ReadAsByteArrayAsync();
            }, stop.Token);
            await meanwhile(stop.Token);
            return (await ingest, await authorize);
        }

        // The same traffic without any tab open first (after 5 s that warm up this portal): the baseline of this run.
        await LoadAsync(TimeSpan.FromSeconds(5), _ => Task.CompletedTask);
        var baselineProcess = new ProcessWatch();
        var (ingestAlone, authorizeAlone) = await LoadAsync(BaselineDuration, baselineProcess.RunAsync);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = "/usr/bin/chromium", Headless = true });
        await using var context = await LiveTabsBenchmark.TabsContextAsync(browser, Port, await PageBenchmark.SignInAsync(browser, Port));
        var opened = Stopwatch.StartNew();
        var pages = await LiveTabsBenchmark.OpenUsageTabsAsync(context, Tabs);
        Console.WriteLine($"  {pages.Count} tabs opened in {opened.Elapsed.TotalSeconds:0} s");
        await LiveTabsBenchmark.LowerChromiumAsync();
        var lags = new List<double>();
        var tabsProcess = new ProcessWatch();
        var (ingestTimes, authorizeTimes) = await LoadAsync(Duration, stop => Task.WhenAll(LiveTabsBenchmark.SampleLagsAsync(app, acme, pages, lags, stop), tabsProcess.RunAsync(stop)));

        long stored;
        await using (var connection = new SqliteConnection(PortalDatabase.ConnectionString(app.Configuration)))
        {
            await connection.OpenAsync();
            await using var count = connection.CreateCommand();
            count.CommandText = "SELECT COUNT(*) FROM UsageEvents WHERE OrganizationId = $org AND ExternalId LIKE 'mix-%'";
            count.Parameters.AddWithValue("$org", acme);
            stored = (long)(await count.ExecuteScalarAsync())!;
        }

        lags.Sort();
        var seconds = Duration.TotalSeconds;
        var ingestRate = ingestTimes.Count * BatchSize / seconds;
        var authorizeRate = authorizeTimes.Count / seconds;
        var (ingestP99, authorizeP99) = (P99(ingestTimes), P99(authorizeTimes));
        Console.WriteLine();
        Console.WriteLine($"| mixed load for {seconds:0} s, {pages.Count} live Usage tabs open (demo database; Chromium on the same 2 cores) | figure | target | result |");
        Console.WriteLine("| --- | --- | --- | --- |");
        Console.WriteLine($"| baseline: the same traffic for {BaselineDuration.TotalSeconds:0} s with no tab open | ingest {ingestAlone.Count * BatchSize / BaselineDuration.TotalSeconds:N0} events/s, p99 {P99(ingestAlone):0.0} ms; authorize {authorizeAlone.Count / BaselineDuration.TotalSeconds:N0}/s, p99 {P99(authorizeAlone):0.00} ms | | |");
        Console.WriteLine($"| the process meanwhile (baseline / tabs open) | {baselineProcess} / {tabsProcess} | | |");
        Console.WriteLine($"| ingest, batches of {BatchSize} sent at {EventsPerSecond:N0} events/s | {ingestRate:N0} events/s answered, p99 {ingestP99:0.0} ms | p99 ≤ 50 ms | {(ingestP99 <= 50 && ingestRate >= 0.95 * EventsPerSecond ? "met" : "NOT met")} |");
        Console.WriteLine($"| authorize sent at {AuthorizePerSecond:N0}/s | {authorizeRate:N0}/s answered, p99 {authorizeP99:0.00} ms | p99 ≤ 5 ms | {(authorizeP99 <= 5 && authorizeRate >= 0.95 * AuthorizePerSecond ? "met" : "NOT met")} |");
        if (lags.Count > 0)
            Console.WriteLine($"| time until a tab shows the usage recorded up to a moment ({lags.Count:N0} tab samples) | p50 {LiveTabsBenchmark.At(lags, 0.5):0.0} s, max {lags[^1]:0.0} s | ≤ 5 s | {(lags[^1] <= 5 ? "met" : "NOT met")} |");
        Console.WriteLine($"| acknowledged events in the database | {stored:N0} of {acknowledged:N0} | all | {(stored == acknowledged && failures.IsEmpty ? "met" : "NOT met")} |");
        if (!failures.IsEmpty) Console.WriteLine($"{failures.Count} requests failed, the first: {failures.First()}");
        await context.CloseAsync();
        await app.StopAsync();
        await app.DisposeAsync();
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
    }

    /// <summary>
    /// Sends <paramref name="send"/> every <paramref name="intervalSeconds"/> until <paramref name="stop"/>, without waiting for
    /// answers (at most 512 in flight); returns each answered request's time from when it was due.
    /// </summary>
    private static async Task<List<double>> Paced(double intervalSeconds, ConcurrentQueue<string> failures, Func<Task> send, CancellationToken stop)
    {
        var times = new ConcurrentBag<double>();
        var inFlight = new List<Task>();
        using var gate = new SemaphoreSlim(512);
        var start = Stopwatch.GetTimestamp();
        long sent = 0;
        while (!stop.IsCancellationRequested)
        {
            var due = (long)(Stopwatch.GetElapsedTime(start).TotalSeconds / intervalSeconds);
            for (; sent < due && !stop.IsCancellationRequested; sent++)
            {
                var dueAt = start + (long)(sent * intervalSeconds * Stopwatch.Frequency);
                await gate.WaitAsync(CancellationToken.None);
                inFlight.Add(Task.Run(async () =>
                {
                    try
                    {
                        await send();
                        times.Add(Stopwatch.GetElapsedTime(dueAt).TotalMilliseconds);
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
                    {
                        failures.Enqueue(e.Message);
                    }
                    finally
                    {
                        gate.Release();
                    }
                }, CancellationToken.None));
            }
            inFlight.RemoveAll(t => t.IsCompleted);
            await Task.Delay(2, CancellationToken.None);
        }
        await Task.WhenAll(inFlight);
        return times.ToList();
    }

    /// <summary>
    /// What this process (portal, load and the Playwright client) did during a phase: CPU, the share of the time the GC held
    /// every thread, and its longest gen0/gen1 pause — under load, the pauses are where the latencies' tail comes from.
    /// </summary>
    private sealed class ProcessWatch
    {
        private double _cores, _pauseShare, _longestPause;

        public async Task RunAsync(CancellationToken stop)
        {
            using var process = Process.GetCurrentProcess();
            var (cpu, pause, clock, lastGc) = (process.TotalProcessorTime, GC.GetTotalPauseDuration(), Stopwatch.StartNew(), -1L);
            while (!stop.IsCancellationRequested)
            {
                try { await Task.Delay(TimeSpan.FromMilliseconds(200), stop); } catch (OperationCanceledException) { }
                if (GC.GetGCMemoryInfo(GCKind.Ephemeral) is { Index: > 0 } gc && gc.Index != lastGc)
                {
                    lastGc = gc.Index;
                    _longestPause = Math.Max(_longestPause, gc.PauseDurations[0].TotalMilliseconds);
                }
            }
            process.Refresh();
            _cores = (process.TotalProcessorTime - cpu).TotalSeconds / clock.Elapsed.TotalSeconds;
            _pauseShare = (GC.GetTotalPauseDuration() - pause) / clock.Elapsed;
        }

        public override string ToString() =>
            $"this process {_cores:0.00} cores, GC pauses {_pauseShare:P1} of the time, longest gen0/1 pause seen {_longestPause:0} ms";
    }

    private static async Task<int> PostBatchAsync(HttpClient http, int n, List<string> members, string[] models)
    {
        var sb = new StringBuilder("{\"events\":[");
        var at = DateTimeOffset.UtcNow.ToString("O");
        for (var i = 0; i < BatchSize; i++)
        {
            if (i > 0) sb.Append(',');
            sb.Append("{\"id\":\"mix-").Append(n).Append('-').Append(i).Append("\",\"organization\":\"acme\",\"user\":\"").Append(members[(n + i) % members.Count])
              .Append("\",\"occurredAt\":\"").Append(at).Append("\",\"feature\":\"agent_chat\",\"model\":\"").Append(models[i % models.Length])
              .Append("\",\"inputTokens\":").Append(500 + i).Append(",\"knowledgeTokens\":200,\"outputTokens\":120,\"capabilities\":[],\"agentId\":\"Support Triage\"}");
        }
        sb.Append("]}");
        using var response = await http.PostAsync("/internal/v1/usage-events", Json(sb.ToString()));
        response.EnsureSuccessStatusCode();
        using var body = JsonDocument.Parse(await response.Content.ReadAsStreamAsync());
        return body.RootElement.GetProperty("recorded").GetInt32();
    }

    private static HttpClient Client()
    {
        var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 512, UseCookies = false, ActivityHeadersPropagator = null })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{Port}"),
        };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        return client;
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static double P99(List<double> times)
    {
        if (times.Count == 0) return double.NaN;
        times.Sort();
        return LiveTabsBenchmark.At(times, 0.99);
    }
}
