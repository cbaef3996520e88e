using System.Diagnostics;
using System.Globalization;
using Cassidy.Portal.Ledger;

namespace Cassidy.Portal.Benchmarks;

/// <summary>
/// <c>--benchmark-ledger-check [millions]</c>: records that many million model calls (default 2) through the engine's own
/// write path (<see cref="CreditLedger.RecordUsageAsync"/>, batches of 1,000 from four callers, 50 members, 90 days,
/// agents and workflows) into a fresh database, then times what the Overview's ledger check costs: the full check of every
/// entry, event and rollup (the baseline, and what the page ran on every load before), against the incremental check after
/// each of 20 rounds of 1,000 new calls (what the page runs now). Both must say the books add up.
/// </summary>
public static class LedgerCheckBenchmark
{
    public static async Task RunAsync(string[] args)
    {
        var millions = args.SkipWhile(a => a != "--benchmark-ledger-check").Skip(1)
            .Select(a => double.TryParse(a, CultureInfo.InvariantCulture, out var n) ? n : 0).FirstOrDefault();
        var total = (long)((millions > 0 ? millions : 2) * 1_000_000);
        var large = await LargeOrganization.CreateAsync("ledger-check", total);
        var (ledger, orgId) = (large.Ledger, large.OrganizationId);

        LedgerCheck? full = null;
        var fullTimes = await UsageBenchmark.TimeAsync(3, async () => full = await ledger.FullCheckAsync(orgId));
        var recorded = total;
        LedgerVerification? last = null;
        var incremental = new List<double>();
        for (var round = 0; round < 20; round++)
        {
            await large.RecordAsync(recorded, 1000, n => DateTime.UtcNow.AddMinutes(-(n % 600))); // new usage, over the last ten hours
            recorded += 1000;
            var t = Stopwatch.StartNew();
            last = await ledger.VerifyAsync(orgId);
            incremental.Add(t.Elapsed.TotalMilliseconds);
            if (!last.Ok || last.WasFull) throw new InvalidOperationException($"incremental check: {last}");
        }
        incremental.Sort();
        var (p50, p95) = (incremental[incremental.Count / 2], incremental[(int)Math.Ceiling(incremental.Count * 0.95) - 1]);

        Console.WriteLine();
        Console.WriteLine("| measurement (the Overview's ledger check) | figure | target | result |");
        Console.WriteLine("| --- | --- | --- | --- |");
        Console.WriteLine($"| full check, {full!.LedgerEntries:N0} ledger entries (what each Overview load ran before; now daily, in the background) | p50 {fullTimes.P50:N0} ms, p95 {fullTimes.P95:N0} ms | baseline | {(full.Ok ? "adds up" : "DOES NOT add up")} |");
        Console.WriteLine($"| incremental check after 1,000 new calls ({last!.LedgerEntries:N0} entries counted, {last.DaysRechecked} days re-read) | p50 {p50:0.0} ms, p95 {p95:0.0} ms | p95 ≤ 100 ms | {(p95 <= 100 ? "met" : "NOT met")} |");
        Console.WriteLine($"| speed-up (p50) | {fullTimes.P50 / p50:N0}× | | |");
        await large.CloseAsync(args.Contains("--keep"));
    }
}
