using Cassidy.Portal.Simulation;
using Xunit.Abstractions;

namespace Cassidy.Portal.Tests.Simulation;

/// <summary>The simulation keeps a core busy: it runs alone, after the parallel tests, so browser tests never wait on it.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SimulationCollection
{
    public const string Name = "ledger simulation";
}

/// <summary>
/// The deterministic simulation of the engine (LEDGER.md): the seeds that found the defects of issue 11 on the engine as
/// it was, kept as regression cases, plus one fresh seed every run. A failure names its seed and the command that replays it.
/// </summary>
[Collection(SimulationCollection.Name)]
public sealed class LedgerSimulationTests(ITestOutputHelper output)
{
    /// <summary>Each found a defect before it was fixed (LEDGER.md, "What the simulation found"); a few more for breadth.</summary>
    public static TheoryData<int> RegressionSeeds() => new() { 1, 2, 5, 14, 16, 26, 37, 42, 94 };

    /// <summary>A new seed every run, shown in the test's name so a failing run can be replayed.</summary>
    public static TheoryData<int> FreshSeed() =>
        new() { int.TryParse(Environment.GetEnvironmentVariable("SIMULATION_SEED"), out var pinned) ? pinned : Random.Shared.Next(1_000, int.MaxValue) };

    [Theory]
    [MemberData(nameof(RegressionSeeds))]
    public void A_seed_that_found_a_defect_runs_clean(int seed) => Run(seed, 2_500);

    [Theory]
    [MemberData(nameof(FreshSeed), DisableDiscoveryEnumeration = true)]
    public void A_fresh_seed_runs_clean(int seed) => Run(seed, 5_000);

    [Fact]
    public void The_same_seed_replays_the_same_run()
    {
        var first = LedgerSimulation.Run(new SimulationOptions(20261130, Steps: 400));
        var second = LedgerSimulation.Run(new SimulationOptions(20261130, Steps: 400));

        Assert.Equal(first.Digest, second.Digest);
        Assert.Equal(first.Checks, second.Checks);
        Assert.Equal(first.Commits, second.Commits);
    }

    private void Run(int seed, int steps)
    {
        output.WriteLine($"seed {seed} (replay: dotnet run -c Release --project Cassidy.Portal -- --simulate --seed {seed} --steps {steps})");
        var report = LedgerSimulation.Run(new SimulationOptions(seed, steps));
        output.WriteLine(report.ToString());
        Assert.True(report.Checks > 5_000, $"seed {seed} checked only {report.Checks} invariants");
    }
}
