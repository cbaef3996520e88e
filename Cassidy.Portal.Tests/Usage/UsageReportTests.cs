using Cassidy.Portal.Data;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Organizations;
using Cassidy.Portal.Pricing;
using Cassidy.Portal.Tests.Infrastructure;
using Cassidy.Portal.Usage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cassidy.Portal.Tests.Usage;

public sealed class UsageReportTests
{
    private static readonly string[] Models = ["gpt-4.1", "gpt-4.1-mini", "claude-sonnet-4.5", "claude-haiku-4.5", "gemini-2.5-flash"];
    // Whole-hour offsets (with and without DST): hourly buckets split exactly into their local days. In a :30/:45 zone
    // (Asia/Kolkata) an hour belongs to the day its start falls on, so days shift by that part hour against the ledger.
    private static readonly string[] Zones = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney"];

    /// <summary>
    /// Sets the organization's time zone as the settings page does, and lets the rebuild of the daily rollups run to its end
    /// as the background rebuilder would.
    /// </summary>
    private static async Task SetZoneAsync(LedgerHarness h, string zone)
    {
        await using (var db = h.Db.CreateContext())
            await db.Organizations.Where(o => o.Id == h.Org.Id).ExecuteUpdateAsync(o => o.SetProperty(x => x.TimeZone, zone));
        await h.Ledger.RefreshAsync(h.Org.Id);
        await h.Ledger.RebuildDailyRollupsAsync(h.Org.Id);
    }

    /// <summary>The report over the harness's database, as the pages get it.</summary>
    public static (UsageReport Report, ServiceProvider Provider) ReportFor(LedgerHarness h)
    {
        var provider = TestServices.Build(h.Db, h.Clock, overrides: services => services.AddSingleton(h.Ledger));
        return (provider.GetRequiredService<UsageReport>(), provider);
    }

    /// <summary>Records calls at random hours from mid-February to mid-April 2026: both US and EU DST changes fall inside.</summary>
    private static async Task<int> RecordRandomUsageAsync(LedgerHarness h, Random random, int count)
    {
        h.Clock.SetUtcNow(new DateTimeOffset(2026, 2, 20, 0, 0, 0, TimeSpan.Zero));
        for (var i = 0; i < count; i++)
        {
            h.Clock.Advance(TimeSpan.FromMinutes(random.Next(10, 2400)));
            var e = h.Call($"e{i}", user: random.Next(2) == 0 ? "alice@test.test" : "bob@test.test", model: Models[random.Next(Models.Length)],
                input: random.Next(100, 3000), output: random.Next(0, 800), knowledge: random.Next(3) * 400,
                feature: random.Next(4) == 0 ? Features.WorkflowRun : Features.AgentChat);
            e = e.Feature == Features.WorkflowRun
                ? e with { WorkflowId = $"workflow-{random.Next(2)}", RunId = $"run-{i / 4}" }
                : e with { AgentId = random.Next(3) == 0 ? null : $"agent-{random.Next(3)}" };
            Assert.Equal("recorded", (await h.RecordAsync(e)).Status);
        }
        return count;
    }

    [Fact]
    public async Task Rollup_figures_equal_the_ledger_for_random_ranges_and_time_zones_across_dst_changes()
    {
        var seed = Environment.GetEnvironmentVariable("USAGE_SEED") is { } s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : Random.Shared.Next();
        var random = new Random(seed);
        await using var h = await LedgerHarness.CreateAsync(defaultCap: 50_000_000);
        await RecordRandomUsageAsync(h, random, 120);
        var (report, provider) = ReportFor(h);
        await using var _ = provider;
        var usage = (await h.LedgerAsync()).Where(e => e.Kind == LedgerKinds.Usage).ToList();

        for (var round = 0; round < 12; round++)
        {
            var zone = TimeZoneInfo.FindSystemTimeZoneById(Zones[random.Next(Zones.Length)]);
            var first = new DateOnly(2026, 2, 18).AddDays(random.Next(0, 50));
            var last = first.AddDays(random.Next(0, 30));
            var range = UsageRange.Days(first, last, zone);
            var because = $"seed {seed} (replay with USAGE_SEED), round {round}, {zone.Id} {first}..{last}";
            // The organization is in the zone, so whole days come from the daily rollups (re-keyed for the zone).
            await SetZoneAsync(h, zone.Id);

            var expected = usage.Where(e => e.OccurredAt >= range.FromUtc && e.OccurredAt < range.ToUtc).ToList();
            var data = await report.LoadAsync(UsageScope.Organization(h.Org.Id), range, zone);
            Assert.True(-expected.Sum(e => e.AmountMillicredits) == data.Credits, because);
            Assert.True(expected.Count == data.Calls, because);
            Assert.True(data.Days.Sum(d => d.Total) == data.Credits, because);
            Assert.True(data.Members.Sum(m => m.Credits) == data.Credits && data.Models.Sum(m => m.Credits) == data.Credits, because);

            // Each local day: the ledger's entries converted one by one into the zone.
            var byDay = expected.GroupBy(e => DateOnly.FromDateTime(TimeZoneInfo.ConvertTimeFromUtc(e.OccurredAt, zone)))
                .ToDictionary(g => g.Key, g => -g.Sum(e => e.AmountMillicredits));
            foreach (var day in data.Days)
                Assert.True(byDay.GetValueOrDefault(day.Day) == day.Total, $"{because}: day {day.Day}");

            // One member's view agrees with the ledger's entries for that member.
            var bob = await report.LoadAsync(UsageScope.Member(h.Org.Id, h.Bob.Id), range, zone);
            Assert.True(-expected.Where(e => e.UserId == h.Bob.Id).Sum(e => e.AmountMillicredits) == bob.Credits, because);
            Assert.All(bob.Members, m => Assert.Equal(h.Bob.Id, m.UserId));

            // The CSV rows (per member per day) add up to the same figures.
            var rows = await report.DailyAsync(UsageScope.Organization(h.Org.Id), range, zone).ToListAsync();
            Assert.True(rows.Sum(r => r.Credits) == data.Credits, because);
            Assert.Equal(rows.Count, rows.Select(r => (r.Day, r.UserId)).Distinct().Count());
        }
    }

    [Fact]
    public async Task Daily_rollups_give_the_hourly_figures_for_ranges_that_cut_days_in_any_zone()
    {
        var seed = Environment.GetEnvironmentVariable("USAGE_SEED") is { } s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : Random.Shared.Next();
        var random = new Random(seed);
        await using var h = await LedgerHarness.CreateAsync(defaultCap: 50_000_000);
        await RecordRandomUsageAsync(h, random, 150);
        var (report, provider) = ReportFor(h);
        await using var _ = provider;

        // What the writer kept up call by call equals what a rebuild derives from the hourly rollups.
        var incremental = await DailyRowsAsync(h);
        await SetZoneAsync(h, "Asia/Tokyo");
        await SetZoneAsync(h, "UTC");
        Assert.Equal(incremental, await DailyRowsAsync(h));
        Assert.Contains(incremental, r => r.StartsWith("agent|", StringComparison.Ordinal) && !r.EndsWith("|0|0", StringComparison.Ordinal));

        string[] zones = [.. Zones, "Asia/Kolkata"];
        for (var round = 0; round < 8; round++)
        {
            var zone = TimeZoneInfo.FindSystemTimeZoneById(zones[random.Next(zones.Length)]);
            // Whole hours, as a billing period's range: most start and end inside a local day.
            var from = new DateTime(2026, 2, 18, 0, 0, 0, DateTimeKind.Utc).AddHours(random.Next(0, 50 * 24));
            var range = new UsageRange(from, from.AddHours(random.Next(1, 30 * 24)));
            var because = $"seed {seed} (replay with USAGE_SEED), round {round}, {zone.Id} {range}";

            await SetZoneAsync(h, zone.Id);
            var fromDays = await report.LoadAsync(UsageScope.Organization(h.Org.Id), range, zone);
            var bobFromDays = await report.LoadAsync(UsageScope.Member(h.Org.Id, h.Bob.Id), range, zone);
            // Daily rollups keyed in another zone: the report reads every hour of the range instead.
            await SetZoneAsync(h, zone.Id == "UTC" ? "Asia/Tokyo" : "UTC");
            var fromHours = await report.LoadAsync(UsageScope.Organization(h.Org.Id), range, zone);
            var bobFromHours = await report.LoadAsync(UsageScope.Member(h.Org.Id, h.Bob.Id), range, zone);

            AssertSameFigures(fromHours, fromDays, because);
            AssertSameFigures(bobFromHours, bobFromDays, because);
        }
        await h.AssertBooksBalanceAsync();
    }

    [Fact]
    public async Task Changing_the_time_zone_in_settings_moves_usage_to_its_local_days()
    {
        await using var h = await LedgerHarness.CreateAsync(defaultCap: 50_000_000);
        h.Clock.SetUtcNow(new DateTimeOffset(2026, 3, 10, 22, 30, 0, TimeSpan.Zero));
        await h.RecordAsync(h.Spend("late-evening", 5));
        var (report, provider) = ReportFor(h);
        await using var _ = provider;
        var settings = new OrganizationSettings(provider.GetRequiredService<IDbContextFactory<PortalDbContext>>(), h.Ledger, h.Clock);

        Assert.Equal(ChangeResult.Ok, await settings.UpdateAsync(h.Org.Id, AuditActor.System, "Org", "Asia/Tokyo"));
        // Until the background rebuilder has run, the report reads hours, which are exact in any zone.
        var tokyo = TimeZoneInfo.FindSystemTimeZoneById("Asia/Tokyo");
        var tokyoDay = UsageRange.Days(new DateOnly(2026, 3, 11), new DateOnly(2026, 3, 11), tokyo);
        Assert.Equal(5_000, (await report.LoadAsync(UsageScope.Organization(h.Org.Id), tokyoDay, tokyo)).Credits);
        Assert.Equal(1, await provider.GetRequiredService<DailyRollupRebuilder>().RunOnceAsync());

        // Another change within the minute is refused, on the time-zone field, and changes nothing.
        var refused = await settings.UpdateAsync(h.Org.Id, AuditActor.System, "Org", "Europe/Berlin");
        Assert.Equal((false, "timeZone"), (refused.Succeeded, refused.Field));
        Assert.Equal("The time zone was changed less than a minute ago. Try again in 60 seconds.", refused.Error);
        h.Clock.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(ChangeResult.Ok, await settings.UpdateAsync(h.Org.Id, AuditActor.System, "Org", "Europe/Berlin"));
        h.Clock.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(ChangeResult.Ok, await settings.UpdateAsync(h.Org.Id, AuditActor.System, "Org", "Asia/Tokyo"));
        await provider.GetRequiredService<DailyRollupRebuilder>().RunOnceAsync();

        await using var db = h.Db.CreateContext();
        Assert.Equal("Asia/Tokyo", await db.CreditAccounts.Where(a => a.OrganizationId == h.Org.Id).Select(a => a.RollupTimeZone).SingleAsync());
        // 22:30 UTC is 07:30 the next morning in Tokyo.
        Assert.Equal([new DateOnly(2026, 3, 11)], await db.DailyUsageRollups.Where(r => r.OrganizationId == h.Org.Id).Select(r => r.Day).ToListAsync());
        var data = await report.LoadAsync(UsageScope.Organization(h.Org.Id), tokyoDay, tokyo);
        Assert.Equal(5_000, data.Credits);
        Assert.Equal(5_000, Assert.Single(data.Days).Total);
        await h.AssertBooksBalanceAsync();
    }

    private static void AssertSameFigures(UsageReportData expected, UsageReportData actual, string because)
    {
        Assert.True(expected.Credits == actual.Credits && expected.Calls == actual.Calls, because);
        Assert.True((expected.InputTokens, expected.KnowledgeTokens, expected.OutputTokens) == (actual.InputTokens, actual.KnowledgeTokens, actual.OutputTokens), because);
        Assert.True(expected.Days.SequenceEqual(actual.Days), because);
        Assert.True(expected.Models.OrderBy(m => m.Model).SequenceEqual(actual.Models.OrderBy(m => m.Model)), because);
        Assert.True(expected.Members.OrderBy(m => m.UserId).SequenceEqual(actual.Members.OrderBy(m => m.UserId)), because);
        Assert.True(expected.Agents.OrderBy(a => a.Name).SequenceEqual(actual.Agents.OrderBy(a => a.Name)),
            $"{because}: {string.Join("; ", expected.Agents)} vs {string.Join("; ", actual.Agents)}");
        Assert.Equal(expected.Insights, actual.Insights);
    }

    /// <summary>The organization's daily rollup rows, as comparable text.</summary>
    private static async Task<List<string>> DailyRowsAsync(LedgerHarness h)
    {
        await using var db = h.Db.CreateContext();
        var usage = await db.DailyUsageRollups.Where(r => r.OrganizationId == h.Org.Id)
            .Select(r => $"usage|{r.Day}|{r.UserId}|{r.Model}|{r.Feature}|{r.CreditsMillicredits}|{r.Calls}|{r.InputTokens}|{r.KnowledgeTokens}|{r.OutputTokens}")
            .ToListAsync();
        var agents = await db.DailyAgentRollups.Where(r => r.OrganizationId == h.Org.Id)
            .Select(r => $"agent|{r.Day}|{r.UserId}|{r.AgentId}|{r.WorkflowId}|{r.CreditsMillicredits}|{r.Calls}|{r.LightCreditsMillicredits}|{r.Runs}|{r.RunCreditsMillicredits}")
            .ToListAsync();
        return [.. usage.Concat(agents).Order(StringComparer.Ordinal)];
    }

    [Fact]
    public void Dst_days_have_23_and_25_hours_in_the_zone()
    {
        var berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
        var spring = UsageRange.Days(new DateOnly(2026, 3, 29), new DateOnly(2026, 3, 29), berlin);
        var autumn = UsageRange.Days(new DateOnly(2026, 10, 25), new DateOnly(2026, 10, 25), berlin);
        Assert.Equal(TimeSpan.FromHours(23), spring.ToUtc - spring.FromUtc);
        Assert.Equal(TimeSpan.FromHours(25), autumn.ToUtc - autumn.FromUtc);
        Assert.Equal(new DateOnly(2026, 3, 29), LocalDays.Of(new DateTime(2026, 3, 28, 23, 0, 0, DateTimeKind.Utc), berlin));
    }

    [Fact]
    public async Task The_member_breakdown_lists_every_member_biggest_spender_first_and_knows_caps()
    {
        await using var h = await LedgerHarness.CreateAsync(defaultCap: 10_000);
        await h.RecordAsync(h.Spend("b1", 3, "bob@test.test"));
        await h.RecordAsync(h.Spend("a1", 9, "alice@test.test"));
        var (report, provider) = ReportFor(h);
        await using var _ = provider;
        var range = new UsageRange(h.Now.AddDays(-1), h.Now.AddDays(1));

        var rows = await report.MembersAsync(h.Org.Id, range);
        Assert.Equal(["Alice", "Bob"], rows.Select(r => r.Name));
        var alice = rows[0];
        Assert.Equal(("Alice", 9_000L, 75m, 90m, CapStatus.NearCap), (alice.Name, alice.Credits, alice.Share, alice.CapUsedPercent!.Value, alice.Status));
        Assert.Equal(("bob@test.test", 3_000L, 25m), (rows[1].Email, rows[1].Credits, rows[1].Share));

        await h.RecordAsync(h.Spend("a2", 1, "alice@test.test"));
        Assert.Equal(CapStatus.AtCap, (await report.MemberAsync(h.Org.Id, h.Alice.Id, range))!.Status);
        Assert.Null(await report.MemberAsync(h.Org.Id, "someone-else", range));
    }

    [Fact]
    public async Task What_calls_would_have_cost_on_the_lighter_model_is_kept_at_the_prices_they_were_recorded_with()
    {
        await using var h = await LedgerHarness.CreateAsync();
        // gpt-4.1 (2 credits / 1k input, 8 / 1k output) has gpt-4.1-mini (0.4 / 1.6) as its lighter alternative.
        Assert.Equal("recorded", (await h.RecordAsync(h.Call("a", input: 10_000, output: 1_000) with { AgentId = "helper" })).Status);
        Assert.Equal("recorded", (await h.RecordAsync(h.Call("b", input: 5_000, output: 0, knowledge: 5_000))).Status);
        var day = DateOnly.FromDateTime(h.Now);
        var range = UsageRange.Days(day, day, TimeZoneInfo.Utc);

        async Task<(CreditInsights Insights, AgentUsage Agent)> InsightsAsync()
        {
            var (report, provider) = ReportFor(h);
            await using var _ = provider;
            var data = await report.LoadAsync(UsageScope.Organization(h.Org.Id), range, TimeZoneInfo.Utc);
            return (data.Insights, Assert.Single(data.Agents));
        }

        var recorded = await InsightsAsync();
        Assert.Equal(28_000 + 20_000, recorded.Insights.StandardModelCredits);
        Assert.Equal(5_600 + 4_000, recorded.Insights.StandardWouldCostOnLight);

        // The price table changes (the light model costs ten times more from now on): figures of calls already recorded stay.
        var options = LedgerHarness.Configuration.GetSection("Metering").Get<MeteringOptions>()!;
        options.Models["gpt-4.1-mini"].Input *= 10;
        options.Models["gpt-4.1-mini"].Output *= 10;
        await h.Ledger.DisposeAsync();
        h.Ledger = CreditLedger.Create(h.Db.ConnectionString, new PriceTable(options), LedgerHarness.Plans(), h.Clock, NullLogger.Instance);
        var later = await InsightsAsync();
        Assert.Equal(recorded.Insights, later.Insights);
        Assert.Equal(recorded.Agent.LightModelCredits, later.Agent.LightModelCredits);
    }
}
