using System.Security.Claims;
using Cassidy.Portal.Components.Account;
using Cassidy.Portal.Data;

namespace Cassidy.Portal.Organizations;

/// <summary>Who did something: a user (by id and the name they had then), or the system.</summary>
public sealed record AuditActor(string? UserId, string Name)
{
    public static readonly AuditActor System = new(null, "System");

    /// <summary>The signed-in user, named as the sidebar names them.</summary>
    public static AuditActor From(ClaimsPrincipal user) =>
        new(OrganizationAccess.UserId(user), user.FindFirst(PortalClaims.DisplayName)?.Value ?? user.Identity?.Name ?? "");
}

/// <summary>
/// Writes audit entries into the caller's DbContext, so the entry commits in the same transaction as the change
/// it describes — or not at all.
/// </summary>
public static class AuditLog
{
    public static void Record(PortalDbContext db, int? organizationId, AuditActor actor, string action, string target,
        string? before, string? after, DateTime at) =>
        db.AuditEntries.Add(new AuditEntry
        {
            OrganizationId = organizationId,
            ActorUserId = actor.UserId,
            ActorName = actor.Name,
            Action = action,
            Target = target,
            Before = before,
            After = after,
            At = at,
        });
}

/// <summary>The action names the audit log uses (filterable on the Audit log tab).</summary>
public static class AuditActions
{
    public const string MemberInvited = "member.invited";
    public const string InvitationResent = "invitation.resent";
    public const string InvitationRevoked = "invitation.revoked";
    public const string MemberJoined = "member.joined";
    public const string MemberRoleChanged = "member.role_changed";
    public const string MemberRemoved = "member.removed";
    public const string OrganizationUpdated = "organization.updated";
    public const string DefaultCapChanged = "limits.default_changed";
    public const string MemberCapChanged = "limits.member_changed";
    public const string AlertRuleChanged = "alerts.rule_changed";
    public const string ChannelCreated = "alerts.channel_created";
    public const string ChannelChanged = "alerts.channel_changed";
    public const string ChannelSecretRotated = "alerts.channel_secret_rotated";
    public const string ChannelDeleted = "alerts.channel_deleted";
    public const string ChannelDisabled = "alerts.channel_disabled";
}
