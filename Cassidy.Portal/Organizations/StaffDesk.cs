using Cassidy.Portal.Data;
using Cassidy.Portal.Security;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Organizations;

/// <summary>An organization as the staff console's search lists it.</summary>
public sealed record OrgPick(int Id, string Name, string Slug);

/// <summary>What the staff console reads: organizations to pick from, and whether the signed-in user is still staff.</summary>
public sealed class StaffDesk(IDbContextFactory<PortalDbContext> dbFactory)
{
    /// <summary>Up to 20 organizations whose name or slug contains the text, by name.</summary>
    public async Task<IReadOnlyList<OrgPick>> FindAsync(string? text, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var query = db.Organizations.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(text))
        {
            var pattern = TextSearch.Containing(text);
            query = query.Where(o => EF.Functions.Like(o.Name, pattern, TextSearch.Escape) || EF.Functions.Like(o.Slug, pattern, TextSearch.Escape));
        }
        return await query.OrderBy(o => o.Name).Take(20).Select(o => new OrgPick(o.Id, o.Name, o.Slug)).ToListAsync(ct);
    }

    public async Task<OrgPick?> GetAsync(int organizationId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Organizations.Where(o => o.Id == organizationId).Select(o => new OrgPick(o.Id, o.Name, o.Slug)).SingleOrDefaultAsync(ct);
    }

    /// <summary>Checked again before every staff action: a user who lost the Staff role can't act from a page left open.</summary>
    public async Task<bool> IsStaffAsync(string? userId, CancellationToken ct = default)
    {
        if (userId is null) return false;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.UserRoles.Join(db.Roles, ur => ur.RoleId, r => r.Id, (ur, r) => new { ur.UserId, r.Name })
            .AnyAsync(x => x.UserId == userId && x.Name == OrgPolicies.Staff, ct);
    }
}
