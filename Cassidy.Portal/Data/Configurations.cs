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
    public void Configure(EntityTypeBuilder<Organization> b)
    {
        b.HasIndex(o => o.Slug).IsUnique();
        b.Property(o => o.Slug).HasMaxLength(64);
        b.Property(o => o.Name).HasMaxLength(100);
        b.Property(o => o.Plan).HasMaxLength(32);
        b.Property(o => o.TimeZone).HasMaxLength(64);
        b.Property(o => o.ScheduledPlan).HasMaxLength(32);
        b.Property(o => o.DefaultCapVersion).IsConcurrencyToken();
        // Maintained by triggers (migration LedgerIntegrity): EF never writes it, so a stale copy can't set it back.
        var settingsVersion = b.Property(o => o.SettingsVersion).Metadata;
        settingsVersion.SetBeforeSaveBehavior(PropertySaveBehavior.Ignore);
        settingsVersion.SetAfterSaveBehavior(PropertySaveBehavior.Ignore);
    }
}

public sealed class MembershipConfiguration : IEntityTypeConfiguration<Membership>
{
    public void Configure(EntityTypeBuilder<Membership> b)
    {
        b.HasIndex(m => new { m.OrganizationId, m.UserId }).IsUnique();
        b.HasIndex(m => m.UserId);
        b.Property(m => m.Role).HasConversion<string>().HasMaxLength(16);
        b.Property(m => m.CapMode).HasConversion<string>().HasMaxLength(16);
        b.Property(m => m.CapVersion).IsConcurrencyToken();
        b.HasOne(m => m.Organization).WithMany(o => o.Memberships).HasForeignKey(m => m.OrganizationId);
        b.HasOne(m => m.User).WithMany(u => u.Memberships).HasForeignKey(m => m.UserId);
    }
}

public sealed class ApplicationUserConfiguration : IEntityTypeConfiguration<ApplicationUser>
{
    public void Configure(EntityTypeBuilder<ApplicationUser> b)
    {
        b.Property(u => u.DisplayName).HasMaxLength(100);
    }
}

public sealed class InvitationConfiguration : IEntityTypeConfiguration<Invitation>
{
    public void Configure(EntityTypeBuilder<Invitation> b)
    {
        b.HasIndex(i => i.TokenHash).IsUnique();
        b.HasIndex(i => new { i.OrganizationId, i.Email });
        b.Property(i => i.Email).HasMaxLength(256);
        b.Property(i => i.TokenHash).HasMaxLength(64);
        b.Property(i => i.Role).HasConversion<string>().HasMaxLength(16);
        b.HasOne(i => i.Organization).WithMany().HasForeignKey(i => i.OrganizationId);
    }
}

public sealed class AuditEntryConfiguration : IEntityTypeConfiguration<AuditEntry>
{
    public void Configure(EntityTypeBuilder<AuditEntry> b)
    {
        b.HasIndex(a => new { a.OrganizationId, a.At });
        b.Property(a => a.Action).HasMaxLength(64);
        b.Property(a => a.ActorName).HasMaxLength(200);
        b.Property(a => a.Target).HasMaxLength(300);
    }
}

public sealed class InvoiceConfiguration : IEntityTypeConfiguration<Invoice>
{
    public void Configure(EntityTypeBuilder<Invoice> b)
    {
        b.HasIndex(i => new { i.OrganizationId, i.IssuedAt });
        b.HasIndex(i => i.Number).IsUnique();
        // Capture is idempotent per quote: a second capture of the same quote finds this row.
        b.HasIndex(i => new { i.OrganizationId, i.QuoteId }).IsUnique().HasFilter("\"QuoteId\" IS NOT NULL");
        b.Property(i => i.QuoteId).HasMaxLength(64);
        b.Property(i => i.Number).HasMaxLength(32);
        b.Property(i => i.Description).HasMaxLength(300);
        b.Property(i => i.Status).HasMaxLength(16);
    }
}

public sealed class SupportRequestConfiguration : IEntityTypeConfiguration<SupportRequest>
{
    public void Configure(EntityTypeBuilder<SupportRequest> b)
    {
        b.HasIndex(r => new { r.AnsweredAt, r.CreatedAt });
        b.Property(r => r.Category).HasMaxLength(32);
        b.Property(r => r.Message).HasMaxLength(4000);
        b.Property(r => r.Answer).HasMaxLength(4000);
        b.HasOne(r => r.Organization).WithMany().HasForeignKey(r => r.OrganizationId);
    }
}
