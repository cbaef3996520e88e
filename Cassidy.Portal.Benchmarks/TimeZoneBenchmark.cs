using System.Diagnostics;
using System.Globalization;
using Cassidy.Portal.Data;
using Cassidy.Portal.Ledger;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Benchmarks;

/// <summary>
/// <c>--benchmark-time-zone [millions]</c>: what a time-zone change of a large organization costs everyone else. Records that
/// many million calls (default 2) for "bench" through the engine, then keeps another organization's ingest running (four
/// callers, batches of 100, as the AI runtime sends them) and times each batch: with nothing else going on (the baseline),
/// while "bench" moves to another zone and the daily rollups are rebuilt a step at a time as the background rebuilder
/// does (now), and while they are rebuilt in one writer operation (as before: the whole rebuild in one transaction).
/// </summary>
public static class TimeZoneBenchmark
{
    private const int Callers = 4, BatchSize = 100;

    public static async Task RunAsync(string[] args)
    {
        var millions = args.SkipWhile(a => a != "--benchmark-time-zone").Skip(1)
            .Select(a => double.TryParse(a, CultureInfo.InvariantCulture, out var n) ? n : 0).FirstOrDefault();
        var large = await LargeOrganization.CreateAsync("time-zone", (long)((millions > 0 ? millions : 2) * 1_000_000));
        var otherId = await UsageBenchmark.SeedOrganizationAsync(large.DbFactory, large.Now, "other");
        await large.Ledger.OpenAccountAsync(otherId);
        var others = Enumerable.Range(0, UsageBenchmark.Members).Select(i => $"member{i:00}@other.test").ToList();
        long next = 0;

        // Another organization's ingest, timed batch by batch, until the work is done (at least the given time).
        async Task<(Stats Batches, double Seconds)> IngestDuringAsync(Func<Task> work, TimeSpan atLeast)
        {
            var latencies = new List<double>();
            using var stop = new CancellationTokenSource();
            var callers = Enumerable.Range(0, Callers).Select(_ => Task.Run(async () =>
            {
                var mine = new List<double>();
                while (!stop.IsCancellationRequested)
                {
                    var first = Interlocked.Add(ref next, BatchSize) - BatchSize;
                    var batch = Enumerable.Range(0, BatchSize)
                        .Select(i => SyntheticUsage.Call(first + i, "other", others, large.Models, DateTime.UtcNow.AddMinutes(-(first + i) % 600)) with
                        {
                            Id = "other-" + (first + i).ToString(CultureInfo.InvariantCulture),
                        }).ToList();
                    var sw = Stopwatch.StartNew();
                    var refused = (await large.Ledger.RecordUsageAsync(batch)).FirstOrDefault(r => r.Status != UsageStatuses.Recorded);
                    mine.Add(sw.Elapsed.TotalMilliseconds);
                    if (refused is not null) throw new InvalidOperationException($"A call was not recorded: {refused}");
                }
                lock (latencies) latencies.AddRange(mine);
            })).ToList();
            var total = Stopwatch.StartNew();
            await Task.WhenAll(work(), Task.Delay(atLeast));
            var seconds = total.Elapsed.TotalSeconds;
            await stop.CancelAsync();
            await Task.WhenAll(callers);
            return (Stats.Of(latencies), seconds);
        }

        async Task MoveAsync(string zone)
        {
            await using (var db = await large.DbFactory.CreateDbContextAsync())
                await db.Organizations.Where(o => o.Id == large.OrganizationId).ExecuteUpdateAsync(o => o.SetProperty(x => x.TimeZone, zone));
            await large.Ledger.RefreshAsync(large.OrganizationId);
        }

        var (baseline, _) = await IngestDuringAsync(() => Task.CompletedTask, TimeSpan.FromSeconds(10));
        Console.WriteLine($"  baseline: {baseline}");
        var steps = 0;
        var (stepwise, stepwiseSeconds) = await IngestDuringAsync(async () =>
        {
            await MoveAsync("Asia/Kolkata");
            steps = await large.Ledger.RebuildDailyRollupsAsync(large.OrganizationId);
        }, TimeSpan.FromSeconds(2));
        Console.WriteLine($"  rebuilt in {steps:N0} steps: {stepwise}");
        var (whole, wholeSeconds) = await IngestDuringAsync(async () =>
        {
            await MoveAsync("Europe/Berlin");
            await large.Ledger.RebuildDailyRollupsAsync(large.OrganizationId, maxRows: int.MaxValue);
        }, TimeSpan.FromSeconds(2));
        Console.WriteLine($"  rebuilt in one operation: {whole}");
        var check = await large.Ledger.FullCheckAsync(large.OrganizationId);

        long hourly;
        await using (var db = await large.DbFactory.CreateDbContextAsync())
            hourly = await db.UsageRollups.CountAsync(r => r.OrganizationId == large.OrganizationId);
        Console.WriteLine();
        Console.WriteLine($"| another organization's ingest (4 callers, batches of {BatchSize}) while \"bench\" ({hourly:N0} hourly rollup rows) changes time zone | batch p50 / p99 / max | target | result |");
        Console.WriteLine("| --- | --- | --- | --- |");
        Console.WriteLine($"| nothing else going on | {baseline.Row} | baseline | |");
        Console.WriteLine($"| daily rollups rebuilt a step at a time (now): {steps:N0} steps, {stepwiseSeconds:0.0} s | {stepwise.Row} | p99 ≤ 50 ms | {(stepwise.P99 <= 50 ? "met" : "NOT met")} |");
        Console.WriteLine($"| rebuilt in one writer operation (before): {wholeSeconds:0.0} s | {whole.Row} | | |");
        Console.WriteLine($"| the books after both changes | {(check.Ok ? "add up" : "DO NOT add up: " + check.Problem)} | | |");
        await large.CloseAsync(args.Contains("--keep"));
    }

    private sealed record Stats(double P50, double P99, double Max, int Count)
    {
        public static Stats Of(List<double> times)
        {
            times.Sort();
            double At(double q) => times[Math.Min(times.Count - 1, (int)Math.Ceiling(q * times.Count) - 1)];
            return new Stats(At(0.50), At(0.99), times[^1], times.Count);
        }

        public string Row => $"{P50:0.0} / {P99:0.0} / {Max:N0} ms";
        public override string ToString() => $"{Count:N0} batches, {Row}";
    }
}
