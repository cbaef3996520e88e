using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Cassidy.Portal.Tests.Browser;

/// <summary>
/// The static account pages (sign in, register, forgot and reset password) look like the rest of the portal — its brand,
/// font, colours and card — on a desktop and on a 390-px phone, where nothing is wider than the screen.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class AccountPagesTests(BrowserFixture browser)
{
    public static TheoryData<string, string> Pages() => new()
    {
        { "/Account/Login", "Sign in" },
        { "/Account/Register", "Create your account" },
        { "/Account/ForgotPassword", "Forgot your password?" },
        { "/Account/ResetPassword?code=Y29kZQ", "Reset your password" },
        { "/Account/ResendEmailConfirmation", "Resend the confirmation e-mail" },
    };

    [Theory]
    [MemberData(nameof(Pages))]
    public async Task An_account_page_wears_the_portals_look_on_desktop_and_phone(string path, string heading)
    {
        foreach (var (name, width, height) in new[] { ("desktop", 1440, 900), ("phone", 390, 844) })
        {
            var context = await browser.Browser.NewContextAsync(new BrowserNewContextOptions
            {
                BaseURL = browser.BaseUrl, ViewportSize = new ViewportSize { Width = width, Height = height },
            });
            var page = await context.NewPageAsync();
            await page.GotoAsync(path);

            await Expect(page.Locator("h1")).ToHaveTextAsync(heading);
            await Expect(page.Locator(".account-card")).ToBeVisibleAsync();
            await Expect(page.Locator(".account-brand")).ToBeVisibleAsync();
            // The portal's font and primary colour, not Bootstrap's defaults.
            Assert.Contains("Inter", await page.Locator("body").EvaluateAsync<string>("e => getComputedStyle(e).fontFamily"));
            var button = page.Locator(".account-card button[type=submit]").First;
            Assert.Equal("rgb(79, 70, 229)", await button.EvaluateAsync<string>("e => getComputedStyle(e).backgroundColor"));
            Assert.True(await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth") <= width, $"{path} is wider than {width} px");
            await BrowserFixture.ScreenshotAsync(page, $"{path.Split('?')[0].Trim('/').Replace('/', '-').ToLowerInvariant()}-{name}");
            await context.CloseAsync();
        }
    }
}
