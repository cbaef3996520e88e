using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Cassidy.Portal.Limits;

namespace Cassidy.Portal.Data;

public class PortalDbContext(DbContextOptions<PortalDbContext> options) : IdentityDbContext<ApplicationUser>(options), IDataProtectionKeyContext
{
    /// <summary>The data-protection key ring (cookies, antiforgery tokens): kept here so sign-ins survive restarts.</summary>
    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();
    public DbSet<Organization> Organizations => Set<Organization>();
    public DbSet<Membership> Memberships => Set<Membership>();
    public DbSet<Invitation> Invitations => Set<Invitation>();
    public DbSet<AuditEntry> AuditEntries => Set<AuditEntry>();
    public DbSet<Invoice> Invoices => Set<Invoice>();
    public DbSet<SupportRequest> SupportRequests => Set<SupportRequest>();
    public DbSet<CreditAccount> CreditAccounts => Set<CreditAccount>();
    public DbSet<CreditGrant> CreditGrants => Set<CreditGrant>();
    public DbSet<LedgerEntry> LedgerEntries => Set<LedgerEntry>();
    public DbSet<UsageEvent> UsageEvents => Set<UsageEvent>();
    public DbSet<UsageDraw> UsageDraws => Set<UsageDraw>();
    public DbSet<CreditHold> CreditHolds => Set<CreditHold>();
    public DbSet<UsageRollup> UsageRollups => Set<UsageRollup>();
    public DbSet<AgentRollup> AgentRollups => Set<AgentRollup>();
    public DbSet<RunRollup> RunRollups => Set<RunRollup>();
    public DbSet<DailyUsageRollup> DailyUsageRollups => Set<DailyUsageRollup>();
    public DbSet<DailyModelRollup> DailyModelRollups => Set<DailyModelRollup>();
    public DbSet<DailyMemberRollup> DailyMemberRollups => Set<DailyMemberRollup>();
    public DbSet<DailyAgentRollup> DailyAgentRollups => Set<DailyAgentRollup>();
    public DbSet<MeetingRollup> MeetingRollups => Set<MeetingRollup>();
    public DbSet<StorageSnapshot> StorageSnapshots => Set<StorageSnapshot>();
    public DbSet<OutboxMessage> OutboxMessages => Set<OutboxMessage>();
    public DbSet<AlertRule> AlertRules => Set<AlertRule>();
    public DbSet<AlertFiring> AlertFirings => Set<AlertFiring>();
    public DbSet<Notification> Notifications => Set<Notification>();
    public DbSet<WebhookEndpoint> WebhookEndpoints => Set<WebhookEndpoint>();
    public DbSet<WebhookDelivery> WebhookDeliveries => Set<WebhookDelivery>();
    public DbSet<WebhookAttempt> WebhookAttempts => Set<WebhookAttempt>();
    public DbSet<CreditState> CreditStates => Set<CreditState>();
    public DbSet<LedgerCheckpoint> LedgerCheckpoints => Set<LedgerCheckpoint>();
    public DbSet<MemberPeriodUsage> MemberPeriodUsages => Set<MemberPeriodUsage>();

    protected override void OnModelCreating(ModelBuilder builder)
    {
        base.OnModelCreating(builder);
        builder.ApplyConfigurationsFromAssembly(typeof(PortalDbContext).Assembly);
    }

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        // Instants are UTC DateTime in the database: SQLite can order and compare them (it cannot DateTimeOffset).
        configurationBuilder.Properties<DateTime>().HaveConversion<UtcDateTimeConverter>();
    }
}
