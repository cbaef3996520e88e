using Cassidy.Portal.Data;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Organizations;

/// <summary>Filters of the Audit log tab and its CSV export. Dates are inclusive days in UTC.</summary>
public sealed record AuditFilter(string? ActorUserId = null, string? Action = null, DateOnly? From = null, DateOnly? To = null);

public sealed record AuditRow(DateTime At, string Actor, string Action, string Target, string? Before, string? After);

public sealed class AuditQueries(IDbContextFactory<PortalDbContext> dbFactory)
{
    public async Task<(IReadOnlyList<AuditRow> Rows, int Total)> SearchAsync(int organizationId, AuditFilter filter, int page, int pageSize,
        CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var query = Filtered(db, organizationId, filter);
        var total = await query.CountAsync(ct);
        var rows = await query.OrderByDescending(a => a.At).ThenByDescending(a => a.Id).Skip(page * pageSize).Take(pageSize)
            .Select(a => new AuditRow(a.At, a.ActorName, a.Action, a.Target, a.Before, a.After)).ToListAsync(ct);
        return (rows, total);
    }

    /// <summary>Every matching entry, newest first, read as it is written out (no whole-log buffering).</summary>
    public async IAsyncEnumerable<AuditRow> StreamAsync(int organizationId, AuditFilter filter,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var rows = Filtered(db, organizationId, filter).OrderByDescending(a => a.At).ThenByDescending(a => a.Id)
            .Select(a => new AuditRow(a.At, a.ActorName, a.Action, a.Target, a.Before, a.After)).AsAsyncEnumerable();
        await foreach (var row in rows.WithCancellation(ct)) yield return row;
    }

    public async Task<IReadOnlyList<(string UserId, string Name)>> ActorsAsync(int organizationId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var actors = await db.AuditEntries.Where(a => a.OrganizationId == organizationId && a.ActorUserId != null)
            .GroupBy(a => a.ActorUserId).Select(g => new { Id = g.Key!, Name = g.Max(a => a.ActorName) ?? "" }).ToListAsync(ct);
        return actors.OrderBy(a => a.Name).Select(a => (a.Id, a.Name)).ToList();
    }

    public async Task<IReadOnlyList<string>> ActionsAsync(int organizationId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.AuditEntries.Where(a => a.OrganizationId == organizationId).Select(a => a.Action).Distinct().OrderBy(a => a).ToListAsync(ct);
    }

    private static IQueryable<AuditEntry> Filtered(PortalDbContext db, int organizationId, AuditFilter filter)
    {
        var query = db.AuditEntries.AsNoTracking().Where(a => a.OrganizationId == organizationId);
        if (!string.IsNullOrEmpty(filter.ActorUserId)) query = query.Where(a => a.ActorUserId == filter.ActorUserId);
        if (!string.IsNullOrEmpty(filter.Action)) query = query.Where(a => a.Action == filter.Action);
        if (filter.From is { } from)
        {
            var start = from.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
            query = query.Where(a => a.At >= start);
        }
        if (filter.To is { } to)
        {
            var end = to.AddDays(1).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
            query = query.Where(a => a.At < end);
        }
        return query;
    }
}
