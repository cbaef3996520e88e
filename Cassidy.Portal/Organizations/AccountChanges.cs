using Cassidy.Portal.Data;
using Cassidy.Portal.Ledger;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Organizations;

/// <summary>
/// Changes to a person's account that the metering engine must hear of at once (SPEC §6 "membership is live"): the AI
/// runtime names members by e-mail, so a new address works and the old one stops working as soon as the change is made,
/// and a deleted account stops being authorized in every organization it belonged to.
/// </summary>
public sealed class AccountChanges(UserManager<ApplicationUser> users, CreditLedger ledger, IDbContextFactory<PortalDbContext> dbFactory)
{
    /// <summary>Confirms an e-mail change (the link of Manage/Email): the address is also the user name.</summary>
    public async Task<IdentityResult> ChangeEmailAsync(ApplicationUser user, string email, string token)
    {
        var result = await users.ChangeEmailAsync(user, email, token);
        if (result.Succeeded) result = await users.SetUserNameAsync(user, email);
        await ledger.RefreshMemberAsync(user.Id);
        return result;
    }

    /// <summary>
    /// Deletes the account (Manage/Personal data); its memberships go with it. Refused while the person is the last owner
    /// of an organization, which would be left with nobody able to manage it.
    /// </summary>
    public async Task<IdentityResult> DeleteAsync(ApplicationUser user)
    {
        // Decided under SQLite's write lock: the memberships go in one statement that keeps every organization's last owner,
        // so two co-owners deleting their accounts at the same moment cannot both leave. A membership still there means a
        // last owner: the transaction is rolled back and nothing changes.
        await using (var db = await dbFactory.CreateDbContextAsync())
        await using (var transaction = await db.Database.BeginTransactionAsync())
        {
            await db.Memberships.Where(m => m.UserId == user.Id && (m.Role != OrganizationRole.Owner
                    || db.Memberships.Count(o => o.OrganizationId == m.OrganizationId && o.Role == OrganizationRole.Owner) > 1))
                .ExecuteDeleteAsync();
            var orphans = await db.Memberships.Where(m => m.UserId == user.Id).Select(m => m.Organization.Name).ToListAsync();
            if (orphans.Count > 0)
                return IdentityResult.Failed(new IdentityError
                {
                    Code = "LastOwner",
                    Description = $"You are the last owner of {string.Join(", ", orphans)}. Make another member an owner first, " +
                                  "so the organization is not left without anyone who can manage it.",
                });
            await transaction.CommitAsync();
        }
        var result = await users.DeleteAsync(user);
        await ledger.RefreshMemberAsync(user.Id);
        return result;
    }
}
