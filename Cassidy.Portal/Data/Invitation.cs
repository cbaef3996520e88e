namespace Cassidy.Portal.Data;

/// <summary>An invitation to join an organization: a single-use link that expires.</summary>
public class Invitation
{
    public int Id { get; set; }
    public int OrganizationId { get; set; }
    public Organization Organization { get; set; } = null!;

    /// <summary>Who was invited; only this address can accept.</summary>
    public string Email { get; set; } = "";
    public OrganizationRole Role { get; set; }

    /// <summary>SHA-256 of the link's token; the token itself is never stored.</summary>
    public string TokenHash { get; set; } = "";

    public string InvitedByUserId { get; set; } = "";
    public DateTime CreatedAt { get; set; }
    public DateTime LastSentAt { get; set; }
    public DateTime ExpiresAt { get; set; }
    public DateTime? AcceptedAt { get; set; }
    public string? AcceptedByUserId { get; set; }
    public DateTime? RevokedAt { get; set; }

    public bool IsPendingAt(DateTime now) => AcceptedAt is null && RevokedAt is null && ExpiresAt > now;
}
