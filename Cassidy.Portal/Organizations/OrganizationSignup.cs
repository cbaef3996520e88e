using System.Text;
using Cassidy.Portal.Data;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Limits;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Organizations;

/// <summary>Creates organizations: a new sign-up gets its own organization on the Free plan, as its Owner.</summary>
public sealed class OrganizationSignup(IDbContextFactory<PortalDbContext> dbFactory, CreditLedger ledger, TimeProvider clock)
{
    public const string DefaultPlan = "Free";

    public async Task<Organization> CreateForOwnerAsync(string ownerUserId, string name, string? plan = null,
        DateTime? billingAnchor = null, string? slug = null, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var now = clock.GetUtcNow().UtcDateTime;
        var organization = new Organization
        {
            Name = name,
            Slug = slug ?? await UniqueSlugAsync(db, name, ct),
            Plan = plan ?? DefaultPlan,
            BillingAnchor = billingAnchor ?? now,
            CreatedAt = now,
        };
        organization.Memberships.Add(new Membership { UserId = ownerUserId, Role = OrganizationRole.Owner, JoinedAt = now });
        db.Organizations.Add(organization);
        await using (var transaction = await db.Database.BeginTransactionAsync(ct))
        {
            await db.SaveChangesAsync(ct);
            // Every organization starts with the default credit usage alerts (50/80/100 % of the allowance, 80/100 % of member caps).
            foreach (var rule in AlertRules.Defaults(now))
            {
                rule.OrganizationId = organization.Id;
                db.AlertRules.Add(rule);
            }
            await db.SaveChangesAsync(ct);
            await transaction.CommitAsync(ct);
        }
        await db.Users.Where(u => u.Id == ownerUserId)
            .ExecuteUpdateAsync(s => s.SetProperty(u => u.LastOrganizationId, organization.Id), ct);
        // Its first monthly allowance, so the new organization has credits from the start.
        await ledger.OpenAccountAsync(organization.Id);
        return organization;
    }

    /// <summary>"Acme Corp" → "acme-corp"; taken slugs get a number: "acme-corp-2".</summary>
    public static string Slugify(string name)
    {
        var sb = new StringBuilder();
        foreach (var c in name.Normalize(NormalizationForm.FormD).ToLowerInvariant())
        {
            if (c is >= 'a' and <= 'z' or >= '0' and <= '9') sb.Append(c);
            else if ((char.IsWhiteSpace(c) || c is '-' or '_' or '.') && sb.Length > 0 && sb[^1] != '-') sb.Append('-');
        }
        var slug = sb.ToString().Trim('-');
        if (slug.Length > 48) slug = slug[..48].Trim('-');
        return slug.Length == 0 ? "org" : slug;
    }

    private static async Task<string> UniqueSlugAsync(PortalDbContext db, string name, CancellationToken ct)
    {
        var stem = Slugify(name);
        var taken = await db.Organizations.Where(o => o.Slug == stem || o.Slug.StartsWith(stem + "-"))
            .Select(o => o.Slug).ToListAsync(ct);
        if (!taken.Contains(stem)) return stem;
        for (var n = 2; ; n++)
            if (!taken.Contains($"{stem}-{n}")) return $"{stem}-{n}";
    }
}
