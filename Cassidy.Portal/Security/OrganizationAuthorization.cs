using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Cassidy.Portal.Organizations;

namespace Cassidy.Portal.Security;

/// <summary>Policy names for every route under <c>/orgs/{slug}</c>.</summary>
public static class OrgPolicies
{
    public const string Member = "OrgMember";
    public const string Admin = "OrgAdmin";
    public const string Staff = "Staff";

    public static void Add(AuthorizationOptions options)
    {
        options.AddPolicy(Member, p => p.RequireAuthenticatedUser().AddRequirements(new OrganizationRequirement(false)));
        options.AddPolicy(Admin, p => p.RequireAuthenticatedUser().AddRequirements(new OrganizationRequirement(true)));
        options.AddPolicy(Staff, p => p.RequireRole("Staff"));
    }
}

public sealed record OrganizationRequirement(bool AdminOnly) : IAuthorizationRequirement;

/// <summary>
/// Resolves <c>{slug}</c> from the endpoint's route values (HTTP requests) or from Blazor's RouteData (navigation
/// inside a circuit) and checks the user's membership in that organization.
/// </summary>
public sealed class OrganizationAuthorizationHandler(OrganizationAccess access) : AuthorizationHandler<OrganizationRequirement>
{
    public const string NotMember = "not_member";

    protected override async Task HandleRequirementAsync(AuthorizationHandlerContext context, OrganizationRequirement requirement)
    {
        var slug = context.Resource switch
        {
            HttpContext http => http.GetRouteValue("slug") as string,
            Microsoft.AspNetCore.Components.RouteData route => route.RouteValues.FirstOrDefault(kv => kv.Key.Equals("slug", StringComparison.OrdinalIgnoreCase)).Value as string,
            _ => null,
        };
        var membership = slug is null ? null : await access.FindAsync(context.User, slug);
        if (membership is null)
            context.Fail(new AuthorizationFailureReason(this, NotMember));
        else if (requirement.AdminOnly && !membership.IsAdmin)
            context.Fail();
        else
            context.Succeed(requirement);
    }
}

/// <summary>
/// A signed-in user who is not a member gets 404 (the organization's existence is not disclosed); a member on an
/// admin route gets 403. Both render the friendly status page instead of the cookie handler's redirect.
/// </summary>
public sealed class OrganizationAuthorizationResultHandler : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Forbidden && context.User.Identity?.IsAuthenticated == true)
        {
            var notMember = authorizeResult.AuthorizationFailure?.FailureReasons.Any(r => r.Message == OrganizationAuthorizationHandler.NotMember) == true;
            context.Response.StatusCode = notMember ? StatusCodes.Status404NotFound : StatusCodes.Status403Forbidden;
            return Task.CompletedTask;
        }
        return _default.HandleAsync(next, context, policy, authorizeResult);
    }
}
