using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Cassidy.Portal.Data;

/// <summary>
/// Every connection runs with synchronous=FULL (an acknowledged write survives a power cut in WAL mode),
/// waits for a busy writer instead of failing with SQLITE_BUSY, and enforces foreign keys.
/// WAL itself is stored in the database file, set once by <see cref="PortalDatabase.MigrateAsync"/>.
/// </summary>
public sealed class SqliteConnectionSetup : DbConnectionInterceptor
{
    public const string Pragmas = "PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000; PRAGMA foreign_keys=ON;";

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        command.ExecuteNonQuery();
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = Pragmas;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
