using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Cassidy.Portal.Data;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Cassidy.Portal.Tests.Browser;

/// <summary>What admins, members and staff notice in Chromium: pages that stay current, navigation that says where you are and
/// what happened, the custom range on a phone, members' roles, invoices, and the account pages.</summary>
[Collection(BrowserCollection.Name)]
public sealed class AdminExperienceTests(BrowserFixture browser)
{
    private HttpClient Api()
    {
        var client = new HttpClient { BaseAddress = new Uri(browser.BaseUrl) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", BrowserFixture.IngestKey);
        return client;
    }

    private static long Number(string text) => long.Parse(Regex.Match(text, @"[\d,]+").Value.Replace(",", ""), System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task The_overview_follows_new_usage_and_the_sidebar_follows_a_rename_without_a_reload()
    {
        var admin = await browser.SignInAsync("admin@globex.test");
        await BrowserFixture.GoAsync(admin, "/orgs/globex/settings");
        var balance = admin.GetByTestId("balance");
        var before = Number(await balance.InnerTextAsync());

        var recorded = await Api().PostAsJsonAsync("/internal/v1/usage-events", new
        {
            events = new[] { new { id = $"live-{Guid.NewGuid():N}", organization = "globex", user = "admin@globex.test", occurredAt = DateTimeOffset.UtcNow,
                feature = "agent_chat", model = "gpt-4.1", inputTokens = 500_000, outputTokens = 0 } },
        });
        recorded.EnsureSuccessStatusCode();
        await Expect(balance).Not.ToHaveTextAsync(new Regex($"^{before:#,##0}\\b"));
        Assert.Equal(before - 1_000, Number(await balance.InnerTextAsync()));

        // Another tab renames the organization: this page's sidebar and header follow.
        var other = await browser.SignInAsync("admin@globex.test");
        await BrowserFixture.GoAsync(other, "/orgs/globex/settings");
        var name = other.GetByLabel("Organization name");
        await name.FillAsync("Globex Worldwide");
        await other.GetByTestId("save-general").ClickAsync();
        await Expect(admin.Locator(".portal-drawer")).ToContainTextAsync("Globex Worldwide");
        await name.FillAsync("Globex");
        await other.GetByTestId("save-general").ClickAsync();
        await Expect(admin.Locator(".portal-drawer")).Not.ToContainTextAsync("Globex Worldwide");
    }

    [Fact]
    public async Task A_time_zone_change_regroups_usage_in_the_background_and_another_within_a_minute_is_refused_beside_the_field()
    {
        var admin = await browser.SignInAsync("admin@globex.test");
        await BrowserFixture.GoAsync(admin, "/orgs/globex/settings/usage");
        var credits = Number(await admin.GetByTestId("figure-credits").InnerTextAsync());

        await BrowserFixture.GoAsync(admin, "/orgs/globex/settings");
        await ChooseZoneAsync(admin, "Asia/Tokyo");
        await admin.GetByTestId("save-general").ClickAsync();
        await Expect(admin.GetByText("Organization settings saved.")).ToBeVisibleAsync();

        // The background rebuilder regroups the daily rollups into Tokyo's days, a small writer step at a time.
        var services = browser.Factory.Services;
        var dbFactory = services.GetRequiredService<IDbContextFactory<PortalDbContext>>();
        int organizationId;
        await using (var db = await dbFactory.CreateDbContextAsync())
            organizationId = await db.Organizations.Where(o => o.Slug == "globex").Select(o => o.Id).SingleAsync();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            await using var db = await dbFactory.CreateDbContextAsync();
            var account = await db.CreditAccounts.Where(a => a.OrganizationId == organizationId)
                .Select(a => new { a.RollupTimeZone, a.DailyRollupsBuiltBefore }).SingleAsync();
            if (account is { RollupTimeZone: "Asia/Tokyo", DailyRollupsBuiltBefore: null }) break;
            Assert.True(DateTime.UtcNow < deadline, $"the daily rollups were not rebuilt: {account}");
            await Task.Delay(100);
        }
        Assert.True((await services.GetRequiredService<CreditLedger>().FullCheckAsync(organizationId)).Ok);

        // Another change straight after is refused, beside the field (and only there), and changes nothing.
        await Expect(admin.GetByText("Organization settings saved.")).ToBeHiddenAsync(new() { Timeout = 20_000 });
        await ChooseZoneAsync(admin, "Europe/Berlin");
        await admin.GetByTestId("save-general").ClickAsync();
        await Expect(admin.Locator(".mud-input-control").Filter(new() { Has = admin.Locator("#org-timezone") }))
            .ToContainTextAsync(new Regex("The time zone was changed less than a minute ago. Try again in \\d+ seconds."));
        await Expect(admin.Locator(".mud-snackbar")).ToHaveCountAsync(0);
        await admin.GetByTestId("general-settings").ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "settings-time-zone-refused.png") });
        await using (var db = await dbFactory.CreateDbContextAsync())
            Assert.Equal("Asia/Tokyo", await db.Organizations.Where(o => o.Slug == "globex").Select(o => o.TimeZone).SingleAsync());

        // The usage of the period is the same in any zone.
        await BrowserFixture.GoAsync(admin, "/orgs/globex/settings/usage");
        await Expect(admin.GetByTestId("figure-credits")).ToContainTextAsync(credits.ToString("N0", System.Globalization.CultureInfo.InvariantCulture));
    }

    private static async Task ChooseZoneAsync(IPage page, string zone)
    {
        var field = page.Locator("#org-timezone");
        await field.ClickAsync();
        await field.FillAsync(zone.Split('/')[1]);
        await page.Locator(".mud-popover-open .mud-list-item").GetByText(zone, new() { Exact = true }).ClickAsync();
        await Expect(field).ToHaveValueAsync(zone);
    }

    [Fact]
    public async Task Navigation_says_where_you_are_and_what_was_refused()
    {
        var admin = await browser.SignInAsync("admin@acme.test");
        await BrowserFixture.GoAsync(admin, "/orgs/acme/my-usage");
        await Expect(admin.Locator(".portal-tab.active")).ToHaveTextAsync("My usage");
        await Expect(admin.Locator(".portal-drawer").GetByText("Overview", new() { Exact = true })).ToBeVisibleAsync();
        await BrowserFixture.OpenAccountMenuAsync(admin);
        await admin.Keyboard.PressAsync("Escape");
        await Expect(admin.Locator(".portal-account-popover .portal-menu-heading")).ToBeHiddenAsync();

        var member = await browser.SignInAsync("member@acme.test");
        await member.GotoAsync("/staff");
        await Expect(member.GetByText("The staff console is for Cassidy staff only.")).ToBeVisibleAsync();
        await BrowserFixture.ScreenshotAsync(member, "staff-refused");
        var csv = await member.GotoAsync("/orgs/acme/settings/usage/export.csv");
        Assert.Equal(403, csv!.Status);
        await Expect(member.GetByText("Only owners and admins of this organization can download its usage and audit data.")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task On_a_phone_the_custom_range_fits_and_the_drawer_closes_after_the_gear()
    {
        var admin = await browser.SignInAsync("admin@acme.test", viewport: BrowserFixture.Phone);
        await BrowserFixture.GoAsync(admin, "/orgs/acme/settings/usage");
        await admin.GetByTestId("range-select").ClickAsync();
        await admin.GetByText("Custom dates…").ClickAsync();
        await Expect(admin.GetByTestId("range-popover")).ToBeVisibleAsync();
        var today = DateTime.UtcNow.Date;
        await admin.GetByTestId("range-from").FillAsync(today.AddDays(-3).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
        await admin.GetByTestId("range-to").FillAsync(today.AddDays(-10).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
        await admin.GetByTestId("range-apply").ClickAsync();
        await Expect(admin.GetByTestId("range-error")).ToHaveTextAsync("The end date is before the start date.");
        Assert.True(await admin.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= innerWidth"));
        await BrowserFixture.ScreenshotAsync(admin, "custom-range-phone");
        await admin.GetByTestId("range-to").FillAsync(today.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
        await Expect(admin.GetByTestId("range-error")).ToHaveCountAsync(0); // fixed: the message goes at once
        await admin.GetByTestId("range-apply").ClickAsync();
        await Expect(admin.GetByTestId("range-caption")).ToContainTextAsync(today.AddDays(-3).ToString("d MMM yyyy", System.Globalization.CultureInfo.InvariantCulture));

        await admin.GetByRole(AriaRole.Button, new() { Name = "Toggle sidebar" }).ClickAsync();
        await Expect(admin.Locator(".portal-drawer.mud-drawer--open")).ToBeVisibleAsync();
        await BrowserFixture.OpenAccountMenuAsync(admin);
        await admin.Locator("[data-testid=org-acme]").GetByRole(AriaRole.Link, new() { Name = "Organization settings" }).ClickAsync();
        await Expect(admin).ToHaveURLAsync(new Regex("/orgs/acme/settings$"));
        await Expect(admin.Locator(".portal-drawer.mud-drawer--open")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task The_last_owner_is_not_offered_demotion_and_demoting_yourself_warns()
    {
        var owner = await browser.SignInAsync("admin@acme.test");
        await BrowserFixture.GoAsync(owner, "/orgs/acme/settings/members");
        var avery = owner.GetByRole(AriaRole.Row).Filter(new() { HasText = "admin@acme.test" });
        await Expect(avery.GetByTestId("last-owner")).ToBeVisibleAsync();
        await Expect(avery.GetByRole(AriaRole.Button, new() { Name = "Remove Avery Admin" })).ToHaveCountAsync(0);

        var jordan = await browser.SignInAsync("jordan@acme.test");
        await BrowserFixture.GoAsync(jordan, "/orgs/acme/settings/members");
        var self = jordan.GetByRole(AriaRole.Row).Filter(new() { HasText = "jordan@acme.test" });
        await self.GetByLabel("Role of Jordan Lee").ClickAsync();
        await jordan.GetByRole(AriaRole.Option, new() { Name = "Member" }).ClickAsync();
        var dialog = jordan.GetByRole(AriaRole.Dialog);
        await Expect(dialog).ToContainTextAsync("Make yourself a Member?");
        await Expect(dialog).ToContainTextAsync("You lose access to these settings at once");
        await BrowserFixture.ScreenshotAsync(jordan, "demote-yourself");
        await jordan.Locator("#dialog-cancel").ClickAsync();
    }

    [Fact]
    public async Task A_paid_plan_has_its_period_invoice_with_a_printable_page()
    {
        var admin = await browser.SignInAsync("admin@acme.test");
        await BrowserFixture.GoAsync(admin, "/orgs/acme/settings/plan");
        var invoice = admin.GetByTestId("invoices").GetByRole(AriaRole.Row).Filter(new() { HasText = "Team plan, monthly subscription" });
        await Expect(invoice).ToContainTextAsync("$99.00");
        await invoice.GetByTestId("invoice-link").ClickAsync();
        await Expect(admin.GetByTestId("invoice")).ToContainTextAsync("Acme Corp");
        await Expect(admin.GetByTestId("invoice-total")).ToHaveTextAsync("$99.00");
        await BrowserFixture.ScreenshotAsync(admin, "invoice");
        await admin.EmulateMediaAsync(new() { Media = Media.Print });
        await Expect(admin.Locator(".mud-drawer")).ToBeHiddenAsync();
        await BrowserFixture.ScreenshotAsync(admin, "invoice-print");
    }

    [Fact]
    public async Task Account_pages_state_the_password_rules_and_lead_back_to_the_portal()
    {
        var page = await browser.NewPageAsync();
        await page.GotoAsync("/Account/Register");
        await Expect(page.GetByTestId("password-rules")).ToContainTextAsync("At least 8 characters");

        var admin = await browser.SignInAsync("admin@acme.test");
        await admin.GotoAsync("/Account/Manage");
        await Expect(admin.GetByText("Phone number")).ToHaveCountAsync(0);
        await Expect(admin.GetByLabel("Your name")).ToHaveValueAsync("Avery Admin");
        await BrowserFixture.ScreenshotAsync(admin, "account-profile");
        await admin.GotoAsync("/Account/Manage/ChangePassword");
        await Expect(admin.GetByTestId("password-rules")).ToBeVisibleAsync();
        await admin.GetByTestId("account-back").ClickAsync();
        await Expect(admin).ToHaveURLAsync(new Regex("/orgs/acme/"));
    }

    [Fact]
    public async Task A_support_answer_reaches_whoever_asked_in_the_bell_and_by_email()
    {
        var admin = await browser.SignInAsync("admin@globex.test");
        await BrowserFixture.GoAsync(admin, "/orgs/globex/settings/plan");
        var question = $"We need 50,000 more credits for a launch ({Guid.NewGuid():N}).";
        await admin.Locator("#support-message").FillAsync(question);
        await admin.GetByTestId("support-send").ClickAsync();
        await Expect(admin.GetByTestId("support-sent")).ToBeVisibleAsync();

        var staff = await browser.SignInAsync("staff@cassidy.test");
        var request = staff.GetByTestId("support-request").Filter(new() { HasText = question });
        await Expect(request).ToBeVisibleAsync();
        await request.GetByLabel("Answer").FillAsync("Granted: 50,000 credits until the end of next month.");
        await request.GetByRole(AriaRole.Button, new() { Name = "Mark answered" }).ClickAsync();
        await Expect(staff.GetByText("Request marked answered.")).ToBeVisibleAsync();

        var mail = await browser.Factory.DeliveredEmailAsync("admin@globex.test", "Cassidy support answered");
        Assert.Contains(question, mail.TextBody);
        Assert.Contains("Granted: 50,000 credits", mail.TextBody);
        await BrowserFixture.GoAsync(admin, "/notifications");
        await Expect(admin.GetByText("Granted: 50,000 credits until the end of next month.", new() { Exact = false }).First).ToBeVisibleAsync();
    }
}
