using Cassidy.Portal.Data;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Limits;
using Cassidy.Portal.Notifications;
using Cassidy.Portal.Organizations;
using Cassidy.Portal.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Cassidy.Portal.Tests.Infrastructure;

/// <summary>
/// <see cref="LedgerHarness"/> (real engine, real SQLite, fake clock) plus the alert services as the app registers them:
/// the evaluator, the default rules of a new organization, caps, notifications and the email outbox.
/// Alice is the Owner, Bob a Member; the Team plan gives 20,000 credits a period.
/// </summary>
public sealed class AlertHarness : IAsyncDisposable
{
    public const string BaseUrl = "http://portal.test";

    public required LedgerHarness Ledger { get; init; }
    public required ServiceProvider Services { get; init; }
    public AlertEvaluator Evaluator => Services.GetRequiredService<AlertEvaluator>();
    public MemberCaps Caps => Services.GetRequiredService<MemberCaps>();
    public AlertRules Rules => Services.GetRequiredService<AlertRules>();
    public NotificationCenter Notifications => Services.GetRequiredService<NotificationCenter>();
    public WebhookEndpoints Channels => Services.GetRequiredService<WebhookEndpoints>();
    public WebhookDispatcher Webhooks => Services.GetRequiredService<WebhookDispatcher>();
    public int OrgId => Ledger.Org.Id;
    public static readonly AuditActor Admin = new("admin-id", "Avery Admin");

    public static async Task<AlertHarness> CreateAsync(long? defaultCap = null)
    {
        var ledger = await LedgerHarness.CreateAsync(defaultCap: defaultCap);
        var harness = new AlertHarness { Ledger = ledger, Services = BuildServices(ledger) };
        await using var db = ledger.Db.CreateContext();
        foreach (var rule in AlertRules.Defaults(ledger.Now))
        {
            rule.OrganizationId = ledger.Org.Id;
            // On by default in the product; off here, so that tests spending a lot in one instant (a steep burn rate) count
            // only the rule they are about. Its own tests turn it on.
            if (rule.Kind == AlertKinds.OrgProjectedRunout) rule.Enabled = false;
            db.AlertRules.Add(rule);
        }
        await db.SaveChangesAsync();
        return harness;
    }

    /// <summary>The services on the harness's database and clock; a second call is the portal after a restart.</summary>
    public static ServiceProvider BuildServices(LedgerHarness ledger)
    {
        return TestServices.Build(ledger.Db, ledger.Clock, new Dictionary<string, string?>
        {
            ["Portal:BaseUrl"] = BaseUrl,
            // The test receivers listen on loopback over plain http.
            ["Webhooks:AllowHttp"] = "true",
            ["Webhooks:AllowPrivateNetworks"] = "true",
        }, services => services.AddSingleton(ledger.Ledger));
    }

    public Task SpendAsync(string id, long credits, string user = "alice@test.test") => Ledger.RecordAsync(Ledger.Spend(id, credits, user));

    public async Task<List<AlertFiring>> FiringsAsync()
    {
        await using var db = Ledger.Db.CreateContext();
        return await db.AlertFirings.OrderBy(f => f.Id).ToListAsync();
    }

    public async Task<List<Notification>> NotificationsAsync(string? userId = null)
    {
        await using var db = Ledger.Db.CreateContext();
        return await db.Notifications.Where(n => userId == null || n.UserId == userId).OrderBy(n => n.Id).ToListAsync();
    }

    public async Task<List<OutboxMessage>> EmailsAsync()
    {
        await using var db = Ledger.Db.CreateContext();
        return await db.OutboxMessages.OrderBy(m => m.Id).ToListAsync();
    }

    public async Task<AlertRule> RuleAsync(string kind)
    {
        await using var db = Ledger.Db.CreateContext();
        return await db.AlertRules.SingleAsync(r => r.Kind == kind);
    }

    public async Task<AuthorizeDecision> AuthorizeAsync(string user) =>
        (await Ledger.Ledger.AuthorizeAsync(new AuthorizeInput("org", user, Features.AgentChat))).Decision!;

    public async Task<int> VersionOfAsync(string userId)
    {
        await using var db = Ledger.Db.CreateContext();
        return await db.Memberships.Where(m => m.UserId == userId).Select(m => m.CapVersion).SingleAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await Evaluator.StopAsync(CancellationToken.None);
        await Services.DisposeAsync();
        await Ledger.DisposeAsync();
    }
}
