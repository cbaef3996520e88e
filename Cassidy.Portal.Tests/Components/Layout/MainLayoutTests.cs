using System.Security.Claims;
using Bunit;
using Cassidy.Portal.Components.Account;
using Cassidy.Portal.Components.Layout;
using Cassidy.Portal.Data;
using Cassidy.Portal.Organizations;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;
using Cassidy.Portal.Security;

namespace Cassidy.Portal.Tests.Components.Layout;

public sealed class MainLayoutTests : MudTestContext
{
    private TestDatabase _db = null!;
    private ApplicationUser _avery = null!;
    private Cassidy.Portal.Ledger.CreditLedger _ledger = null!;

    public override async Task InitializeAsync()
    {
        _db = await TestDatabase.CreateAsync();
        _db.AddTo(Services);
        Services.AddScoped<OrganizationAccess>();
        Services.AddLogging();
        Services.AddSingleton(TimeProvider.System);
        Services.AddSingleton(new Cassidy.Portal.Notifications.EmailOutbox(TimeProvider.System, new Microsoft.AspNetCore.DataProtection.EphemeralDataProtectionProvider()));
        Services.AddSingleton<Microsoft.Extensions.Configuration.IConfiguration>(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build());
        Services.AddSingleton<Cassidy.Portal.Notifications.NotificationCenter>();
        _ledger = Cassidy.Portal.Tests.Infrastructure.LedgerHarness.NewLedger(_db, TimeProvider.System);
        Services.AddSingleton(_ledger);
        _avery = await _db.AddUserAsync("admin@acme.test", "Avery Admin");
        var acme = await _db.AddOrganizationAsync("acme", "Acme Corp");
        var globex = await _db.AddOrganizationAsync("globex", "Globex");
        await _db.AddOrganizationAsync("initech", "Initech");
        await _db.AddMembershipAsync(acme, _avery, OrganizationRole.Owner);
        await _db.AddMembershipAsync(globex, _avery, OrganizationRole.Member);

        var auth = AddAuthorization();
        auth.SetAuthorized("admin@acme.test");
        auth.SetClaims(new Claim(ClaimTypes.NameIdentifier, _avery.Id), new Claim(PortalClaims.DisplayName, "Avery Admin"),
            new Claim(ClaimTypes.Email, "admin@acme.test"));
        Services.GetRequiredService<NavigationManager>().NavigateTo("/orgs/acme/settings");
    }

    private IRenderedComponent<MainLayout> RenderLayout() =>
        Render<MainLayout>(p => p.Add(l => l.Body, (RenderFragment)(b => b.AddContent(0, "page body"))));

    [Fact]
    public void The_sidebar_shows_the_organization_at_the_top_and_the_account_name_at_the_bottom()
    {
        var cut = RenderLayout();

        cut.WaitForAssertion(() => Assert.Equal("Acme Corp", cut.Find(".portal-drawer .portal-org-name").TextContent));
        var drawerBody = cut.Find(".portal-drawer .portal-drawer-body");
        var last = drawerBody.Children[^1];
        Assert.Contains("portal-account", last.ClassList);
        Assert.Contains("Avery Admin", last.QuerySelector("[data-testid=account-name]")!.TextContent);
    }

    [Fact]
    public void The_account_menu_lists_the_users_organizations_each_with_a_gear_to_its_settings()
    {
        var cut = RenderLayout();
        cut.WaitForAssertion(() => cut.Find("[data-testid=account-name]"));

        cut.Find("[data-testid=account-name]").Click();

        cut.WaitForAssertion(() =>
        {
            var gears = cut.FindAll("a[aria-label='Organization settings']");
            Assert.Equal(["/orgs/acme/settings", "/orgs/globex/my-usage"], gears.Select(g => g.GetAttribute("href")));
        });
        Assert.Contains("Acme Corp", cut.Find("[data-testid=org-acme]").TextContent);
        Assert.Contains("Globex", cut.Find("[data-testid=org-globex]").TextContent);
        Assert.Empty(cut.FindAll("[data-testid=org-initech]"));
    }

    [Fact]
    public void Admin_navigation_links_are_shown_for_the_current_organization()
    {
        var cut = RenderLayout();
        cut.WaitForAssertion(() => Assert.Contains(cut.FindAll(".portal-nav a"), a => a.GetAttribute("href") == "/orgs/acme/settings/usage"));
    }

    public override async Task DisposeResourcesAsync()
    {
        await _ledger.DisposeAsync();
        await _db.DisposeAsync();
    }
}
