using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Cassidy.Portal.Data;

// Table names are fixed here because the ingest writer addresses them in raw SQL.
// Hot tables carry no foreign keys: the writer resolves organizations and members itself, and every index costs
// throughput on the write path.

public sealed class CreditGrantConfiguration : IEntityTypeConfiguration<CreditGrant>
{
    public void Configure(EntityTypeBuilder<CreditGrant> builder)
    {
        builder.ToTable("CreditGrants");
        builder.Property(g => g.Kind).HasMaxLength(32);
        builder.Property(g => g.Reason).HasMaxLength(500);
        builder.HasIndex(g => new { g.OrganizationId, g.ExpiredAt });
        // A period's allowance exists once: closing the same period twice (two closers racing) fails here.
        builder.HasIndex(g => new { g.OrganizationId, g.PeriodStart }).IsUnique()
            .HasFilter("\"Kind\" = 'monthly_allowance' AND \"PeriodStart\" IS NOT NULL")
            .HasDatabaseName("IX_CreditGrants_OneAllowancePerPeriod");
    }
}

public sealed class LedgerEntryConfiguration : IEntityTypeConfiguration<LedgerEntry>
{
    public void Configure(EntityTypeBuilder<LedgerEntry> builder)
    {
        builder.ToTable("LedgerEntries");
        // Append-only, so SQLite's plain rowid never reuses an id: AUTOINCREMENT would only add a write per insert.
        builder.Property(e => e.Id).Metadata.SetValueGenerationStrategy(SqliteValueGenerationStrategy.None);
        builder.Property(e => e.Kind).HasMaxLength(16);
        builder.Property(e => e.Description).HasMaxLength(200);
        builder.HasIndex(e => new { e.OrganizationId, e.OccurredAt });
        // The Overview's recent activity lists grants, expiries, rollovers and adjustments: a partial index holds only
        // those (usage entries, nearly all of the table, never enter it, so it costs ingest nothing).
        builder.HasIndex(e => new { e.OrganizationId, e.OccurredAt }, "IX_LedgerEntries_NotUsage").HasFilter("\"Kind\" <> 'usage'");
    }
}

public sealed class UsageEventConfiguration : IEntityTypeConfiguration<UsageEvent>
{
    public void Configure(EntityTypeBuilder<UsageEvent> builder)
    {
        builder.ToTable("UsageEvents");
        builder.Property(e => e.Id).Metadata.SetValueGenerationStrategy(SqliteValueGenerationStrategy.None); // append-only, as the ledger
        // Exactly once rests on this index: one event per (organization, id), no time window.
        builder.HasIndex(e => new { e.OrganizationId, e.ExternalId }).IsUnique();
        builder.Property(e => e.ExternalId).HasMaxLength(128);
        builder.Property(e => e.Type).HasMaxLength(16);
        builder.Property(e => e.Feature).HasMaxLength(16);
        builder.Property(e => e.Model).HasMaxLength(64);
    }
}

public sealed class UsageDrawConfiguration : IEntityTypeConfiguration<UsageDraw>
{
    public void Configure(EntityTypeBuilder<UsageDraw> builder)
    {
        builder.ToTable("UsageDraws");
        builder.Property(d => d.Id).Metadata.SetValueGenerationStrategy(SqliteValueGenerationStrategy.None); // append-only
        builder.HasIndex(d => d.UsageEventId);
    }
}

public sealed class CreditAccountConfiguration : IEntityTypeConfiguration<CreditAccount>
{
    public void Configure(EntityTypeBuilder<CreditAccount> builder)
    {
        builder.ToTable("CreditAccounts");
        builder.HasKey(a => a.OrganizationId);
        builder.HasOne<Organization>().WithOne().HasForeignKey<CreditAccount>(a => a.OrganizationId);
    }
}

public sealed class CreditHoldConfiguration : IEntityTypeConfiguration<CreditHold>
{
    public void Configure(EntityTypeBuilder<CreditHold> builder)
    {
        builder.ToTable("CreditHolds");
        builder.Property(h => h.Id).HasMaxLength(64);
        builder.Property(h => h.Status).HasMaxLength(16);
        builder.HasIndex(h => new { h.OrganizationId, h.Status, h.ExpiresAt });
        builder.HasIndex(h => new { h.Status, h.ExpiresAt }); // the closer's sweep of expired holds, across organizations
    }
}

public sealed class UsageRollupConfiguration : IEntityTypeConfiguration<UsageRollup>
{
    public void Configure(EntityTypeBuilder<UsageRollup> builder)
    {
        builder.ToTable("UsageRollups");
        builder.HasKey(r => new { r.OrganizationId, r.HourStart, r.UserId, r.Model, r.Feature });
    }
}

public sealed class AgentRollupConfiguration : IEntityTypeConfiguration<AgentRollup>
{
    public void Configure(EntityTypeBuilder<AgentRollup> builder)
    {
        builder.ToTable("AgentRollups");
        builder.HasKey(r => new { r.OrganizationId, r.HourStart, r.UserId, r.AgentId, r.WorkflowId, r.Model });
    }
}

public sealed class DailyUsageRollupConfiguration : IEntityTypeConfiguration<DailyUsageRollup>
{
    public void Configure(EntityTypeBuilder<DailyUsageRollup> builder)
    {
        builder.ToTable("DailyUsageRollups");
        builder.HasKey(r => new { r.OrganizationId, r.Day, r.UserId, r.Model, r.Feature });
        // My usage and a member's page read one member's days.
        builder.HasIndex(r => new { r.OrganizationId, r.UserId, r.Day });
    }
}

public sealed class DailyModelRollupConfiguration : IEntityTypeConfiguration<DailyModelRollup>
{
    public void Configure(EntityTypeBuilder<DailyModelRollup> builder)
    {
        builder.ToTable("DailyModelRollups");
        builder.HasKey(r => new { r.OrganizationId, r.Day, r.Model, r.Feature });
    }
}

public sealed class DailyMemberRollupConfiguration : IEntityTypeConfiguration<DailyMemberRollup>
{
    public void Configure(EntityTypeBuilder<DailyMemberRollup> builder)
    {
        builder.ToTable("DailyMemberRollups");
        builder.HasKey(r => new { r.OrganizationId, r.Day, r.UserId });
    }
}

public sealed class DailyAgentRollupConfiguration : IEntityTypeConfiguration<DailyAgentRollup>
{
    public void Configure(EntityTypeBuilder<DailyAgentRollup> builder)
    {
        builder.ToTable("DailyAgentRollups");
        builder.HasKey(r => new { r.OrganizationId, r.Day, r.UserId, r.AgentId, r.WorkflowId });
        builder.HasIndex(r => new { r.OrganizationId, r.UserId, r.Day });
    }
}

public sealed class RunRollupConfiguration : IEntityTypeConfiguration<RunRollup>
{
    public void Configure(EntityTypeBuilder<RunRollup> builder)
    {
        builder.ToTable("RunRollups");
        builder.HasKey(r => new { r.OrganizationId, r.RunId });
        builder.HasIndex(r => new { r.OrganizationId, r.FirstAt });
    }
}

public sealed class MeetingRollupConfiguration : IEntityTypeConfiguration<MeetingRollup>
{
    public void Configure(EntityTypeBuilder<MeetingRollup> builder)
    {
        builder.ToTable("MeetingRollups");
        builder.HasKey(r => new { r.OrganizationId, r.HourStart, r.UserId });
    }
}

public sealed class StorageSnapshotConfiguration : IEntityTypeConfiguration<StorageSnapshot>
{
    public void Configure(EntityTypeBuilder<StorageSnapshot> builder)
    {
        builder.ToTable("StorageSnapshots");
        builder.HasIndex(s => new { s.OrganizationId, s.OccurredAt });
    }
}

public sealed class MemberPeriodUsageConfiguration : IEntityTypeConfiguration<MemberPeriodUsage>
{
    public void Configure(EntityTypeBuilder<MemberPeriodUsage> builder)
    {
        builder.ToTable("MemberPeriodUsages");
        builder.HasKey(u => new { u.OrganizationId, u.UserId });
    }
}

public sealed class LedgerCheckpointConfiguration : IEntityTypeConfiguration<LedgerCheckpoint>
{
    public void Configure(EntityTypeBuilder<LedgerCheckpoint> builder)
    {
        builder.ToTable("LedgerCheckpoints");
        builder.HasKey(c => c.OrganizationId);
        builder.HasOne<Organization>().WithOne().HasForeignKey<LedgerCheckpoint>(c => c.OrganizationId).OnDelete(DeleteBehavior.Cascade);
        builder.Property(c => c.RollupTimeZone).HasMaxLength(64);
        builder.Property(c => c.FullProblem).HasMaxLength(300);
        builder.Property(c => c.ReportedProblem).HasMaxLength(300);
    }
}
