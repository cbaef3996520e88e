namespace Cassidy.Portal.Data;

public enum OrganizationRole
{
    Member = 0,
    Admin = 1,
    Owner = 2,
}

/// <summary>How a member's per-period credit limit is decided.</summary>
public enum MemberCapMode
{
    /// <summary>The organization's default limit applies.</summary>
    Default = 0,
    /// <summary><see cref="Membership.CapMillicredits"/> applies.</summary>
    Custom = 1,
    /// <summary>Explicitly unlimited, whatever the default.</summary>
    Unlimited = 2,
}

/// <summary>The one rule of a member's effective cap, used by the writer, the Limits page and the usage breakdown.</summary>
public static class MemberCapRule
{
    /// <summary>The cap that applies (null = unlimited): their own, none, or the organization's default.</summary>
    public static long? Effective(MemberCapMode mode, long? custom, long? organizationDefault) => mode switch
    {
        MemberCapMode.Custom => custom,
        MemberCapMode.Unlimited => null,
        _ => organizationDefault,
    };
}

public class Membership
{
    public int Id { get; set; }

    public int OrganizationId { get; set; }
    public Organization Organization { get; set; } = null!;

    public string UserId { get; set; } = "";
    public ApplicationUser User { get; set; } = null!;

    public OrganizationRole Role { get; set; }

    public DateTime JoinedAt { get; set; }

    /// <summary>Per-member spending cap (credits per billing period): the org default, a number, or unlimited.</summary>
    public MemberCapMode CapMode { get; set; }

    public long? CapMillicredits { get; set; }

    /// <summary>Bumped by every cap change: a concurrency token, so the second of two admins editing the same cap is refused.</summary>
    public int CapVersion { get; set; }

    public bool IsAdmin => Role is OrganizationRole.Owner or OrganizationRole.Admin;
}
