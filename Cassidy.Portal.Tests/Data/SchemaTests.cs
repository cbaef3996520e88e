using Cassidy.Portal.Data;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Tests.Data;

/// <summary>
/// The parts of the schema EF Core cannot declare, written by hand into the Initial migration: a regenerated migration
/// that lost one of them fails here, not in production.
/// </summary>
public sealed class SchemaTests : IAsyncLifetime
{
    private TestDatabase _db = null!;

    public async Task InitializeAsync() => _db = await TestDatabase.CreateAsync();

    public async Task DisposeAsync() => await _db.DisposeAsync();

    private async Task<List<string>> ColumnAsync(string sql)
    {
        await using var connection = new SqliteConnection(_db.ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await using var reader = await command.ExecuteReaderAsync();
        var values = new List<string>();
        while (await reader.ReadAsync()) values.Add(reader.GetString(0));
        return values;
    }

    [Fact]
    public async Task The_hourly_and_daily_rollups_are_clustered_by_their_key()
    {
        var sql = await ColumnAsync("SELECT sql FROM sqlite_master WHERE type = 'table' AND (name LIKE 'Daily%Rollups' OR name IN ('UsageRollups', 'AgentRollups')) ORDER BY name");
        Assert.Equal(6, sql.Count);
        Assert.All(sql, table => Assert.EndsWith("WITHOUT ROWID", table.TrimEnd(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_append_only_tables_use_plain_rowids()
    {
        foreach (var table in new[] { "LedgerEntries", "UsageEvents", "UsageDraws" })
        {
            var sql = Assert.Single(await ColumnAsync($"SELECT sql FROM sqlite_master WHERE type = 'table' AND name = '{table}'"));
            Assert.DoesNotContain("AUTOINCREMENT", sql, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public async Task The_ledger_refuses_updates_and_deletes_and_settings_changes_bump_the_version()
    {
        Assert.Equal(
            ["LedgerEntries_AppendOnly_Delete", "LedgerEntries_AppendOnly_Update", "Memberships_Added", "Memberships_Changed",
             "Memberships_Removed", "Organizations_SettingsChanged", "Users_EmailChanged"],
            await ColumnAsync("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name"));

        var org = await _db.AddOrganizationAsync("acme", "Acme");
        await using var db = _db.CreateContext();
        var before = await db.Organizations.Where(o => o.Id == org.Id).Select(o => o.SettingsVersion).SingleAsync();
        await db.Organizations.Where(o => o.Id == org.Id).ExecuteUpdateAsync(o => o.SetProperty(x => x.TimeZone, "Europe/Paris"));
        Assert.Equal(before + 1, await db.Organizations.Where(o => o.Id == org.Id).Select(o => o.SettingsVersion).SingleAsync());
        db.LedgerEntries.Add(new LedgerEntry { OrganizationId = org.Id, Kind = LedgerKinds.Grant, AmountMillicredits = 1000, BalanceAfterMillicredits = 1000, OccurredAt = DateTime.UtcNow });
        await db.SaveChangesAsync();
        foreach (var change in new[] { "UPDATE LedgerEntries SET AmountMillicredits = 0", "DELETE FROM LedgerEntries" })
        {
            var error = await Assert.ThrowsAsync<SqliteException>(() => db.Database.ExecuteSqlRawAsync(change));
            Assert.Contains("append-only", error.Message, StringComparison.Ordinal);
        }
        Assert.Equal(1000, await db.LedgerEntries.SumAsync(e => e.AmountMillicredits));
    }

    [Fact]
    public async Task A_start_gives_the_planner_statistics_so_the_audit_log_reads_its_newest_entries_by_time()
    {
        var org = await _db.AddOrganizationAsync("acme", "Acme");
        await using (var connection = new SqliteConnection(_db.ConnectionString))
        {
            await connection.OpenAsync();
            await using var insert = connection.CreateCommand();
            insert.CommandText = $"""
                WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n < 4999)
                INSERT INTO AuditEntries (OrganizationId, ActorUserId, ActorName, Action, Target, At)
                SELECT {org.Id}, 'user-' || (n % 3), 'Someone', 'cap.changed', 'x', datetime('2026-01-01', '+' || n || ' minutes') FROM seq;
                ANALYZE;
                DROP INDEX IX_AuditEntries_OrganizationId_ActorUserId_At;
                CREATE INDEX IX_AuditEntries_OrganizationId_ActorUserId_At ON AuditEntries (OrganizationId, ActorUserId, At);
                """; // statistics for the table, none for an index a later migration adds: SQLite then prefers that index
            await insert.ExecuteNonQueryAsync();
        }

        // A restart: the migrations are applied (none left), then the statistics refreshed.
        var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection();
        _db.AddTo(services);
        await using (var provider = Microsoft.Extensions.DependencyInjection.ServiceCollectionContainerBuilderExtensions.BuildServiceProvider(services))
            await PortalDatabase.MigrateAsync(provider);

        var steps = new List<string>();
        await using (var connection = new SqliteConnection(_db.ConnectionString))
        {
            await connection.OpenAsync();
            await using var explain = connection.CreateCommand();
            explain.CommandText = $"EXPLAIN QUERY PLAN SELECT At FROM AuditEntries WHERE OrganizationId = {org.Id} ORDER BY At DESC, Id DESC LIMIT 25";
            await using var reader = await explain.ExecuteReaderAsync();
            while (await reader.ReadAsync()) steps.Add(reader.GetString(3));
        }
        var plan = string.Join(" | ", steps);
        Assert.Contains("IX_AuditEntries_OrganizationId_At", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("TEMP B-TREE", plan, StringComparison.Ordinal);
    }
}
