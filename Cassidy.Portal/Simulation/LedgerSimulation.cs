using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Cassidy.Portal.Simulation;

/// <param name="Seed">Decides everything: operations, their interleaving, transactions, time, faults.</param>
/// <param name="Steps">How many steps (start a caller, let one continue, form a transaction, come to rest...).</param>
/// <param name="Duration">Stop earlier, when this much wall-clock time has passed.</param>
/// <param name="Callers">Callers in flight at once, at most.</param>
/// <param name="Faults">Inject crashes and faults.</param>
public sealed record SimulationOptions(int Seed, int Steps = 1_500, TimeSpan? Duration = null, int Callers = 6, bool Faults = true);

/// <summary>What a run did: it passed, or it threw a <see cref="SimulationFailureException"/>.</summary>
public sealed class SimulationReport
{
    public int Seed { get; init; }
    public int Steps { get; set; }
    public long Checks { get; set; }
    public int FullChecks { get; set; }
    public int Pumps { get; set; }
    public int Commits { get; set; }
    public int Crashes { get; set; }
    public int Faults { get; set; }
    public int Restarts { get; set; }
    public int TimeAdvances { get; set; }
    public int Lost { get; set; }
    public int FailedUnderFault { get; set; }
    public long StrictAuthorizations { get; set; }
    public SortedDictionary<string, int> Operations { get; } = new(StringComparer.Ordinal);
    /// <summary>A digest of every answer in order: the same seed and steps give the same digest.</summary>
    public string Digest { get; set; } = "";
    public TimeSpan Elapsed { get; set; }

    public void Count(string kind) => Operations[kind] = Operations.GetValueOrDefault(kind) + 1;

    public void Add(SimulationReport other)
    {
        Steps += other.Steps; Checks += other.Checks; FullChecks += other.FullChecks; Pumps += other.Pumps; Commits += other.Commits;
        Crashes += other.Crashes; Faults += other.Faults; Restarts += other.Restarts; TimeAdvances += other.TimeAdvances;
        Lost += other.Lost; FailedUnderFault += other.FailedUnderFault; StrictAuthorizations += other.StrictAuthorizations;
        foreach (var (kind, n) in other.Operations) Operations[kind] = Operations.GetValueOrDefault(kind) + n;
        Elapsed += other.Elapsed;
    }

    public override string ToString()
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(c, $"steps {Steps:N0}, operations {Operations.Values.Sum():N0}, transactions {Commits:N0} in {Pumps:N0} pumps, " +
                         $"invariant checks passed {Checks:N0} ({FullChecks:N0} full comparisons at rest), {Elapsed.TotalSeconds:0.0} s");
        sb.AppendLine(c, $"crashes {Crashes}, faults {Faults}, restarts {Restarts}, time jumps {TimeAdvances}, callers lost in crashes {Lost}, " +
                         $"failed under a fault {FailedUnderFault}, authorize decisions compared exactly {StrictAuthorizations:N0}");
        sb.Append("operations: ").AppendJoin(", ", Operations.Select(o => $"{o.Key} {o.Value:N0}"));
        return sb.ToString();
    }
}

/// <summary>An invariant broke, or the engine disagreed with the model: the seed, the step, and how to replay it.</summary>
public sealed class SimulationFailureException(int seed, int step, string message, string replay, IReadOnlyList<string> recent)
    : Exception($"seed {seed}, step {step}: {message}\nreplay: {replay}\nlast steps:\n  {string.Join("\n  ", recent)}")
{
    public int Seed { get; } = seed;
    public int Step { get; } = step;
    public string Replay { get; } = replay;
}

/// <summary>
/// The deterministic simulation of the metering engine (LEDGER.md; the TigerBeetle way): a seeded stream of operations
/// from several callers, run on one thread by <see cref="SimulationScheduler"/>, with the real writer on a real SQLite
/// file and a plain <see cref="ReferenceModel"/> beside it. Run from the tests (fixed seeds and a fresh one) and from
/// the command line (<c>--simulate SECONDS</c>, or <c>--simulate --seed N --steps M</c> to replay one run).
/// </summary>
public static class LedgerSimulation
{
    public static SimulationReport Run(SimulationOptions options)
    {
        SimulationReport? report = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            var watch = Stopwatch.StartNew();
            SimulationRun? run = null;
            try
            {
                run = new SimulationRun(options, Thread.CurrentThread);
                run.Run();
                report = run.Report;
                report.Elapsed = watch.Elapsed;
            }
            catch (Exception ex)
            {
                failure = ex;
            }
            finally
            {
                run?.DisposeAsync().AsTask().Wait();
            }
        }, 16 * 1024 * 1024) { Name = $"simulation {options.Seed}" };
        thread.Start();
        thread.Join();
        if (failure is SimulationFailureException) throw failure;
        if (failure is not null) throw new SimulationFailureException(options.Seed, 0, failure.ToString(), $"--simulate --seed {options.Seed}", []);
        return report!;
    }

    /// <summary><c>--simulate [SECONDS] [--seed N] [--steps M]</c>: one replay, or fresh seeds until the time is up.</summary>
    public static int RunCommand(string[] args)
    {
        string? Value(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
        var seconds = int.TryParse(Value("--simulate"), out var s) ? s : 60;
        var steps = int.TryParse(Value("--steps"), out var n) ? n : 3_000;
        if (Value("--seeds") is { } range && range.Split('-') is [var from, var to])
        {
            // Each seed of a range once, one line each: the survey that tells which seeds find what.
            var failed = 0;
            for (var each = int.Parse(from, CultureInfo.InvariantCulture); each <= int.Parse(to, CultureInfo.InvariantCulture); each++)
            {
                try
                {
                    var passed = Run(new SimulationOptions(each, steps));
                    Console.WriteLine($"seed {each}: passed ({passed.Steps} steps, {passed.Checks:N0} checks)");
                }
                catch (SimulationFailureException failure)
                {
                    failed++;
                    Console.WriteLine(failure.Message.Split('\n')[0]);
                }
            }
            return failed == 0 ? 0 : 1;
        }
        if (int.TryParse(Value("--seed"), out var seed))
        {
            Console.WriteLine($"Replaying seed {seed} for {steps} steps.");
            return Report(() => Run(new SimulationOptions(seed, steps)), out _);
        }
        Console.WriteLine($"Simulating for {seconds} s: fresh seeds, {steps:N0} steps each, until the time is up.");
        var total = new SimulationReport();
        var runs = 0;
        var watch = Stopwatch.StartNew();
        var seeds = new Random();
        while (watch.Elapsed < TimeSpan.FromSeconds(seconds))
        {
            var next = seeds.Next(1, int.MaxValue);
            var left = TimeSpan.FromSeconds(seconds) - watch.Elapsed;
            if (Report(() => Run(new SimulationOptions(next, steps, left)), out var report) != 0) return 1;
            total.Add(report!);
            runs++;
        }
        Console.WriteLine();
        Console.WriteLine($"All {runs} runs passed, zero violations.");
        Console.WriteLine(total);
        return 0;
    }

    private static int Report(Func<SimulationReport> run, out SimulationReport? report)
    {
        try
        {
            report = run();
            Console.WriteLine($"seed {report.Seed}: passed, digest {report.Digest}");
            Console.WriteLine("  " + report.ToString().Replace("\n", "\n  ", StringComparison.Ordinal));
            return 0;
        }
        catch (SimulationFailureException failure)
        {
            report = null;
            Console.WriteLine("VIOLATION " + failure.Message);
            return 1;
        }
    }
}
