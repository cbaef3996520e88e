using Cassidy.Portal.Data;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Cassidy.Portal.Tests.Browser;

/// <summary>
/// Strings people and the AI runtime supply are shown as text everywhere (issue 12): apexcharts 4.7.0 writes tooltip
/// titles and legend entries with innerHTML, and a member named with markup must not inject it into an admin's page.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class UntrustedTextTests(BrowserFixture browser)
{
    private const string Hostile = "<img id=\"pwned\" src=x onerror=\"document.title='pwned'\"><style>body{display:none}</style>Frank";

    [Fact]
    public async Task A_member_named_with_markup_shows_as_text_in_the_usage_charts_tooltip()
    {
        await RenameAsync("frank@globex.test", Hostile);
        try
        {
            var admin = await browser.SignInAsync("admin@globex.test");
            await BrowserFixture.GoAsync(admin, "/orgs/globex/settings/usage");
            var chart = admin.GetByTestId("chart-members");
            await Expect(chart.Locator(".apexcharts-canvas")).ToHaveCountAsync(1, new() { Timeout = 30_000 });

            // Frank used the least of globex's three members: the third bar.
            await chart.Locator(".apexcharts-bar-area").Nth(2).HoverAsync();
            var title = chart.Locator(".apexcharts-tooltip-title");
            await Expect(title).ToHaveTextAsync(Hostile);
            Assert.Equal(0, await title.Locator("*").CountAsync()); // text, not elements
            Assert.Equal(0, await admin.Locator("#pwned").CountAsync());
            Assert.NotEqual("pwned", await admin.TitleAsync());
            await Expect(admin.Locator("body")).ToBeVisibleAsync(); // the injected style did not hide the page
            await BrowserFixture.ScreenshotAsync(admin, "usage-hostile-name-tooltip");
        }
        finally
        {
            await RenameAsync("frank@globex.test", "Frank Grimes");
        }
    }

    private async Task RenameAsync(string email, string name)
    {
        // Written straight to the database: a name from before names were validated, or from another tool.
        await using var db = await browser.Factory.Services.GetRequiredService<IDbContextFactory<PortalDbContext>>().CreateDbContextAsync();
        await db.Users.Where(u => u.Email == email).ExecuteUpdateAsync(s => s.SetProperty(u => u.DisplayName, name));
    }
}
