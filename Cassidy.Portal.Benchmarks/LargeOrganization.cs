using System.Diagnostics;
using Cassidy.Portal.Billing;
using Cassidy.Portal.Data;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Pricing;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Benchmarks;

/// <summary>
/// A fresh database whose organization "bench" (50 members, in New York) has the given number of model calls recorded
/// through the engine's own write path (<see cref="CreditLedger.RecordUsageAsync"/>, batches of 1,000 from four callers,
/// spread over 90 days, agents and workflows), analyzed as an operator's database would be.
/// </summary>
internal sealed class LargeOrganization : IAsyncDisposable
{
    public required string Folder { get; init; }
    public required string ConnectionString { get; init; }
    public required ServiceProvider Provider { get; init; }
    public required CreditLedger Ledger { get; init; }
    public required int OrganizationId { get; init; }
    public required DateTime Now { get; init; }
    public required IReadOnlyList<string> Models { get; init; }
    public IReadOnlyList<string> Users { get; } = Enumerable.Range(0, UsageBenchmark.Members).Select(i => $"member{i:00}@bench.test").ToList();
    public IDbContextFactory<PortalDbContext> DbFactory => Provider.GetRequiredService<IDbContextFactory<PortalDbContext>>();

    public static async Task<LargeOrganization> CreateAsync(string kind, long calls)
    {
        var folder = Path.Combine(Path.GetTempPath(), "cassidy-bench", kind + "-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var connectionString = $"Data Source={Path.Combine(folder, "portal.db")}";
        Console.WriteLine($"Cassidy {kind} benchmark — {Environment.ProcessorCount} cores, {calls:N0} calls, database {folder}");

        var services = new ServiceCollection();
        services.AddPortalDatabase(connectionString);
        var provider = services.BuildServiceProvider();
        await PortalDatabase.MigrateAsync(provider);
        var configuration = new ConfigurationBuilder().AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json")).Build();
        var prices = new PriceTable(configuration.GetSection(MeteringOptions.Section).Get<MeteringOptions>()!);
        var now = DateTime.UtcNow;
        var orgId = await UsageBenchmark.SeedOrganizationAsync(provider.GetRequiredService<IDbContextFactory<PortalDbContext>>(), now);
        var ledger = CreditLedger.Create(connectionString, prices, PlanCatalog.FromConfiguration(configuration), TimeProvider.System,
            Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        await ledger.OpenAccountAsync(orgId);
        var large = new LargeOrganization
        {
            Folder = folder, ConnectionString = connectionString, Provider = provider, Ledger = ledger, OrganizationId = orgId, Now = now,
            Models = prices.Options.Models.Keys.Order(StringComparer.Ordinal).ToArray(),
        };

        var sw = Stopwatch.StartNew();
        await large.RecordAsync(0, calls, n => SyntheticUsage.Spread(n, now, UsageBenchmark.Days));
        Console.WriteLine($"  {calls:N0} calls recorded through the engine in {sw.Elapsed.TotalSeconds:0} s");
        await using var c = new SqliteConnection(connectionString);
        await c.OpenAsync();
        await using var analyze = c.CreateCommand();
        analyze.CommandText = "ANALYZE";
        await analyze.ExecuteNonQueryAsync();
        return large;
    }

    /// <summary>Records calls <paramref name="first"/> … of "bench", at the moments <paramref name="at"/> gives.</summary>
    public Task RecordAsync(long first, long count, Func<long, DateTime> at) =>
        SyntheticUsage.RecordAsync(Ledger, first, count, n => SyntheticUsage.Call(n, "bench", Users, Models, at(n)));

    /// <summary>Deletes the database unless <paramref name="keep"/> (then says where it is).</summary>
    public async Task CloseAsync(bool keep)
    {
        await DisposeAsync();
        if (keep) Console.WriteLine($"Database kept: {Folder}");
        else try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }

    public async ValueTask DisposeAsync()
    {
        await Ledger.DisposeAsync();
        await Provider.DisposeAsync();
        SqliteConnection.ClearAllPools();
    }
}
