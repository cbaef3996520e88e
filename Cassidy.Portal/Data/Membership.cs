namespace Cassidy.Portal.Data;

public enum OrganizationRole
{
    Member = 0,
    Admin = 1,
    Owner = 2,
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

    public bool IsAdmin => Role is OrganizationRole.Owner or OrganizationRole.Admin;
}
