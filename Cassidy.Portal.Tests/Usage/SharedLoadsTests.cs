using Cassidy.Portal.Tests.Infrastructure;
using Cassidy.Portal.Usage;
using Microsoft.Extensions.DependencyInjection;

namespace Cassidy.Portal.Tests.Usage;

/// <summary>Issue 13, "live updates are shared": many open pages asking the same at the same time cost one load.</summary>
public sealed class SharedLoadsTests
{
    [Fact]
    public async Task Pages_asking_the_same_at_once_share_one_load_and_a_later_question_loads_anew()
    {
        var shared = new SharedLoads { MaxAge = TimeSpan.FromMinutes(5) };
        var release = new TaskCompletionSource();
        var started = 0;
        async Task<string> LoadAsync()
        {
            Interlocked.Increment(ref started);
            await release.Task;
            return "report";
        }

        var asks = Enumerable.Range(0, 200).Select(_ => shared.GetAsync(("report", 1), LoadAsync)).ToList();
        var other = shared.GetAsync(("report", 2), LoadAsync);
        release.SetResult();
        var answers = await Task.WhenAll(asks);
        Assert.All(answers, a => Assert.Same(answers[0], a));
        Assert.Equal("report", await other);
        Assert.Equal((2, 2L), (started, shared.Loads));

        var fresh = new SharedLoads { MaxAge = TimeSpan.Zero };
        await fresh.GetAsync("k", LoadAsync);
        await fresh.GetAsync("k", LoadAsync);
        Assert.Equal(2, fresh.Loads); // older than MaxAge: loaded again
    }

    [Fact]
    public async Task Pages_asking_while_a_synchronous_load_runs_wait_without_holding_a_thread()
    {
        // SQLite's reads are synchronous: a load can hold its thread for its whole length. Fifty live tabs asking for it
        // meanwhile must each get a task to await at once, not block a pool thread apiece until it ends.
        var shared = new SharedLoads { MaxAge = TimeSpan.FromMinutes(5) };
        using var gate = new ManualResetEventSlim();
        Task<string> Load()
        {
            gate.Wait(TimeSpan.FromSeconds(10)); // what a synchronous query does to the thread that runs it
            return Task.FromResult("report");
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var asks = Enumerable.Range(0, 50).Select(_ => shared.GetAsync("k", Load)).ToList();
        var asked = clock.Elapsed;
        Assert.All(asks, a => Assert.False(a.IsCompleted));
        gate.Set();
        var answers = await Task.WhenAll(asks);
        Assert.True(asked < TimeSpan.FromSeconds(2), $"asking took {asked.TotalMilliseconds:0} ms: the callers waited for the load on their own threads");
        Assert.All(answers, a => Assert.Equal("report", a));
        Assert.Equal(1, shared.Loads);
    }

    [Fact]
    public async Task A_failed_load_is_not_handed_to_the_next_page()
    {
        var shared = new SharedLoads { MaxAge = TimeSpan.FromMinutes(5) };
        await Assert.ThrowsAsync<InvalidOperationException>(() => shared.GetAsync<string>("k", () => throw new InvalidOperationException("database gone")));
        Assert.Equal("ok", await shared.GetAsync("k", () => Task.FromResult("ok")));
    }

    [Fact]
    public async Task Two_circuits_watching_one_organization_get_the_same_report_from_one_load_with_the_version_it_was_loaded_at()
    {
        await using var h = await LedgerHarness.CreateAsync(defaultCap: 50_000_000);
        await h.RecordAsync(h.Spend("first", 5));
        await using var provider = TestServices.Build(h.Db, h.Clock, overrides: s =>
        {
            s.AddSingleton(h.Ledger);
            s.AddSingleton(new SharedLoads { MaxAge = TimeSpan.FromMinutes(5) });
        });
        await using var alice = provider.CreateAsyncScope();
        await using var bob = provider.CreateAsyncScope();
        var scope = UsageScope.Organization(h.Org.Id);
        var zone = TimeZoneInfo.Utc;

        var first = await alice.ServiceProvider.GetRequiredService<UsageReport>().LiveAsync(scope, null, null, zone);
        var second = await bob.ServiceProvider.GetRequiredService<UsageReport>().LiveAsync(scope, null, null, zone);
        Assert.Same(first, second);
        Assert.Equal(1, provider.GetRequiredService<SharedLoads>().Loads);
        Assert.Equal(5_000, first.Data.Credits);

        // New usage within the shared result's age: the result handed out says it is from before, so the page asks again.
        await h.RecordAsync(h.Spend("second", 2));
        var report = bob.ServiceProvider.GetRequiredService<UsageReport>();
        var again = await report.LiveAsync(scope, null, null, zone);
        Assert.Same(first, again);
        Assert.NotEqual(report.Version(scope), again.Version);
    }
}
