using System.Text.RegularExpressions;
using Cassidy.Portal.Data;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Cassidy.Portal.Tests.Browser;

/// <summary>
/// Every page, as the person who uses it, on a 1440×900 desktop and a 390×844 phone: it renders its content, nothing makes
/// the page wider than the screen, and a screenshot of each is kept to be looked at (screenshots/page-{name}-{viewport}.png).
/// One signed-in browser per person and screen visits all of their pages.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class PageLayoutTests(BrowserFixture browser)
{
    /// <summary>A page: its name in the screenshots, its path ("{email}" is that user's id), and a text its content shows.</summary>
    private sealed record PageCase(string Name, string Path, string Shows, bool Interactive = true);

    private static readonly Dictionary<string, PageCase[]> PagesOf = new()
    {
        ["anonymous"] =
        [
            new("sign-in", "/Account/Login", "Forgot your password?", Interactive: false),
            new("register", "/Account/Register", "Create account", Interactive: false),
        ],
        ["admin@acme.test"] =
        [
            new("overview", "/orgs/acme/settings", "Recent activity"),
            new("usage", "/orgs/acme/settings/usage", "Usage by member"),
            new("usage-last-30-days", "/orgs/acme/settings/usage?range=last30", "Usage by member"),
            new("member-usage", "/orgs/acme/settings/usage/members/{member@acme.test}", "Morgan Member"),
            new("plan", "/orgs/acme/settings/plan", "Invoices"),
            new("limits", "/orgs/acme/settings/limits", "Default limit per member"),
            new("members", "/orgs/acme/settings/members", "Morgan Member"),
            new("audit", "/orgs/acme/settings/audit", "Export CSV"),
            new("notifications", "/notifications", "Mark all read"),
            new("account", "/Account/Manage", "Profile", Interactive: false),
            new("change-password", "/Account/Manage/ChangePassword", "Change password", Interactive: false),
        ],
        ["member@acme.test"] = [new("my-usage", "/orgs/acme/my-usage", "This billing period")],
        ["staff@cassidy.test"] = [new("staff", "/staff", "Support requests")],
    };

    public static TheoryData<string, string> People()
    {
        var data = new TheoryData<string, string>();
        foreach (var person in PagesOf.Keys)
        foreach (var viewport in new[] { "desktop", "phone" })
            data.Add(person, viewport);
        return data;
    }

    [Theory]
    [MemberData(nameof(People))]
    public async Task Every_page_shows_its_content_and_fits_the_screen(string person, string viewport)
    {
        var size = viewport == "phone" ? BrowserFixture.Phone : BrowserFixture.Desktop;
        var page = person == "anonymous" ? await browser.NewPageAsync(size) : await browser.SignInAsync(person, viewport: size);
        var problems = new List<string>();
        foreach (var spec in PagesOf[person])
        {
            await page.GotoAsync(await ResolveAsync(spec.Path));
            if (spec.Interactive) await BrowserFixture.WaitForCircuitAsync(page);
            var content = page.Locator(".mud-main-content, main").First;
            await Expect(content.GetByText(spec.Shows).First).ToBeVisibleAsync();
            await page.WaitForLoadStateAsync(LoadState.NetworkIdle);
            await BrowserFixture.ScreenshotAsync(page, $"page-{spec.Name}-{viewport}");
            // Against the screen's width, not innerWidth: a phone browser widens its layout viewport to fit what overflows.
            var width = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth");
            if (width > size.Width)
                problems.Add($"{spec.Path} is {width} px wide on a {size.Width} px screen: " + await page.EvaluateAsync<string>($$"""
                    () => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > {{size.Width}} + 1)
                        .slice(0, 4).map(e => e.tagName.toLowerCase() + '.' + [...e.classList].join('.') + ' → ' + Math.round(e.getBoundingClientRect().right)).join(' | ')
                    """));
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    private async Task<string> ResolveAsync(string path)
    {
        var match = Regex.Match(path, "{(.+?)}");
        if (!match.Success) return path;
        using var scope = browser.Factory.Services.CreateScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IDbContextFactory<PortalDbContext>>().CreateDbContextAsync();
        var id = await db.Users.Where(u => u.Email == match.Groups[1].Value).Select(u => u.Id).SingleAsync();
        return path.Replace(match.Value, id, StringComparison.Ordinal);
    }
}
