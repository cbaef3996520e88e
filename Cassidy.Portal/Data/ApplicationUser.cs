using Microsoft.AspNetCore.Identity;

namespace Cassidy.Portal.Data;

public class ApplicationUser : IdentityUser
{
    /// <summary>The name shown at the bottom of the sidebar and in member lists.</summary>
    public string DisplayName { get; set; } = "";

    /// <summary>The organization the user last opened; "/" goes back there.</summary>
    public int? LastOrganizationId { get; set; }

    public DateTime CreatedAt { get; set; }

    /// <summary>When the user last opened a page of the portal (kept to the nearest few minutes).</summary>
    public DateTime? LastActiveAt { get; set; }

    public List<Membership> Memberships { get; set; } = [];
}
