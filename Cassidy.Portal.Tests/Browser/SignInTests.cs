using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Cassidy.Portal.Tests.Browser;

[Collection(BrowserCollection.Name)]
public sealed class SignInTests(BrowserFixture browser)
{
    [Fact]
    public async Task The_admin_signs_in_opens_the_account_menu_and_reaches_settings_through_the_gear()
    {
        var page = await browser.SignInAsync("admin@acme.test");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/orgs/acme/settings$"));

        // The organization's name at the top of the sidebar, the account name at the bottom.
        var drawer = page.Locator(".portal-drawer");
        await Expect(drawer.Locator(".portal-org-name")).ToHaveTextAsync("Acme Corp");
        var account = page.GetByTestId("account-name");
        await Expect(account).ToContainTextAsync("Avery Admin");

        // Go somewhere else first, so the gear's navigation is observable.
        await BrowserFixture.GoAsync(page, "/orgs/acme/settings/members");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Members", Exact = true })).ToBeVisibleAsync();
        await Expect(page.GetByText("Morgan Member")).ToBeVisibleAsync();
        await BrowserFixture.ScreenshotAsync(page, "members-tab");

        await BrowserFixture.OpenAccountMenuAsync(page);
        var gear = page.GetByTestId("org-acme").GetByRole(AriaRole.Link, new() { Name = "Organization settings" });
        await Expect(gear).ToBeVisibleAsync();
        await BrowserFixture.ScreenshotAsync(page, "account-menu");
        await gear.ClickAsync();

        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/orgs/acme/settings$"));
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Overview", Exact = true })).ToBeVisibleAsync();
        await Expect(page.Locator(".portal-tab")).ToHaveTextAsync(["Overview", "Usage", "Plan & billing", "Limits & alerts", "Members", "Audit log", "My usage"]);
        await BrowserFixture.ScreenshotAsync(page, "settings-overview");
    }

    [Fact]
    public async Task A_member_sees_only_my_usage_and_a_friendly_403_on_admin_pages()
    {
        var page = await browser.SignInAsync("member@acme.test");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/orgs/acme/my-usage$"));
        await Expect(page.Locator(".portal-tab")).ToHaveCountAsync(1);
        await Expect(page.Locator(".portal-tab")).ToHaveTextAsync("My usage");

        var response = await page.GotoAsync("/orgs/acme/settings/usage");
        Assert.Equal(403, response!.Status);
        await Expect(page.GetByText("Only owners and admins of this organization")).ToBeVisibleAsync();
        await BrowserFixture.ScreenshotAsync(page, "member-403");
    }
}

[CollectionDefinition(Name)]
public sealed class BrowserCollection : ICollectionFixture<BrowserFixture>
{
    public const string Name = "Browser";
}
