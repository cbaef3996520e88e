using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Cassidy.Portal.Data;

// Table names are fixed here because the ingest writer addresses them in raw SQL.
// Hot tables carry no foreign keys: the writer resolves organizations and members itself, and every index costs
// throughput on the write path.

public sealed class CreditGrantConfiguration : IEntityTypeConfiguration<CreditGrant>
{
    public void Configure(EntityTypeBuilder<CreditGrant> b)
    {
        b.ToTable("CreditGrants");
        b.Property(g => g.Kind).HasMaxLength(32);
        b.Property(g => g.Reason).HasMaxLength(500);
        b.HasIndex(g => new { g.OrganizationId, g.ExpiredAt });
        // A period's allowance exists once: closing the same period twice (two closers racing) fails here.
        b.HasIndex(g => new { g.OrganizationId, g.PeriodStart }).IsUnique()
            .HasFilter("\"Kind\" = 'monthly_allowance' AND \"PeriodStart\" IS NOT NULL")
            .HasDatabaseName("IX_CreditGrants_OneAllowancePerPeriod");
    }
}

public sealed class LedgerEntryConfiguration : IEntityTypeConfiguration<LedgerEntry>
{
    public void Configure(EntityTypeBuilder<LedgerEntry> b)
    {
        b.ToTable("LedgerEntries");
        // Append-only, so SQLite's plain rowid never reuses an id: AUTOINCREMENT would only add a write per insert.
        b.Property(e => e.Id).Metadata.SetValueGenerationStrategy(SqliteValueGenerationStrategy.None);
        b.Property(e => e.Kind).HasMaxLength(16);
        b.Property(e => e.Description).HasMaxLength(200);
        b.HasIndex(e => new { e.OrganizationId, e.OccurredAt });
    }
}

public sealed class UsageEventConfiguration : IEntityTypeConfiguration<UsageEvent>
{
    public void Configure(EntityTypeBuilder<UsageEvent> b)
    {
        b.ToTable("UsageEvents");
        b.Property(e => e.Id).Metadata.SetValueGenerationStrategy(SqliteValueGenerationStrategy.None); // append-only, as the ledger
        // Exactly once rests on this index: one event per (organization, id), no time window.
        b.HasIndex(e => new { e.OrganizationId, e.ExternalId }).IsUnique();
        b.Property(e => e.ExternalId).HasMaxLength(128);
        b.Property(e => e.Type).HasMaxLength(16);
        b.Property(e => e.Feature).HasMaxLength(16);
        b.Property(e => e.Model).HasMaxLength(64);
    }
}

public sealed class UsageDrawConfiguration : IEntityTypeConfiguration<UsageDraw>
{
    public void Configure(EntityTypeBuilder<UsageDraw> b)
    {
        b.ToTable("UsageDraws");
        b.Property(d => d.Id).Metadata.SetValueGenerationStrategy(SqliteValueGenerationStrategy.None); // append-only
        b.HasIndex(d => d.UsageEventId);
    }
}

public sealed class CreditAccountConfiguration : IEntityTypeConfiguration<CreditAccount>
{
    public void Configure(EntityTypeBuilder<CreditAccount> b)
    {
        b.ToTable("CreditAccounts");
        b.HasKey(a => a.OrganizationId);
        b.HasOne<Organization>().WithOne().HasForeignKey<CreditAccount>(a => a.OrganizationId);
    }
}

public sealed class CreditHoldConfiguration : IEntityTypeConfiguration<CreditHold>
{
    public void Configure(EntityTypeBuilder<CreditHold> b)
    {
        b.ToTable("CreditHolds");
        b.Property(h => h.Id).HasMaxLength(64);
        b.Property(h => h.Status).HasMaxLength(16);
        b.HasIndex(h => new { h.OrganizationId, h.Status, h.ExpiresAt });
        b.HasIndex(h => new { h.Status, h.ExpiresAt }); // the closer's sweep of expired holds, across organizations
    }
}

public sealed class UsageRollupConfiguration : IEntityTypeConfiguration<UsageRollup>
{
    public void Configure(EntityTypeBuilder<UsageRollup> b)
    {
        b.ToTable("UsageRollups");
        b.HasKey(r => new { r.OrganizationId, r.HourStart, r.UserId, r.Model, r.Feature });
    }
}

public sealed class AgentRollupConfiguration : IEntityTypeConfiguration<AgentRollup>
{
    public void Configure(EntityTypeBuilder<AgentRollup> b)
    {
        b.ToTable("AgentRollups");
        b.HasKey(r => new { r.OrganizationId, r.HourStart, r.UserId, r.AgentId, r.WorkflowId, r.Model });
    }
}

public sealed class DailyUsageRollupConfiguration : IEntityTypeConfiguration<DailyUsageRollup>
{
    public void Configure(EntityTypeBuilder<DailyUsageRollup> b)
    {
        b.ToTable("DailyUsageRollups");
        b.HasKey(r => new { r.OrganizationId, r.Day, r.UserId, r.Model, r.Feature });
        // My usage and a member's page read one member's days.
        b.HasIndex(r => new { r.OrganizationId, r.UserId, r.Day });
    }
}

public sealed class DailyModelRollupConfiguration : IEntityTypeConfiguration<DailyModelRollup>
{
    public void Configure(EntityTypeBuilder<DailyModelRollup> b)
    {
        b.ToTable("DailyModelRollups");
        b.HasKey(r => new { r.OrganizationId, r.Day, r.Model, r.Feature });
    }
}

public sealed class DailyMemberRollupConfiguration : IEntityTypeConfiguration<DailyMemberRollup>
{
    public void Configure(EntityTypeBuilder<DailyMemberRollup> b)
    {
        b.ToTable("DailyMemberRollups");
        b.HasKey(r => new { r.OrganizationId, r.Day, r.UserId });
    }
}

public sealed class DailyAgentRollupConfiguration : IEntityTypeConfiguration<DailyAgentRollup>
{
    public void Configure(EntityTypeBuilder<DailyAgentRollup> b)
    {
        b.ToTable("DailyAgentRollups");
        b.HasKey(r => new { r.OrganizationId, r.Day, r.UserId, r.AgentId, r.WorkflowId });
        b.HasIndex(r => new { r.OrganizationId, r.UserId, r.Day });
    }
}

public sealed class RunRollupConfiguration : IEntityTypeConfiguration<RunRollup>
{
    public void Configure(EntityTypeBuilder<RunRollup> b)
    {
        b.ToTable("RunRollups");
        b.HasKey(r => new { r.OrganizationId, r.RunId });
        b.HasIndex(r => new { r.OrganizationId, r.FirstAt });
    }
}

public sealed class MeetingRollupConfiguration : IEntityTypeConfiguration<MeetingRollup>
{
    public void Configure(EntityTypeBuilder<MeetingRollup> b)
    {
        b.ToTable("MeetingRollups");
        b.HasKey(r => new { r.OrganizationId, r.HourStart, r.UserId });
    }
}

public sealed class StorageSnapshotConfiguration : IEntityTypeConfiguration<StorageSnapshot>
{
    public void Configure(EntityTypeBuilder<StorageSnapshot> b)
    {
        b.ToTable("StorageSnapshots");
        b.HasIndex(s => new { s.OrganizationId, s.OccurredAt });
    }
}
