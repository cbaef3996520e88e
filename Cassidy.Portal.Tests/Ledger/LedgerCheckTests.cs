using Cassidy.Portal.Data;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Cassidy.Portal.Tests.Ledger;

/// <summary>The ledger check the Overview shows: incremental from the last verified point, and the full one behind it.</summary>
public sealed class LedgerCheckTests : IAsyncLifetime
{
    private LedgerHarness _h = null!;

    public async Task InitializeAsync() => _h = await LedgerHarness.CreateAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private async Task SpendDaysAsync(int days, int callsPerDay, string prefix)
    {
        for (var d = 0; d < days; d++)
        {
            for (var i = 0; i < callsPerDay; i++)
                Assert.Equal("recorded", (await _h.RecordAsync(_h.Call($"{prefix}-{d}-{i}", input: 100 + i) with { AgentId = i % 2 == 0 ? "helper" : null })).Status);
            _h.Clock.Advance(TimeSpan.FromDays(1));
        }
    }

    private async Task SqlAsync(string sql)
    {
        await using var db = _h.Db.CreateContext();
        await db.Database.ExecuteSqlRawAsync(sql);
    }

    [Theory]
    [InlineData(100_000)] // the new entries found by their ids
    [InlineData(0)]       // by the organization's (time) index, as when many entries of other organizations came since
    public async Task After_a_full_start_each_check_reads_only_what_came_since_and_counts_every_entry(long idRangeEntries)
    {
        var before = Cassidy.Portal.Ledger.LedgerChecks.IdRangeEntries;
        Cassidy.Portal.Ledger.LedgerChecks.IdRangeEntries = idRangeEntries;
        try { await ChecksReadOnlyWhatCameSinceAsync(); }
        finally { Cassidy.Portal.Ledger.LedgerChecks.IdRangeEntries = before; }
    }

    private async Task ChecksReadOnlyWhatCameSinceAsync()
    {
        await SpendDaysAsync(days: 5, callsPerDay: 4, "first");
        var first = await _h.Ledger.VerifyAsync(_h.Org.Id);
        Assert.True(first.Ok, first.Problem);
        Assert.True(first.WasFull); // no checkpoint yet: the first check is the full one
        Assert.Equal(21, first.LedgerEntries); // the allowance and 20 calls

        await SpendDaysAsync(days: 2, callsPerDay: 3, "second");
        var next = await _h.Ledger.VerifyAsync(_h.Org.Id);
        Assert.True(next.Ok, next.Problem);
        Assert.False(next.WasFull);
        Assert.Equal((27L, 6L, 2), (next.LedgerEntries, next.NewEntries, next.DaysRechecked));
        Assert.Equal(next.LedgerEntries, (await _h.Ledger.FullCheckAsync(_h.Org.Id)).LedgerEntries);

        var quiet = await _h.Ledger.VerifyAsync(_h.Org.Id);
        Assert.Equal((true, 27L, 0L, 0), (quiet.Ok, quiet.LedgerEntries, quiet.NewEntries, quiet.DaysRechecked));
    }

    [Fact]
    public async Task A_stored_balance_that_moved_behind_the_engines_back_is_found_at_once()
    {
        await SpendDaysAsync(days: 2, callsPerDay: 2, "a");
        Assert.True((await _h.Ledger.VerifyAsync(_h.Org.Id)).Ok);
        await SqlAsync($"UPDATE CreditAccounts SET BalanceMillicredits = BalanceMillicredits + 1 WHERE OrganizationId = {_h.Org.Id}");

        var check = await _h.Ledger.VerifyAsync(_h.Org.Id);
        Assert.False(check.Ok);
        Assert.Equal("the stored balance differs from the sum of the ledger", check.Problem);
    }

    [Fact]
    public async Task A_daily_rollup_that_disagrees_with_its_hours_is_found_when_new_usage_falls_on_its_day()
    {
        await SpendDaysAsync(days: 1, callsPerDay: 2, "a");
        Assert.True((await _h.Ledger.VerifyAsync(_h.Org.Id)).Ok);
        var yesterday = _h.Clock.GetUtcNow().AddDays(-1); // the day already verified
        var day = DateOnly.FromDateTime(yesterday.UtcDateTime).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        // Move credits between two members' daily rows: every total still adds up, only the day's rows against its hours do not.
        await SqlAsync($"UPDATE DailyUsageRollups SET CreditsMillicredits = CreditsMillicredits + 7 WHERE OrganizationId = {_h.Org.Id} AND Day = '{day}' AND Feature = 'agent_chat'");
        Assert.Equal("recorded", (await _h.RecordAsync(_h.Call("late") with { OccurredAt = yesterday })).Status); // a late event for that day

        var check = await _h.Ledger.VerifyAsync(_h.Org.Id);
        Assert.False(check.Ok);
        Assert.Equal($"the daily rollups of {day} differ from its hours", check.Problem);
    }

    [Fact]
    public async Task A_change_on_a_day_no_new_usage_touches_is_left_to_the_full_check_which_finds_it_and_keeps_its_result()
    {
        await SpendDaysAsync(days: 3, callsPerDay: 2, "a");
        Assert.True((await _h.Ledger.VerifyAsync(_h.Org.Id)).Ok);
        await SqlAsync($"UPDATE UsageRollups SET CreditsMillicredits = CreditsMillicredits + 5 WHERE OrganizationId = {_h.Org.Id} AND HourStart = (SELECT MIN(HourStart) FROM UsageRollups WHERE OrganizationId = {_h.Org.Id})");
        Assert.True((await _h.Ledger.VerifyAsync(_h.Org.Id)).Ok); // nothing new: the incremental check has nothing to re-read

        var full = await _h.Ledger.FullCheckAsync(_h.Org.Id);
        Assert.False(full.Ok);
        var shown = await _h.Ledger.VerifyAsync(_h.Org.Id);
        Assert.Equal((false, "the usage rollups differ from the usage in the ledger"), (shown.FullOk, shown.FullProblem));
        Assert.NotNull(shown.FullCheckedAt);
    }

    [Fact]
    public async Task After_a_time_zone_change_the_page_still_reads_only_what_is_new_and_the_next_background_round_checks_in_full()
    {
        await SpendDaysAsync(days: 2, callsPerDay: 2, "a");
        Assert.True((await _h.Ledger.VerifyAsync(_h.Org.Id)).Ok);
        await using (var db = _h.Db.CreateContext())
            await db.Organizations.Where(o => o.Id == _h.Org.Id).ExecuteUpdateAsync(o => o.SetProperty(x => x.TimeZone, "Asia/Tokyo"));
        await _h.Ledger.RefreshAsync(_h.Org.Id); // the engine starts rebuilding the daily rollups in Tokyo's days
        await _h.Ledger.RebuildDailyRollupsAsync(_h.Org.Id);
        Assert.Equal("recorded", (await _h.RecordAsync(_h.Call("after"))).Status);

        var check = await _h.Ledger.VerifyAsync(_h.Org.Id);
        Assert.Equal((true, false, 1L, 1), (check.Ok, check.WasFull, check.NewEntries, check.DaysRechecked));
        await using (var context = _h.Db.CreateContext())
            Assert.Equal("UTC", (await context.LedgerCheckpoints.SingleAsync()).RollupTimeZone); // old days not yet compared in Tokyo's

        await using var services = TestServices.Build(_h.Db, _h.Clock, overrides: s => s.AddSingleton(_h.Ledger));
        await services.GetRequiredService<Cassidy.Portal.Organizations.LedgerAudit>().RunOnceAsync();
        await using (var context = _h.Db.CreateContext())
            Assert.Equal("Asia/Tokyo", (await context.LedgerCheckpoints.SingleAsync()).RollupTimeZone);
    }

    [Fact]
    public async Task Books_a_full_check_found_wrong_are_reported_from_its_result_not_added_up_again_on_every_load()
    {
        await SpendDaysAsync(days: 1, callsPerDay: 2, "a");
        await SqlAsync($"UPDATE CreditAccounts SET BalanceMillicredits = BalanceMillicredits + 1 WHERE OrganizationId = {_h.Org.Id}");
        var first = await _h.Ledger.VerifyAsync(_h.Org.Id);
        Assert.Equal((false, true), (first.Ok, first.WasFull));

        var next = await _h.Ledger.VerifyAsync(_h.Org.Id);
        Assert.Equal((false, false, "the stored balance differs from the sum of the ledger"), (next.Ok, next.WasFull, next.Problem));
        Assert.Equal(first.FullCheckedAt, next.FullCheckedAt);
    }
}
