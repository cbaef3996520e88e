using Cassidy.Portal.Data;
using Cassidy.Portal.Billing;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Pricing;
using Cassidy.Portal.Notifications;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Cassidy.Portal.Tests.Infrastructure;

/// <summary>The real engine on a real migrated SQLite file, with a fake clock: one organization and its members.</summary>
public sealed class LedgerHarness : IAsyncDisposable
{
    public static readonly IConfiguration Configuration = new ConfigurationBuilder()
        .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json")).Build();

    public static PriceTable Prices() => new(Configuration.GetSection("Metering").Get<MeteringOptions>()!);
    public static PlanCatalog Plans() => PlanCatalog.FromConfiguration(Configuration);

    public required TestDatabase Db { get; init; }
    public required FakeTimeProvider Clock { get; init; }
    public required CreditLedger Ledger { get; set; }
    public required Organization Org { get; init; }
    public required ApplicationUser Alice { get; init; }
    public required ApplicationUser Bob { get; init; }

    public static async Task<LedgerHarness> CreateAsync(string plan = "Team", DateTime? anchor = null,
        long? defaultCap = null, long? enterpriseCredits = null, int? rolloverPercent = null)
    {
        var start = anchor ?? new DateTime(2026, 1, 15, 9, 0, 0, DateTimeKind.Utc);
        var clock = new FakeTimeProvider(new DateTimeOffset(start));
        var db = await TestDatabase.CreateAsync();
        var alice = await db.AddUserAsync("alice@test.test", "Alice");
        var bob = await db.AddUserAsync("bob@test.test", "Bob");
        var org = new Organization
        {
            Slug = "org", Name = "Org", Plan = plan, BillingAnchor = start, CreatedAt = start,
            DefaultMemberCapMillicredits = defaultCap, EnterpriseMonthlyCredits = enterpriseCredits, RolloverCapPercent = rolloverPercent,
        };
        await using (var context = db.CreateContext())
        {
            context.Organizations.Add(org);
            await context.SaveChangesAsync();
        }
        await db.AddMembershipAsync(org, alice, OrganizationRole.Owner);
        await db.AddMembershipAsync(org, bob, OrganizationRole.Member);
        var harness = new LedgerHarness { Db = db, Clock = clock, Ledger = NewLedger(db, clock), Org = org, Alice = alice, Bob = bob };
        await harness.Ledger.OpenAccountAsync(org.Id);
        return harness;
    }

    public static CreditLedger NewLedger(TestDatabase db, TimeProvider clock) =>
        CreditLedger.Create(db.ConnectionString, Prices(), Plans(), clock, NullLogger.Instance);

    public DateTime Now => Clock.GetUtcNow().UtcDateTime;

    /// <summary>The bell and the e-mail outbox on this database (e-mails stay in the outbox table).</summary>
    public NotificationCenter Notifications() => new(Db.CreateFactory(),
        new EmailOutbox(Clock, new Microsoft.AspNetCore.DataProtection.EphemeralDataProtectionProvider()), Configuration, Clock,
        NullLogger<NotificationCenter>.Instance);

    public UsageEventInput Call(string id, string user = "alice@test.test", string model = "gpt-4.1", long input = 1000,
        long output = 0, long knowledge = 0, string feature = Features.AgentChat, string[]? capabilities = null,
        string? holdId = null, string org = "org") => new()
    {
        Id = id, Organization = org, User = user, OccurredAt = Clock.GetUtcNow(), Feature = feature, Model = model,
        InputTokens = input, OutputTokens = output, KnowledgeTokens = knowledge, Capabilities = capabilities, HoldId = holdId,
    };

    public async Task<UsageResult> RecordAsync(UsageEventInput e) => (await Ledger.RecordUsageAsync([e]))[0];

    /// <summary>gpt-4.1 input costs 2 credits per 1000 tokens: a call of this many credits.</summary>
    public UsageEventInput Spend(string id, long credits, string user = "alice@test.test") => Call(id, user, input: credits * 500);

    public async Task<BalanceSnapshot> BalanceAsync() => (await Ledger.GetBalanceAsync(Org.Id))!;

    /// <summary>The incremental check (from wherever the last check left off) and the full one both say the books add up, and agree.</summary>
    public async Task<LedgerCheck> AssertBooksBalanceAsync()
    {
        var verified = await Ledger.VerifyAsync(Org.Id);
        Assert.True(verified.Ok, $"Incremental ledger check failed: {verified.Problem}");
        var check = await Ledger.FullCheckAsync(Org.Id);
        Assert.True(check.Ok, $"Ledger check failed: {check}");
        Assert.Equal(check.LedgerEntries, verified.LedgerEntries);
        return check;
    }

    public async Task<List<CreditGrant>> GrantsAsync()
    {
        await using var context = Db.CreateContext();
        return await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.ToListAsync(
            context.CreditGrants.Where(g => g.OrganizationId == Org.Id).OrderBy(g => g.Id));
    }

    public async Task<List<LedgerEntry>> LedgerAsync()
    {
        await using var context = Db.CreateContext();
        return await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.ToListAsync(
            context.LedgerEntries.Where(g => g.OrganizationId == Org.Id).OrderBy(g => g.Id));
    }

    public async ValueTask DisposeAsync()
    {
        await Ledger.DisposeAsync();
        await Db.DisposeAsync();
    }
}
