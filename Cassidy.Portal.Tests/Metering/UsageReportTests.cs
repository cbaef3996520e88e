using Cassidy.Portal.Data;
using Cassidy.Portal.Metering;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Cassidy.Portal.Tests.Metering;

public sealed class UsageReportTests
{
    private static readonly string[] Models = ["gpt-4.1", "gpt-4.1-mini", "claude-sonnet-4.5", "claude-haiku-4.5", "gemini-2.5-flash"];
    // Whole-hour offsets (with and without DST): hourly buckets split exactly into their local days. In a :30/:45 zone
    // (Asia/Kolkata) a local day is counted from the UTC hour its midnight falls in, so days shift by that part hour.
    private static readonly string[] Zones = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney"];

    /// <summary>The report over the harness's database, as the pages get it.</summary>
    public static (UsageReport Report, ServiceProvider Provider) ReportFor(LedgerHarness h)
    {
        var services = new ServiceCollection();
        h.Db.AddTo(services);
        var provider = services.BuildServiceProvider();
        return (new UsageReport(provider.GetRequiredService<IDbContextFactory<PortalDbContext>>(), h.Ledger, LedgerHarness.Plans(), h.Clock), provider);
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
            e = e with { AgentId = random.Next(3) == 0 ? null : $"agent-{random.Next(3)}" };
            Assert.Equal("recorded", (await h.RecordAsync(e)).Status);
        }
        return count;
    }

    [Fact]
    public async Task Rollup_figures_equal_the_ledger_for_random_ranges_and_time_zones_across_dst_changes()
    {
        var seed = Environment.GetEnvironmentVariable("USAGE_SEED") is { } s ? int.Parse(s) : Random.Shared.Next();
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
    public async Task The_member_breakdown_pages_sorts_and_searches_and_knows_caps()
    {
        await using var h = await LedgerHarness.CreateAsync(defaultCap: 10_000);
        await h.RecordAsync(h.Spend("a1", 9, "alice@test.test"));
        await h.RecordAsync(h.Spend("b1", 3, "bob@test.test"));
        var (report, provider) = ReportFor(h);
        await using var _ = provider;
        var range = new UsageRange(h.Now.AddDays(-1), h.Now.AddDays(1));

        var (first, total) = await report.MembersAsync(h.Org.Id, range, null, null, false, 0, 1);
        Assert.Equal(2, total);
        var alice = Assert.Single(first);
        Assert.Equal(("Alice", 9_000L, 75m, 90m, CapStatus.NearCap), (alice.Name, alice.Credits, alice.Share, alice.CapUsedPercent!.Value, alice.Status));
        var (second, _) = await report.MembersAsync(h.Org.Id, range, null, null, false, 1, 1);
        Assert.Equal("Bob", Assert.Single(second).Name);

        var (ascending, _) = await report.MembersAsync(h.Org.Id, range, null, nameof(MemberUsageRow.Credits), false, 0, 10);
        Assert.Equal(["Bob", "Alice"], ascending.Select(r => r.Name));
        var (byEmail, _) = await report.MembersAsync(h.Org.Id, range, null, nameof(MemberUsageRow.Email), true, 0, 10);
        Assert.Equal(["bob@test.test", "alice@test.test"], byEmail.Select(r => r.Email));
        var (found, count) = await report.MembersAsync(h.Org.Id, range, "BOB@", null, false, 0, 10);
        Assert.Equal((1, "Bob"), (count, Assert.Single(found).Name));

        await h.RecordAsync(h.Spend("a2", 1, "alice@test.test"));
        Assert.Equal(CapStatus.AtCap, (await report.MemberAsync(h.Org.Id, h.Alice.Id, range))!.Status);
        Assert.Null(await report.MemberAsync(h.Org.Id, "someone-else", range));
    }
}
