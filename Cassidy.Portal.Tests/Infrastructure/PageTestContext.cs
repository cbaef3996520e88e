using System.Security.Claims;
using Cassidy.Portal.Components.Account;
using Cassidy.Portal.Billing;
using Cassidy.Portal.Usage;
using Cassidy.Portal.Notifications;
using Cassidy.Portal.Organizations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Cassidy.Portal.Security;

namespace Cassidy.Portal.Tests.Infrastructure;

/// <summary>
/// bUnit for whole pages: the real engine on a real SQLite file (LedgerHarness: organization "org", Alice the Owner,
/// Bob a Member, fake clock) and the services the pages use, signed in as Alice unless a test says otherwise.
/// </summary>
public abstract class PageTestContext : MudTestContext
{
    protected LedgerHarness H { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        H = await LedgerHarness.CreateAsync("Team");
        H.Db.AddTo(Services);
        Services.AddSingleton<TimeProvider>(H.Clock);
        Services.AddSingleton(LedgerHarness.Configuration);
        Services.AddSingleton(LedgerHarness.Plans());
        Services.AddSingleton(H.Ledger);
        Services.AddSingleton(new EmailOutbox(H.Clock, new Microsoft.AspNetCore.DataProtection.EphemeralDataProtectionProvider()));
        Services.AddLogging();
        Services.AddSingleton<NotificationCenter>();
        Services.AddScoped<OrganizationAccess>();
        Services.AddScoped<MemberManagement>();
        Services.AddScoped<OrganizationSettings>();
        Services.AddScoped<AuditQueries>();
        Services.AddScoped<OverviewReport>();
        Services.AddScoped<IPaymentCapture, RecordedInvoices>();
        Services.AddScoped<PlanChanges>();
        Services.AddScoped<SupportRequests>();
        Services.AddScoped<UsageReport>();
        Services.AddSingleton(new SharedLoads { MaxAge = TimeSpan.Zero }); // each render reads now (SharedLoadsTests test the sharing)
        SignInAs(H.Alice.Id, "Alice", "alice@test.test");
    }

    protected void SignInAs(string userId, string name, string email)
    {
        var auth = AddAuthorization();
        auth.SetAuthorized(email);
        auth.SetClaims(new Claim(ClaimTypes.NameIdentifier, userId), new Claim(PortalClaims.DisplayName, name), new Claim(ClaimTypes.Email, email));
    }

    public override async Task DisposeResourcesAsync() => await H.DisposeAsync();
}
