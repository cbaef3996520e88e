namespace Cassidy.Portal.Data;

public class Organization
{
    public int Id { get; set; }

    /// <summary>URL name, immutable once created.</summary>
    public string Slug { get; set; } = "";

    public string Name { get; set; } = "";

    /// <summary>Name of a plan in the <c>Plans</c> configuration section.</summary>
    public string Plan { get; set; } = "Free";

    /// <summary>UTC instant billing periods are counted from.</summary>
    public DateTime BillingAnchor { get; set; }

    /// <summary>IANA time zone in which charts draw days and reset times are shown.</summary>
    public string TimeZone { get; set; } = "UTC";

    public DateTime CreatedAt { get; set; }

    public List<Membership> Memberships { get; set; } = [];
}
