using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Data;

public static class PortalDatabase
{
    /// <summary>Creates the database folder, applies the committed migrations and switches the file to WAL.</summary>
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
    }
}
