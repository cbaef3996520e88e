using Cassidy.Portal.Data;
using Cassidy.Portal.Tests.Infrastructure;
using Cassidy.Portal.Usage;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Cassidy.Portal.Tests.Usage;

public sealed class OverviewReportTests
{
    [Fact]
    public async Task Recent_activity_lists_grants_and_one_usage_line_per_local_day_from_the_daily_rollups()
    {
        await using var h = await LedgerHarness.CreateAsync();
        for (var day = 0; day < 3; day++)
        {
            for (var i = 0; i <= day; i++) Assert.Equal("recorded", (await h.RecordAsync(h.Call($"d{day}-{i}"))).Status);
            h.Clock.Advance(TimeSpan.FromDays(1));
        }
        await using var services = TestServices.Build(h.Db, h.Clock, overrides: s => s.AddSingleton(h.Ledger));

        var activity = await services.GetRequiredService<OverviewReport>().ActivityAsync(h.Org.Id, TimeZoneInfo.Utc, 35);

        // Newest first; a day's usage line stands at its local midnight, so the allowance granted at 09:00 on the first day comes after it.
        Assert.Equal(["Usage: 3 AI calls", "Usage: 2 AI calls", "Team monthly allowance", "Usage: 1 AI calls"], activity.Select(a => a.Description));
        Assert.Equal([-6_000, -4_000, -2_000], activity.Where(a => a.IsDailyUsage).Select(a => a.Amount)); // 1,000 input tokens of gpt-4.1: 2 credits a call
    }

    [Fact]
    public async Task The_activity_reads_grants_and_adjustments_by_their_own_index_not_through_every_usage_entry()
    {
        await using var h = await LedgerHarness.CreateAsync();
        await using var db = h.Db.CreateContext();
        var since = DateTime.UtcNow;
        var sql = db.LedgerEntries.Where(e => e.OrganizationId == 1 && e.Kind != LedgerKinds.Usage && e.OccurredAt >= since).ToQueryString();
        await using var connection = new SqliteConnection(h.Db.ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "EXPLAIN QUERY PLAN " + sql[sql.IndexOf("SELECT", StringComparison.Ordinal)..];
        command.Parameters.AddWithValue("@__since_0", since);
        command.Parameters.AddWithValue("@since", since);
        var plan = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync())
            while (await reader.ReadAsync()) plan.Add(reader.GetString(3));
        Assert.Contains(plan, p => p.Contains("IX_LedgerEntries_NotUsage", StringComparison.Ordinal));
    }
}
