using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Cassidy.Portal.Data;

/// <summary>Writes every instant as UTC and reads it back with Kind = Utc.</summary>
public sealed class UtcDateTimeConverter() : ValueConverter<DateTime, DateTime>(
    v => v.Kind == DateTimeKind.Utc ? v : v.ToUniversalTime(),
    v => DateTime.SpecifyKind(v, DateTimeKind.Utc));

public sealed class OrganizationConfiguration : IEntityTypeConfiguration<Organization>
{
    public void Configure(EntityTypeBuilder<Organization> builder)
    {
        builder.HasIndex(o => o.Slug).IsUnique();
        builder.Property(o => o.Slug).HasMaxLength(64);
        builder.Property(o => o.Name).HasMaxLength(100);
        builder.Property(o => o.Plan).HasMaxLength(32);
        builder.Property(o => o.TimeZone).HasMaxLength(64);
        builder.Property(o => o.ScheduledPlan).HasMaxLength(32);
        builder.Property(o => o.DefaultCapVersion).IsConcurrencyToken();
        // Maintained by triggers (hand-written in the Initial migration): EF never writes it, so a stale copy can't set it back.
        var settingsVersion = builder.Property(o => o.SettingsVersion).HasDefaultValue(0L).Metadata;
        settingsVersion.SetBeforeSaveBehavior(PropertySaveBehavior.Ignore);
        settingsVersion.SetAfterSaveBehavior(PropertySaveBehavior.Ignore);
    }
}

public sealed class MembershipConfiguration : IEntityTypeConfiguration<Membership>
{
    public void Configure(EntityTypeBuilder<Membership> builder)
    {
        builder.HasIndex(m => new { m.OrganizationId, m.UserId }).IsUnique();
        builder.HasIndex(m => m.UserId);
        builder.Property(m => m.Role).HasConversion<string>().HasMaxLength(16);
        builder.Property(m => m.CapMode).HasConversion<string>().HasMaxLength(16);
        builder.Property(m => m.CapVersion).IsConcurrencyToken();
        builder.HasOne(m => m.Organization).WithMany(o => o.Memberships).HasForeignKey(m => m.OrganizationId);
        builder.HasOne(m => m.User).WithMany(u => u.Memberships).HasForeignKey(m => m.UserId);
    }
}

public sealed class ApplicationUserConfiguration : IEntityTypeConfiguration<ApplicationUser>
{
    public void Configure(EntityTypeBuilder<ApplicationUser> builder)
    {
        builder.Property(u => u.DisplayName).HasMaxLength(100);
    }
}

public sealed class InvitationConfiguration : IEntityTypeConfiguration<Invitation>
{
    public void Configure(EntityTypeBuilder<Invitation> builder)
    {
        builder.HasIndex(i => i.TokenHash).IsUnique();
        builder.HasIndex(i => new { i.OrganizationId, i.Email });
        builder.Property(i => i.Email).HasMaxLength(256);
        builder.Property(i => i.TokenHash).HasMaxLength(64);
        builder.Property(i => i.Role).HasConversion<string>().HasMaxLength(16);
        builder.HasOne(i => i.Organization).WithMany().HasForeignKey(i => i.OrganizationId);
    }
}

public sealed class AuditEntryConfiguration : IEntityTypeConfiguration<AuditEntry>
{
    public void Configure(EntityTypeBuilder<AuditEntry> builder)
    {
        builder.HasIndex(a => new { a.OrganizationId, a.At });
        // The Audit log's filters: one action or one actor, newest first; and the distinct actions and actors the filters
        // offer, read by skipping from one value to the next (a million entries hold a few dozen of them).
        builder.HasIndex(a => new { a.OrganizationId, a.Action, a.At });
        builder.HasIndex(a => new { a.OrganizationId, a.ActorUserId, a.At });
        builder.Property(a => a.Action).HasMaxLength(64);
        builder.Property(a => a.ActorName).HasMaxLength(200);
        builder.Property(a => a.Target).HasMaxLength(300);
    }
}

public sealed class InvoiceConfiguration : IEntityTypeConfiguration<Invoice>
{
    public void Configure(EntityTypeBuilder<Invoice> builder)
    {
        builder.HasIndex(i => new { i.OrganizationId, i.IssuedAt });
        builder.HasIndex(i => i.Number).IsUnique();
        // Capture is idempotent per quote: a second capture of the same quote finds this row.
        builder.HasIndex(i => new { i.OrganizationId, i.QuoteId }).IsUnique().HasFilter("\"QuoteId\" IS NOT NULL");
        builder.Property(i => i.QuoteId).HasMaxLength(64);
        builder.Property(i => i.Number).HasMaxLength(32);
        builder.Property(i => i.Description).HasMaxLength(300);
        builder.Property(i => i.Status).HasMaxLength(16);
    }
}

public sealed class SupportRequestConfiguration : IEntityTypeConfiguration<SupportRequest>
{
    public void Configure(EntityTypeBuilder<SupportRequest> builder)
    {
        builder.HasIndex(r => new { r.AnsweredAt, r.CreatedAt });
        builder.Property(r => r.Category).HasMaxLength(32);
        builder.Property(r => r.Message).HasMaxLength(4000);
        builder.Property(r => r.Answer).HasMaxLength(4000);
        builder.HasOne(r => r.Organization).WithMany().HasForeignKey(r => r.OrganizationId);
    }
}
