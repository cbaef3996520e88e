using Microsoft.AspNetCore.Identity;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Cassidy.Portal.Data;

public static class PortalDatabase
{
    /// <summary>
    /// The portal's database as every host registers it (the web app, the simulation, the benchmarks and the tests): the
    /// context factory on SQLite with the connection set-up of <see cref="SqliteConnectionSetup"/>, and the Identity schema
    /// version the migrations were made with. The connection string is <paramref name="connectionString"/>, or
    /// <c>ConnectionStrings:Portal</c> read when first used (so configuration layered on by a test host is seen too).
    /// </summary>
    public static IServiceCollection AddPortalDatabase(this IServiceCollection services, string? connectionString = null)
    {
        services.Configure<IdentityOptions>(o => o.Stores.SchemaVersion = IdentitySchemaVersions.Version3);
        services.AddDbContextFactory<PortalDbContext>((sp, options) => options
            .UseSqlite(connectionString ?? ConnectionString(sp.GetRequiredService<IConfiguration>()))
            // A SQLite table rebuild turns foreign keys off around its transaction (PRAGMA foreign_keys cannot change inside
            // one); EF warns about that on every fresh install. The rebuild itself is transactional, and the README's
            // upgrade steps start with a backup.
            .ConfigureWarnings(w => w.Ignore(RelationalEventId.NonTransactionalMigrationOperationWarning))
            .AddInterceptors(new SqliteConnectionSetup()));
        return services;
    }

    /// <summary>
    /// Makes the context's following reads one snapshot of the database, until the result is disposed: a deferred SQLite
    /// transaction, which takes no lock until the first read and never a write lock (WAL: the writer does not wait for it).
    /// For a report whose queries must agree with each other (the daily rollups' state and their rows, days and hours).
    /// </summary>
    public static async Task<IAsyncDisposable> ReadSnapshotAsync(this PortalDbContext db, CancellationToken ct = default)
    {
        await db.Database.OpenConnectionAsync(ct);
        var snapshot = ((SqliteConnection)db.Database.GetDbConnection()).BeginTransaction(deferred: true);
        await db.Database.UseTransactionAsync(snapshot, ct);
        return snapshot;
    }

    public static string ConnectionString(IConfiguration configuration) =>
        configuration.GetConnectionString("Portal") ?? throw new InvalidOperationException("Connection string 'Portal' is not configured.");

    /// <summary>Creates the database folder, applies the committed migrations, switches the file to WAL and refreshes the planner's statistics.</summary>
    public static async Task MigrateAsync(IServiceProvider services, CancellationToken ct = default)
    {
        var factory = services.GetRequiredService<IDbContextFactory<PortalDbContext>>();
        await using var db = await factory.CreateDbContextAsync(ct);
        var connectionString = db.Database.GetConnectionString()!;
        var file = new SqliteConnectionStringBuilder(connectionString).DataSource;
        if (!string.IsNullOrEmpty(file) && file != ":memory:")
        {
            var folder = Path.GetDirectoryName(Path.GetFullPath(file));
            if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
        }
        await db.Database.MigrateAsync(ct);
        await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", ct);
        // Statistics for every table that lacks them or whose size changed a lot (an index a migration added has none,
        // and without them SQLite sorted a million audit entries to show 25 through the wrong index). SQLite limits how
        // much it reads for this, so it stays quick on a large database.
        await db.Database.ExecuteSqlRawAsync("PRAGMA optimize=0x10002;", ct);
    }
}
