using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Cassidy.Portal.Tests.Browser;

/// <summary>The Content-Security-Policy is strict, and Blazor Server, MudBlazor and apexcharts still work under it.</summary>
[Collection(BrowserCollection.Name)]
public sealed class ContentSecurityPolicyTests(BrowserFixture browser)
{
    [Fact]
    public async Task The_portal_works_under_its_content_security_policy_without_a_single_violation()
    {
        var page = await browser.NewPageAsync();
        var violations = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Text.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase)) lock (violations) violations.Add("console: " + message.Text);
        };
        page.PageError += (_, error) => { lock (violations) violations.Add("page error: " + error); };
        // Also the DOM's own report, independent of how the console phrases it; init scripts are not subject to the CSP.
        await page.Context.AddInitScriptAsync("""
            window.__cspViolations = [];
            document.addEventListener('securitypolicyviolation', e =>
                window.__cspViolations.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber));
            """);

        var login = await page.GotoAsync("/Account/Login");
        Assert.Contains("object-src 'none'", await login!.HeaderValueAsync("content-security-policy") ?? "");
        await page.GetByLabel("Email").FillAsync("admin@acme.test");
        await page.GetByLabel("Password").FillAsync("Demo123!");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
        await page.WaitForURLAsync(url => !url.Contains("/Account/Login", StringComparison.Ordinal));
        await CollectDomViolationsAsync(page, violations);

        var members = await BrowserFixture.GoAsync(page, "/orgs/acme/settings/members");
        var csp = await members!.HeaderValueAsync("content-security-policy") ?? "";
        Assert.Contains("script-src 'self' 'nonce-", csp);
        Assert.DoesNotContain("unsafe-eval", csp);
        // The grid's rows only render once the circuit is up: proof that blazor.web.js ran and the WebSocket connected.
        await Expect(page.GetByText("Morgan Member")).ToBeVisibleAsync();
        // MudBlazor's and apexcharts' scripts loaded and ran.
        Assert.True(await page.EvaluateAsync<bool>("() => typeof window.ApexCharts === 'function' && typeof window.mudElementRef === 'object'"));

        // MudBlazor's popover (its JS positions and shows it) opens the account menu with the organizations' gears.
        var gear = page.GetByTestId("org-acme").GetByRole(AriaRole.Link, new() { Name = "Organization settings" });
        await BrowserFixture.OpenAccountMenuAsync(page);
        await Expect(gear).ToBeVisibleAsync();
        await BrowserFixture.ScreenshotAsync(page, "csp-account-menu");

        await CollectDomViolationsAsync(page, violations);
        Assert.True(violations.Count == 0, "CSP violations or page errors:\n" + string.Join("\n", violations));
    }


    private static async Task CollectDomViolationsAsync(IPage page, List<string> violations)
    {
        var seen = await page.EvaluateAsync<string[]>("() => window.__cspViolations ?? []");
        lock (violations) violations.AddRange(seen.Select(v => "securitypolicyviolation: " + v));
    }
}
