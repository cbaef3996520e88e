using Cassidy.Portal.Data;
using Cassidy.Portal.Metering;
using Microsoft.AspNetCore.Identity;

namespace Cassidy.Portal.Organizations;

/// <summary>
/// Changes to a person's account that the metering engine must hear of at once (SPEC §6 "membership is live"): the AI
/// runtime names members by e-mail, so a new address works and the old one stops working as soon as the change is made,
/// and a deleted account stops being authorized in every organization it belonged to.
/// </summary>
public sealed class AccountChanges(UserManager<ApplicationUser> users, CreditLedger ledger)
{
    /// <summary>Confirms an e-mail change (the link of Manage/Email): the address is also the user name.</summary>
    public async Task<IdentityResult> ChangeEmailAsync(ApplicationUser user, string email, string token)
    {
        var result = await users.ChangeEmailAsync(user, email, token);
        if (result.Succeeded) result = await users.SetUserNameAsync(user, email);
        await ledger.RefreshMemberAsync(user.Id);
        return result;
    }

    /// <summary>Deletes the account (Manage/Personal data); its memberships go with it.</summary>
    public async Task<IdentityResult> DeleteAsync(ApplicationUser user)
    {
        var result = await users.DeleteAsync(user);
        if (result.Succeeded) await ledger.RefreshMemberAsync(user.Id);
        return result;
    }
}
