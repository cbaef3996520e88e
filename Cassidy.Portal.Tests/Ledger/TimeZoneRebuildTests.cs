using System.Globalization;
using Cassidy.Portal.Data;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Tests.Infrastructure;
using Cassidy.Portal.Usage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Cassidy.Portal.Tests.Ledger;

/// <summary>
/// LEDGER.md, "A time-zone change": the daily rollups are rebuilt in the new zone a small writer step at a time while calls
/// keep arriving for any hour, the pages stay exact meanwhile (they read hours), and a restart carries on where the
/// database says the rebuild stopped.
/// </summary>
public sealed class TimeZoneRebuildTests : IAsyncLifetime
{
    private static readonly TimeZoneInfo Kolkata = TimeZoneInfo.FindSystemTimeZoneById("Asia/Kolkata");
    private LedgerHarness _h = null!;
    private readonly List<(DateTime At, long Credits, bool ByAgent)> _calls = [];
    private readonly Random _random = new(7);
    private int _next;

    public async Task InitializeAsync()
    {
        _h = await LedgerHarness.CreateAsync(defaultCap: 500_000_000);
        _h.Clock.SetUtcNow(new DateTimeOffset(2026, 1, 20, 12, 0, 0, TimeSpan.Zero));
    }

    public async Task DisposeAsync() => await _h.DisposeAsync();

    /// <summary>Calls at random minutes of the last four days, by either member, some by an agent.</summary>
    private async Task RecordAsync(int count)
    {
        var batch = new List<UsageEventInput>();
        for (var i = 0; i < count; i++)
        {
            var at = _h.Now.AddMinutes(-_random.Next(4 * 24 * 60));
            var credits = 1 + _random.Next(9);
            var byAgent = _random.Next(3) == 0;
            batch.Add(_h.Spend($"call-{_next++}", credits, _random.Next(2) == 0 ? "alice@test.test" : "bob@test.test") with
            {
                OccurredAt = new DateTimeOffset(at), AgentId = byAgent ? "Researcher" : null,
            });
            _calls.Add((at, credits * 1000, byAgent));
        }
        Assert.All(await _h.Ledger.RecordUsageAsync(batch), r => Assert.Equal(UsageStatuses.Recorded, r.Status));
    }

    private async Task ChangeZoneAsync(string zone)
    {
        await using (var db = _h.Db.CreateContext())
            await db.Organizations.Where(o => o.Id == _h.Org.Id).ExecuteUpdateAsync(o => o.SetProperty(x => x.TimeZone, zone));
        await _h.Ledger.RefreshAsync(_h.Org.Id);
    }

    private string ExpectedDays(bool agentsOnly = false) => string.Join(", ", _calls.Where(c => !agentsOnly || c.ByAgent)
        .GroupBy(c => LocalDays.Of(LocalDays.FloorHour(c.At), Kolkata)).OrderBy(g => g.Key)
        .Select(g => $"{g.Key:yyyy-MM-dd} {g.Sum(c => c.Credits)}"));

    private async Task<string> StoredDaysAsync<T>(Func<PortalDbContext, IQueryable<T>> table, Func<T, DateOnly> day, Func<T, long> credits)
    {
        await using var db = _h.Db.CreateContext();
        return string.Join(", ", (await table(db).ToListAsync()).GroupBy(day).Where(g => g.Sum(credits) != 0).OrderBy(g => g.Key)
            .Select(g => $"{g.Key.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)} {g.Sum(credits)}"));
    }

    [Fact]
    public async Task Rebuilt_a_few_rows_a_step_among_new_calls_every_day_ends_in_the_new_zone_and_the_page_is_exact_meanwhile()
    {
        await RecordAsync(120);
        await ChangeZoneAsync("Asia/Kolkata");
        await using var services = TestServices.Build(_h.Db, _h.Clock, overrides: s => s.AddSingleton(_h.Ledger));
        var report = services.GetRequiredService<UsageReport>();
        var range = UsageRange.Days(LocalDays.Of(_h.Now, Kolkata).AddDays(-5), LocalDays.Of(_h.Now, Kolkata), Kolkata);

        var steps = 0;
        bool more;
        do
        {
            more = await _h.Ledger.RebuildDailyRollupsStepAsync(_h.Org.Id, maxRows: 5);
            steps++;
            await RecordAsync(3); // calls for any hour: already folded, being folded, not yet folded
            var data = await report.LoadAsync(UsageScope.Organization(_h.Org.Id), range, Kolkata);
            Assert.Equal(_calls.Sum(c => c.Credits), data.Credits);
            Assert.Equal(ExpectedDays(), string.Join(", ", data.Days.Where(d => d.Total != 0).Select(d => $"{d.Day:yyyy-MM-dd} {d.Total}")));
            var check = await _h.Ledger.FullCheckAsync(_h.Org.Id); // compares the hours folded in so far
            Assert.True(check.Ok, check.ToString());
            Assert.True(steps < 500, "the rebuild does not end");
        } while (more);

        Assert.True(steps > 10, $"the rebuild took {steps} steps: it was not split");
        await using (var db = _h.Db.CreateContext())
            Assert.Equal(("Asia/Kolkata", (DateTime?)null), await db.CreditAccounts.Where(a => a.OrganizationId == _h.Org.Id)
                .Select(a => ValueTuple.Create(a.RollupTimeZone, a.DailyRollupsBuiltBefore)).SingleAsync());
        var expected = ExpectedDays();
        Assert.Equal(expected, await StoredDaysAsync(db => db.DailyUsageRollups, r => r.Day, r => r.CreditsMillicredits));
        Assert.Equal(expected, await StoredDaysAsync(db => db.DailyModelRollups, r => r.Day, r => r.CreditsMillicredits));
        Assert.Equal(expected, await StoredDaysAsync(db => db.DailyMemberRollups, r => r.Day, r => r.CreditsMillicredits));
        Assert.Equal(ExpectedDays(agentsOnly: true), await StoredDaysAsync(db => db.DailyAgentRollups, r => r.Day, r => r.CreditsMillicredits));
        var verified = await _h.Ledger.VerifyAsync(_h.Org.Id);
        Assert.True(verified.Ok);
        await _h.AssertBooksBalanceAsync();
    }

    [Fact]
    public async Task A_restart_or_another_change_halfway_carries_on_from_what_the_database_says()
    {
        await RecordAsync(80);
        await ChangeZoneAsync("America/New_York");
        for (var i = 0; i < 6; i++) Assert.True(await _h.Ledger.RebuildDailyRollupsStepAsync(_h.Org.Id, maxRows: 5));

        // The process stops halfway; the next one finds the rebuild in the database and carries on.
        await _h.Ledger.DisposeAsync();
        _h.Ledger = LedgerHarness.NewLedger(_h.Db, _h.Clock);
        await RecordAsync(10);
        Assert.True(await _h.Ledger.RebuildDailyRollupsStepAsync(_h.Org.Id, maxRows: 5));
        // And the zone changes again before it ends: the rebuild starts over for the zone now set.
        await ChangeZoneAsync("Asia/Kolkata");
        await using var services = TestServices.Build(_h.Db, _h.Clock, overrides: s => s.AddSingleton(_h.Ledger));
        Assert.Equal(1, await services.GetRequiredService<DailyRollupRebuilder>().RunOnceAsync());
        Assert.Equal(0, await services.GetRequiredService<DailyRollupRebuilder>().RunOnceAsync());

        Assert.Equal(ExpectedDays(), await StoredDaysAsync(db => db.DailyModelRollups, r => r.Day, r => r.CreditsMillicredits));
        Assert.Equal(ExpectedDays(agentsOnly: true), await StoredDaysAsync(db => db.DailyAgentRollups, r => r.Day, r => r.CreditsMillicredits));
        await _h.AssertBooksBalanceAsync();
    }
}
