using Cassidy.Portal.Organizations;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;

namespace Cassidy.Portal.Components.Shared;

/// <summary>
/// Base of every page under <c>/orgs/{slug}</c>. Route authorization already ran; the page re-checks membership
/// whenever it loads and before every event handler touches the organization's data (<see cref="RunAsync"/>),
/// so a member removed or demoted while their circuit is open is refused on their next click.
/// </summary>
public abstract class OrgPage : ComponentBase
{
    [Parameter] public string Slug { get; set; } = "";
    [CascadingParameter] protected Task<AuthenticationState> AuthState { get; set; } = default!;
    [Inject] protected OrganizationAccess Access { get; set; } = default!;

    /// <summary>The signed-in user's membership; null until loaded or when refused.</summary>
    protected OrgMembership? Membership { get; private set; }

    /// <summary>403 or 404 once access was refused.</summary>
    protected int? DeniedCode { get; private set; }

    protected virtual bool AdminOnly => true;

    protected override async Task OnParametersSetAsync()
    {
        if (await RunAsync(_ => Task.CompletedTask) is { } membership)
        {
            await Access.RememberAsync(membership.UserId, membership.OrganizationId);
            await LoadAsync(membership);
        }
    }

    /// <summary>Loads the page's data; called after access was confirmed.</summary>
    protected virtual Task LoadAsync(OrgMembership membership) => Task.CompletedTask;

    /// <summary>The signed-in user as the audit log names them.</summary>
    protected async Task<AuditActor> ActorAsync() => AuditActor.From((await AuthState).User);

    /// <summary>Confirms access, then runs an action that the audit log attributes to the signed-in user.</summary>
    protected async Task RunWithActorAsync(Func<OrgMembership, AuditActor, Task> action)
    {
        var actor = await ActorAsync();
        await RunAsync(membership => action(membership, actor));
    }

    /// <summary>Confirms access, then runs the action. Returns the membership, or null when refused.</summary>
    protected async Task<OrgMembership?> RunAsync(Func<OrgMembership, Task> action)
    {
        try
        {
            var membership = await Access.RequireAsync((await AuthState).User, Slug, AdminOnly);
            Membership = membership;
            DeniedCode = null;
            await action(membership);
            return membership;
        }
        catch (OrganizationAccessDeniedException denied)
        {
            Membership = null;
            DeniedCode = denied.Denial == AccessDenial.NotFound ? 404 : 403;
            return null;
        }
    }
}

public enum CreditStatusPart { Chip, Banner }
