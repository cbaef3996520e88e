using System.Globalization;
using System.Text.RegularExpressions;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Cassidy.Portal.Tests.Browser;

[Collection(BrowserCollection.Name)]
public sealed class BillingTests(BrowserFixture browser)
{
    private static long Number(string text) => long.Parse(Regex.Match(text, @"[\d,]+").Value.Replace(",", ""), CultureInfo.InvariantCulture);

    [Fact]
    public async Task The_admin_upgrades_acme_from_team_to_business_and_the_balance_grows_by_80000_credits()
    {
        var page = await browser.SignInAsync("admin@acme.test");
        await Expect(page.GetByTestId("balance")).ToBeVisibleAsync();
        var before = Number(await page.GetByTestId("balance").InnerTextAsync());
        await BrowserFixture.ScreenshotAsync(page, "overview-before-upgrade");

        await page.GetByTestId("get-more-credits").ClickAsync();
        await Expect(page.GetByTestId("plan-Team").GetByTestId("current-plan")).ToBeVisibleAsync();
        await BrowserFixture.ScreenshotAsync(page, "plans");
        await page.GetByTestId("upgrade-Business").ClickAsync();
        await Expect(page.GetByTestId("credits-added")).ToHaveTextAsync("+80,000");
        await Expect(page.GetByTestId("charge")).ToHaveTextAsync(new Regex(@"^\$\d"));
        await BrowserFixture.ScreenshotAsync(page, "upgrade-review");
        await page.GetByTestId("confirm-upgrade").ClickAsync();
        await Expect(page.GetByTestId("upgrade-success")).ToContainTextAsync("80,000 credits were added");
        await page.GetByRole(AriaRole.Button, new() { Name = "Done" }).ClickAsync();

        await Expect(page.GetByTestId("plan-Business").GetByTestId("current-plan")).ToBeVisibleAsync();
        await Expect(page.GetByTestId("invoices")).ToContainTextAsync("Upgrade from Team to Business");
        await page.Locator(".portal-tab", new() { HasText = "Overview" }).ClickAsync();
        await Expect(page.GetByTestId("balance")).ToBeVisibleAsync();
        var after = Number(await page.GetByTestId("balance").InnerTextAsync());
        Assert.Equal(80_000, after - before);
        // The admin-visible half of LEDGER.md's checks: the upgrade's grant is in the ledger the balance is verified against.
        await Expect(page.GetByTestId("ledger-check")).ToContainTextAsync(new Regex(@"Balance verified against [\d,]+ ledger entries"));
        await Expect(page.GetByTestId("ledger-full-check")).ToContainTextAsync(new Regex(@"Full check of every entry and rollup: passed \d+ \w+ \d{4}"));
        await BrowserFixture.ScreenshotAsync(page, "overview-after-upgrade");
    }

    [Fact]
    public async Task Staff_grant_a_credit_package_after_bad_amounts_are_refused_and_the_organization_sees_it_in_the_bell_and_overview()
    {
        var staff = await browser.SignInAsync("staff@cassidy.test");
        await Expect(staff).ToHaveURLAsync(new Regex("/staff$"));
        await staff.Locator("#staff-org").FillAsync("Globex");
        await staff.GetByText("Globex (globex)").ClickAsync();
        await Expect(staff.GetByTestId("staff-org-summary")).ToBeVisibleAsync();
        var balanceBefore = await staff.GetByTestId("staff-balance").InnerTextAsync();

        // A negative amount is refused beside the field and nothing is granted; fixing it clears the message at once.
        var credits = staff.Locator("#package-credits");
        await credits.FillAsync("-5");
        await staff.Locator("#package-reason").FillAsync("Launch week package");
        await staff.GetByTestId("grant-package").ClickAsync();
        await Expect(staff.GetByText("Enter a positive number of credits, at most 100,000,000.")).ToBeVisibleAsync();
        await BrowserFixture.ScreenshotAsync(staff, "staff-package-refused");
        await credits.FillAsync("1.2345");
        await Expect(staff.GetByText("Use at most 3 decimals (1 credit = 1000 millicredits).")).ToBeVisibleAsync();
        await credits.FillAsync("7,500");
        await Expect(staff.GetByText("Use at most 3 decimals (1 credit = 1000 millicredits).")).ToHaveCountAsync(0);
        Assert.Equal(balanceBefore, await staff.GetByTestId("staff-balance").InnerTextAsync());

        // The confirmation names the exact amount and the organization; cancelling changes nothing.
        await staff.GetByTestId("grant-package").ClickAsync();
        var dialog = staff.GetByRole(AriaRole.Dialog);
        await Expect(dialog).ToContainTextAsync("Grant 7,500 credits to Globex (globex)");
        await BrowserFixture.ScreenshotAsync(staff, "staff-package-confirm");
        await staff.Locator("#dialog-cancel").ClickAsync();
        Assert.Equal(balanceBefore, await staff.GetByTestId("staff-balance").InnerTextAsync());
        await staff.GetByTestId("grant-package").ClickAsync();
        await staff.Locator("#dialog-ok").ClickAsync();
        await Expect(staff.GetByText("7,500 credits granted to Globex.")).ToBeVisibleAsync();
        await BrowserFixture.ScreenshotAsync(staff, "staff-console");

        // An adjustment of 0 is refused too.
        await staff.GetByRole(AriaRole.Tab, new() { Name = "Adjustment" }).ClickAsync();
        await staff.Locator("#adjust-credits").FillAsync("0");
        await staff.Locator("#adjust-reason").FillAsync("Nothing");
        await staff.GetByTestId("make-adjustment").ClickAsync();
        await Expect(staff.GetByText(new Regex("other than 0"))).ToBeVisibleAsync();

        var admin = await browser.SignInAsync("admin@globex.test");
        var grants = admin.GetByTestId("grants");
        await Expect(grants).ToContainTextAsync("Credit package");
        await Expect(grants).ToContainTextAsync("Launch week package");
        var expiry = DateTime.UtcNow.AddDays(365).ToString("d MMM yyyy", CultureInfo.InvariantCulture);
        await Expect(grants).ToContainTextAsync($"expires {expiry}");
        await Expect(admin.GetByTestId("activity")).ToContainTextAsync("Launch week package");
        await BrowserFixture.ScreenshotAsync(admin, "overview-with-package");
        // The support loop closes: the admins hear of it in the bell and by e-mail.
        await Expect(admin.GetByTestId("bell")).ToHaveAttributeAsync("aria-label", new Regex("unread"));
        var mail = await browser.Factory.DeliveredEmailAsync("admin@globex.test", "7,500 credits added to Globex");
        Assert.Contains("Launch week package", mail.TextBody);

        await BrowserFixture.GoAsync(admin, "/orgs/globex/settings/audit");
        await Expect(admin.GetByTestId("audit-grid")).ToContainTextAsync("Credit package granted");
    }
}
