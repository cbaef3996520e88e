using System.Security.Claims;
using Cassidy.Portal.Data;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace Cassidy.Portal.Security;

public static class PortalClaims
{
    /// <summary>The account name shown at the bottom of the sidebar.</summary>
    public const string DisplayName = "display_name";
}

/// <summary>Adds the display name to the sign-in cookie so the layout need not query for it.</summary>
public sealed class PortalClaimsFactory(UserManager<ApplicationUser> users, RoleManager<IdentityRole> roles, IOptions<IdentityOptions> options)
    : UserClaimsPrincipalFactory<ApplicationUser, IdentityRole>(users, roles, options)
{
    protected override async Task<ClaimsIdentity> GenerateClaimsAsync(ApplicationUser user)
    {
        var identity = await base.GenerateClaimsAsync(user);
        identity.AddClaim(new Claim(PortalClaims.DisplayName, string.IsNullOrWhiteSpace(user.DisplayName) ? user.Email ?? "" : user.DisplayName));
        return identity;
    }
}
