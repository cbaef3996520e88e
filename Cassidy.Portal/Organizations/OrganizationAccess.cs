using System.Security.Claims;
using Cassidy.Portal.Data;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Organizations;

/// <summary>What the signed-in user is in one organization.</summary>
public sealed record OrgMembership(int OrganizationId, string Slug, string OrganizationName, string Plan, string TimeZone,
    string UserId, OrganizationRole Role)
{
    public bool IsAdmin => Role is OrganizationRole.Owner or OrganizationRole.Admin;
}

public enum AccessDenial { NotFound, Forbidden }

/// <summary>Thrown when a user reaches for an organization (or an admin action in it) they may not use.</summary>
public sealed class OrganizationAccessDeniedException(AccessDenial denial)
    : Exception(denial == AccessDenial.NotFound ? "Organization not found." : "Only organization admins can do this.")
{
    public AccessDenial Denial { get; } = denial;
}

/// <summary>
/// The one place that decides who may see an organization. Always reads the database, so a removed member or a
/// demoted admin loses access on their next request or the next event handler in an open circuit.
/// </summary>
public sealed class OrganizationAccess(IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock)
{
    public async Task<OrgMembership?> FindAsync(ClaimsPrincipal user, string slug, CancellationToken ct = default)
    {
        var userId = UserId(user);
        if (userId is null || string.IsNullOrWhiteSpace(slug)) return null;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Memberships.AsNoTracking()
            .Where(m => m.UserId == userId && m.Organization.Slug == slug)
            .Select(m => new OrgMembership(m.OrganizationId, m.Organization.Slug, m.Organization.Name, m.Organization.Plan,
                m.Organization.TimeZone, m.UserId, m.Role))
            .FirstOrDefaultAsync(ct);
    }

    /// <summary>Returns the membership or throws: not a member → NotFound; a member where admin is required → Forbidden.</summary>
    public async Task<OrgMembership> RequireAsync(ClaimsPrincipal user, string slug, bool admin, CancellationToken ct = default)
    {
        var membership = await FindAsync(user, slug, ct) ?? throw new OrganizationAccessDeniedException(AccessDenial.NotFound);
        if (admin && !membership.IsAdmin) throw new OrganizationAccessDeniedException(AccessDenial.Forbidden);
        return membership;
    }

    public async Task<IReadOnlyList<OrgMembership>> ListAsync(ClaimsPrincipal user, CancellationToken ct = default)
    {
        var userId = UserId(user);
        if (userId is null) return [];
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Memberships.AsNoTracking()
            .Where(m => m.UserId == userId)
            .OrderBy(m => m.Organization.Name)
            .Select(m => new OrgMembership(m.OrganizationId, m.Organization.Slug, m.Organization.Name, m.Organization.Plan,
                m.Organization.TimeZone, m.UserId, m.Role))
            .ToListAsync(ct);
    }

    /// <summary>
    /// Remembers the organization the user opened last (for "/" and the sidebar) and when they were last active.
    /// Writes only when something changed or the activity stamp is more than five minutes old.
    /// </summary>
    public async Task RememberAsync(string userId, int organizationId, CancellationToken ct = default)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var stale = now.AddMinutes(-5);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await db.Users.Where(u => u.Id == userId && (u.LastOrganizationId != organizationId || u.LastActiveAt == null || u.LastActiveAt < stale))
            .ExecuteUpdateAsync(s => s.SetProperty(u => u.LastOrganizationId, organizationId).SetProperty(u => u.LastActiveAt, now), ct);
    }

    /// <summary>The organization "/" should open: the last one used, else the first one.</summary>
    public async Task<OrgMembership?> HomeAsync(ClaimsPrincipal user, CancellationToken ct = default)
    {
        var all = await ListAsync(user, ct);
        if (all.Count == 0) return null;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var userId = UserId(user);
        var last = await db.Users.Where(u => u.Id == userId).Select(u => u.LastOrganizationId).FirstOrDefaultAsync(ct);
        return all.FirstOrDefault(m => m.OrganizationId == last) ?? all[0];
    }

    public static string? UserId(ClaimsPrincipal user) =>
        user.Identity?.IsAuthenticated == true ? user.FindFirstValue(ClaimTypes.NameIdentifier) : null;
}
