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

    /// <summary>Credits a member may use per billing period unless their membership overrides it; null = unlimited.</summary>
    public long? DefaultMemberCapMillicredits { get; set; }

    /// <summary>Bumped by every change of the default cap: a concurrency token (two admins editing it).</summary>
    public int DefaultCapVersion { get; set; }

    /// <summary>Monthly credits of an Enterprise agreement; null = the Enterprise plan's default.</summary>
    public long? EnterpriseMonthlyCredits { get; set; }

    /// <summary>Enterprise agreement: how much of the unused allowance (percent of the monthly allowance) rolls over; null or 0 = none.</summary>
    public int? RolloverCapPercent { get; set; }

    /// <summary>Enterprise agreement limits; null = the Enterprise plan's defaults.</summary>
    public int? EnterpriseMembers { get; set; }
    public int? EnterpriseStorageGb { get; set; }
    public int? EnterpriseMeetingHours { get; set; }

    /// <summary>A downgrade waiting for the next period (applied when the current period closes).</summary>
    public string? ScheduledPlan { get; set; }

    /// <summary>
    /// Bumped by the database (triggers, see LEDGER.md) whenever something the metering engine caches about the organization
    /// changes: its plan, agreement, caps, time zone, members or their e-mail addresses. The engine compares it in every
    /// transaction and refreshes what it holds. Never written by the application.
    /// </summary>
    public long SettingsVersion { get; set; }

    public List<Membership> Memberships { get; set; } = [];
}
