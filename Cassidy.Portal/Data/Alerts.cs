using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Cassidy.Portal.Limits;

namespace Cassidy.Portal.Data;

/// <summary>The kinds of <see cref="AlertRule"/> (SPEC §3.4), stored as these strings.</summary>
public static class AlertKinds
{
    /// <summary>Percent of the period's monthly allowance used by the organization.</summary>
    public const string OrgAllowancePercent = "org_allowance_percent";
    /// <summary>The organization's balance fell below N credits.</summary>
    public const string OrgBalanceBelow = "org_balance_below";
    /// <summary>At the recent burn rate the balance runs out before the period ends.</summary>
    public const string OrgProjectedRunout = "org_projected_runout";
    /// <summary>Percent of a member's cap used by that member.</summary>
    public const string MemberCapPercent = "member_cap_percent";

    public static readonly string[] All = [OrgAllowancePercent, OrgBalanceBelow, OrgProjectedRunout, MemberCapPercent];

    public static bool IsMemberKind(string kind) => kind == MemberCapPercent;
}

/// <summary>When to warn, whom, and how: one rule of an organization, with its thresholds.</summary>
public class AlertRule
{
    public int Id { get; set; }
    public int OrganizationId { get; set; }
    public string Kind { get; set; } = AlertKinds.OrgAllowancePercent;

    /// <summary>Comma-separated whole numbers: percents ("50,80,100"), or credits for <see cref="AlertKinds.OrgBalanceBelow"/>;
    /// "0" for the projection, which has no threshold of its own.</summary>
    public string Thresholds { get; set; } = "";

    public bool Enabled { get; set; } = true;

    /// <summary>Recipients: every Owner and Admin of the organization.</summary>
    public bool NotifyAdmins { get; set; }
    /// <summary>Recipients: the member concerned (member rules only).</summary>
    public bool NotifyMember { get; set; }
    /// <summary>Recipients: more addresses, comma-separated, email only.</summary>
    public string ExtraEmails { get; set; } = "";

    /// <summary>Channels.</summary>
    public bool InApp { get; set; } = true;
    public bool Email { get; set; } = true;

    public DateTime CreatedAt { get; set; }

    public IReadOnlyList<long> ThresholdValues() =>
        Thresholds.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(t => long.TryParse(t, out var v) ? v : -1).Where(v => v >= 0).Distinct().Order().ToList();

    public IReadOnlyList<string> ExtraEmailList() =>
        ExtraEmails.Split([',', ';', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

/// <summary>
/// A threshold of a rule reached by a subject (the organization, or one member) in one billing period. The unique index on
/// (rule, threshold, period start, subject) is what makes an alert fire once per period, whatever races to insert it.
/// </summary>
public class AlertFiring
{
    public const string OrganizationSubject = "org";

    public long Id { get; set; }
    public int OrganizationId { get; set; }
    public int RuleId { get; set; }
    public long Threshold { get; set; }
    public DateTime PeriodStart { get; set; }
    /// <summary><see cref="OrganizationSubject"/> or the member's user id.</summary>
    public string Subject { get; set; } = OrganizationSubject;
    public DateTime FiredAt { get; set; }
    /// <summary>What the notification said, for the history.</summary>
    public string Summary { get; set; } = "";
    /// <summary>How many in-app notifications and emails it produced (emails: see the outbox, key <c>alert:{Id}:…</c>).</summary>
    public int NotificationCount { get; set; }
    public int EmailCount { get; set; }
    /// <summary>Reached together with a higher threshold of the same rule: the firing whose notification named both (null: told on its own).</summary>
    public long? SentWithId { get; set; }
}

/// <summary>An in-app notification of one user (the bell).</summary>
public class Notification
{
    public long Id { get; set; }
    public string UserId { get; set; } = "";
    public int? OrganizationId { get; set; }
    public long? FiringId { get; set; }
    public string Title { get; set; } = "";
    public string Body { get; set; } = "";
    /// <summary>A path inside the portal, e.g. <c>/orgs/acme/settings/usage</c>.</summary>
    public string? Link { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime? ReadAt { get; set; }
}

public sealed class AlertRuleConfiguration : IEntityTypeConfiguration<AlertRule>
{
    public void Configure(EntityTypeBuilder<AlertRule> builder)
    {
        builder.ToTable("AlertRules");
        builder.Property(r => r.Kind).HasMaxLength(32);
        builder.Property(r => r.Thresholds).HasMaxLength(200);
        builder.Property(r => r.ExtraEmails).HasMaxLength(2000);
        builder.HasIndex(r => r.OrganizationId);
        builder.HasOne<Organization>().WithMany().HasForeignKey(r => r.OrganizationId).OnDelete(DeleteBehavior.Cascade);
    }
}

public sealed class AlertFiringConfiguration : IEntityTypeConfiguration<AlertFiring>
{
    public void Configure(EntityTypeBuilder<AlertFiring> builder)
    {
        builder.ToTable("AlertFirings");
        builder.Property(f => f.Subject).HasMaxLength(64);
        builder.Property(f => f.Summary).HasMaxLength(500);
        // Edge-triggered, once per period per subject: the database refuses the second firing.
        builder.HasIndex(f => new { f.RuleId, f.Threshold, f.PeriodStart, f.Subject }).IsUnique()
            .HasDatabaseName("IX_AlertFirings_OncePerPeriod");
        builder.HasIndex(f => new { f.OrganizationId, f.FiredAt });
        builder.HasOne<AlertRule>().WithMany().HasForeignKey(f => f.RuleId).OnDelete(DeleteBehavior.Cascade);
    }
}

public sealed class NotificationConfiguration : IEntityTypeConfiguration<Notification>
{
    public void Configure(EntityTypeBuilder<Notification> builder)
    {
        builder.ToTable("Notifications");
        builder.Property(n => n.Title).HasMaxLength(200);
        builder.Property(n => n.Body).HasMaxLength(1000);
        builder.Property(n => n.Link).HasMaxLength(300);
        builder.HasIndex(n => new { n.UserId, n.ReadAt });
        builder.HasIndex(n => new { n.UserId, n.CreatedAt });
        builder.HasOne<ApplicationUser>().WithMany().HasForeignKey(n => n.UserId).OnDelete(DeleteBehavior.Cascade);
    }
}
