namespace Cassidy.Portal.Data;

/// <summary>Who changed what, when: one append-only row per change (never updated or deleted).</summary>
public class AuditEntry
{
    public long Id { get; set; }
    public int? OrganizationId { get; set; }
    public string? ActorUserId { get; set; }
    /// <summary>The actor's name at the time, kept even if the account goes away.</summary>
    public string ActorName { get; set; } = "";
    /// <summary>A stable dotted name such as <c>member.role_changed</c>.</summary>
    public string Action { get; set; } = "";
    /// <summary>What was changed, in words a person reads ("Morgan Member", "invitation to x@y").</summary>
    public string Target { get; set; } = "";
    public string? Before { get; set; }
    public string? After { get; set; }
    public DateTime At { get; set; }
}
