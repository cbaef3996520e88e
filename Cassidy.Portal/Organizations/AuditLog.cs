using System.Security.Claims;
using Cassidy.Portal.Billing;
using Cassidy.Portal.Data;
using Cassidy.Portal.Security;

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
    public const string PlanUpgraded = "plan.upgraded";
    public const string DowngradeScheduled = "plan.downgrade_scheduled";
    public const string DowngradeCancelled = "plan.downgrade_cancelled";
    public const string PackageGranted = "staff.credit_package_granted";
    public const string Adjustment = "staff.adjustment";
    public const string EnterpriseAgreement = "staff.enterprise_agreement";
    public const string SupportRequested = "support.requested";
    public const string SupportAnswered = "staff.support_answered";

    /// <summary>An action in people's words, as the Audit log tab shows it; unknown codes are shown as they are.</summary>
    public static string Describe(string action) => action switch
    {
        MemberInvited => "Member invited",
        InvitationResent => "Invitation resent",
        InvitationRevoked => "Invitation revoked",
        MemberJoined => "Member joined",
        MemberRoleChanged => "Role changed",
        MemberRemoved => "Member removed",
        OrganizationUpdated => "Organization settings changed",
        DefaultCapChanged => "Default credit limit changed",
        MemberCapChanged => "Member's credit limit changed",
        AlertRuleChanged => "Alert rule changed",
        ChannelCreated => "Alert channel added",
        ChannelChanged => "Alert channel changed",
        ChannelSecretRotated => "Alert channel secret rotated",
        ChannelDeleted => "Alert channel deleted",
        ChannelDisabled => "Alert channel disabled after failures",
        PlanUpgraded => "Plan upgraded",
        DowngradeScheduled => "Downgrade scheduled",
        DowngradeCancelled => "Downgrade cancelled",
        PackageGranted => "Credit package granted",
        Adjustment => "Balance adjusted by support",
        EnterpriseAgreement => "Enterprise agreement set",
        SupportRequested => "Support requested",
        SupportAnswered => "Support request answered",
        _ => action,
    };
}
