using Cassidy.Portal.Data;
using Cassidy.Portal.Ledger;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Organizations;

/// <summary>An organization's own settings: its name and time zone (the slug never changes once created).</summary>
public sealed class OrganizationSettings(IDbContextFactory<PortalDbContext> dbFactory, CreditLedger ledger, TimeProvider clock)
{
    public sealed record General(string Name, string Slug, string TimeZone, DateTime BillingAnchor, DateTime CreatedAt);

    /// <summary>
    /// At most one time-zone change per organization in this long: each one starts a rebuild of the daily usage rollups
    /// (LEDGER.md, "A time-zone change"), which must not be run back to back by a script or a double click.
    /// </summary>
    public static readonly TimeSpan TimeZoneChangeInterval = TimeSpan.FromMinutes(1);

    private const string TimeZoneTarget = "Time zone";

    /// <summary>IANA time zones the picker offers (charts draw days and reset times in the chosen one).</summary>
    public static IReadOnlyList<string> TimeZones { get; } = TimeZoneInfo.GetSystemTimeZones()
        .Select(z => z.Id).Where(id => id.Contains('/') || id == "UTC").Order(StringComparer.Ordinal).ToList();

    public async Task<General> GetAsync(int organizationId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Organizations.Where(o => o.Id == organizationId)
            .Select(o => new General(o.Name, o.Slug, o.TimeZone, o.BillingAnchor, o.CreatedAt)).SingleAsync(ct);
    }

    public static string? ValidateName(string? name) => Names.Problem(name, "the organization's name", minLength: 2);

    public static string? ValidateTimeZone(string? zone) =>
        zone is not null && TimeZoneInfo.TryFindSystemTimeZoneById(zone, out _) ? null : "Choose a time zone from the list.";

    public async Task<ChangeResult> UpdateAsync(int organizationId, AuditActor actor, string name, string timeZone, CancellationToken ct = default)
    {
        if (ValidateName(name) is { } nameError) return ChangeResult.Refused(nameError, "name");
        if (ValidateTimeZone(timeZone) is { } zoneError) return ChangeResult.Refused(zoneError, "timeZone");
        name = name.Trim();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var organization = await db.Organizations.SingleAsync(o => o.Id == organizationId, ct);
        var now = clock.GetUtcNow().UtcDateTime;
        if (organization.Name != name)
            AuditLog.Record(db, organizationId, actor, AuditActions.OrganizationUpdated, "Name", organization.Name, name, now);
        var zoneChanged = organization.TimeZone != timeZone;
        if (zoneChanged)
        {
            // The audit log says when the zone last changed (the (organization, time) index: a few rows at most).
            var since = now - TimeZoneChangeInterval;
            var last = await db.AuditEntries.Where(a => a.OrganizationId == organizationId && a.At > since
                    && a.Action == AuditActions.OrganizationUpdated && a.Target == TimeZoneTarget)
                .MaxAsync(a => (DateTime?)a.At, ct);
            if (last is { } at)
            {
                var wait = Math.Max(1, (int)Math.Ceiling((at + TimeZoneChangeInterval - now).TotalSeconds));
                return ChangeResult.Refused($"The time zone was changed less than a minute ago. Try again in {wait} seconds.", "timeZone");
            }
            AuditLog.Record(db, organizationId, actor, AuditActions.OrganizationUpdated, TimeZoneTarget, organization.TimeZone, timeZone, now);
        }
        organization.Name = name;
        organization.TimeZone = timeZone;
        await db.SaveChangesAsync(ct);
        // The daily usage rollups are keyed by local days: the ledger's refresh starts rebuilding them in the new zone, which
        // the background rebuilder finishes a small step at a time (pages read the hourly rollups meanwhile).
        if (zoneChanged) await ledger.RefreshAsync(organizationId);
        else ledger.View.Announce(organizationId); // open pages show the new name (a refresh announces itself)
        return ChangeResult.Ok;
    }
}
