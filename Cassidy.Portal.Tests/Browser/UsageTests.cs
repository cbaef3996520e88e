using System.Text.RegularExpressions;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Cassidy.Portal.Tests.Browser;

[Collection(BrowserCollection.Name)]
public sealed class UsageTests(BrowserFixture browser)
{
    [Fact]
    public async Task An_admin_opens_the_usage_tab_sees_charts_and_members_opens_a_member_and_exports_csv()
    {
        var admin = await browser.SignInAsync("admin@acme.test");
        await BrowserFixture.GoAsync(admin, "/orgs/acme/settings"); // live in its circuit, so the click is not lost to start-up
        await BrowserFixture.ClickUntilAtAsync(admin, admin.Locator(".portal-tab", new() { HasTextRegex = new Regex("^\\s*Usage\\s*$") }),
            new Regex("/orgs/acme/settings/usage$"));

        // Four charts drawn by apexcharts inside our containers, and the member table.
        await Expect(admin.Locator("[data-testid^='chart-'] .apexcharts-canvas")).ToHaveCountAsync(4, new() { Timeout = 30_000 });
        await Expect(admin.GetByTestId("member-usage-grid")).ToContainTextAsync("Usage by member");
        await Expect(admin.GetByTestId("insights")).ToContainTextAsync("Limit the amount of Knowledge Base context");
        await Expect(admin.GetByTestId("plan-meters")).ToContainTextAsync("of 50 GB");
        await BrowserFixture.ScreenshotAsync(admin, "usage-tab");

        // The per-member-per-day export of the range.
        await admin.GetByTestId("export-menu").ClickAsync();
        var download = await admin.RunAndWaitForDownloadAsync(() => admin.GetByTestId("export-daily").ClickAsync());
        var csv = await File.ReadAllTextAsync(await download.PathAsync());
        Assert.StartsWith("date,member,email,credits,calls", csv);
        Assert.Contains("member@acme.test", csv);
        Assert.DoesNotContain("@globex", csv);

        // Search, then open Morgan Member's page.
        await admin.GetByLabel("Search members").FillAsync("Morgan");
        await Expect(admin.GetByTestId("member-link")).ToHaveCountAsync(1);
        await admin.GetByTestId("member-link").ClickAsync();
        await Expect(admin).ToHaveURLAsync(new Regex("/orgs/acme/settings/usage/members/"));
        await Expect(admin.GetByTestId("member-header")).ToContainTextAsync("member@acme.test");
        await Expect(admin.Locator("[data-testid^='chart-'] .apexcharts-canvas")).ToHaveCountAsync(3);
        await BrowserFixture.ScreenshotAsync(admin, "usage-member");

        var memberDownload = await admin.RunAndWaitForDownloadAsync(() => admin.GetByTestId("member-export").ClickAsync());
        var memberCsv = (await File.ReadAllLinesAsync(await memberDownload.PathAsync())).Skip(1).ToList();
        Assert.NotEmpty(memberCsv);
        Assert.All(memberCsv, line => Assert.Contains("member@acme.test", line));
    }

    [Fact]
    public async Task A_member_opens_my_usage_and_sees_only_their_own_figures()
    {
        var member = await browser.SignInAsync("member@acme.test");
        await member.GotoAsync("/orgs/acme/my-usage");
        await Expect(member.Locator("[data-testid^='chart-'] .apexcharts-canvas")).ToHaveCountAsync(3, new() { Timeout = 30_000 });
        await Expect(member.GetByTestId("my-cap")).ToContainTextAsync("used");
        await Expect(member.GetByTestId("figure-plan")).ToContainTextAsync("Team");
        var text = await member.Locator("body").InnerTextAsync();
        Assert.DoesNotContain("Avery Admin", text);
        Assert.DoesNotContain("admin@acme.test", text);
        await BrowserFixture.ScreenshotAsync(member, "my-usage");
    }
}
