using Microsoft.Playwright;

namespace Cassidy.Portal.Tests.Infrastructure;

/// <summary>
/// The real portal on a loopback Kestrel port, driven by Debian's Chromium through Playwright. A missing Chromium
/// fails the tests (CI installs it in .ci/run); nothing here is skipped.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    /// <summary>The internal API's bearer key in this portal, for tests that play the AI runtime beside the browser.</summary>
    public const string IngestKey = "browser-ingest-key-0123456789";

    public PortalFactory Factory { get; } = new PortalFactory().With("Ingest:ApiKeys:0", IngestKey)
        // The webhook receivers of the tests listen on loopback over plain http.
        .With("Webhooks:AllowHttp", "true").With("Webhooks:AllowPrivateNetworks", "true");
    public string BaseUrl { get; private set; } = "";
    public IBrowser Browser { get; private set; } = null!;
    private IPlaywright _playwright = null!;

    /// <summary>Screenshots land here, under the test output, to be looked at.</summary>
    public static string ScreenshotFolder { get; } = Path.Combine(AppContext.BaseDirectory, "screenshots");

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
            throw new InvalidOperationException($"Chromium is missing at {ChromiumPath}: run `apt-get install -y chromium` (.ci/run does).");
        Factory.UseKestrel(0);
        Factory.StartServer();
        BaseUrl = Factory.ClientOptions.BaseAddress.ToString().TrimEnd('/');
        Directory.CreateDirectory(ScreenshotFolder);
        // Two cores shared with the server and the build: give web assertions room before calling a page broken.
        Assertions.SetDefaultExpectTimeout(15_000);

        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
    }

    /// <summary>The desktop every test uses unless it asks for the phone.</summary>
    public static readonly ViewportSize Desktop = new() { Width = 1440, Height = 900 };
    public static readonly ViewportSize Phone = new() { Width = 390, Height = 844 };

    public async Task<IPage> NewPageAsync(ViewportSize? viewport = null)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = BaseUrl, ViewportSize = viewport ?? Desktop,
            IsMobile = viewport == Phone, HasTouch = viewport == Phone, DeviceScaleFactor = viewport == Phone ? 2 : 1,
        });
        context.SetDefaultTimeout(20_000);
        return await context.NewPageAsync();
    }

    public async Task<IPage> SignInAsync(string email, string password = "Demo123!", ViewportSize? viewport = null)
    {
        var page = await NewPageAsync(viewport);
        await page.GotoAsync("/Account/Login");
        await page.GetByLabel("Email").FillAsync(email);
        await page.GetByLabel("Password").FillAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
        await page.WaitForURLAsync(url => !url.Contains("/Account/Login", StringComparison.Ordinal));
        await WaitForCircuitAsync(page);
        return page;
    }

    /// <summary>Waits until the page is live in its Blazor circuit (the layout marks it), so clicks and typing reach it.</summary>
    public static Task WaitForCircuitAsync(IPage page) =>
        page.Locator("[data-circuit=ready]").WaitForAsync(new() { State = WaitForSelectorState.Attached });

    /// <summary>Navigates and waits for the circuit.</summary>
    public static async Task<IResponse?> GoAsync(IPage page, string url)
    {
        var response = await page.GotoAsync(url);
        await WaitForCircuitAsync(page);
        return response;
    }

    /// <summary>
    /// Clicks a link until the page is at the URL it leads to: on a loaded two-core machine a click can land while the circuit
    /// re-renders and be lost (a person would click again).
    /// </summary>
    public static async Task ClickUntilAtAsync(IPage page, ILocator link, System.Text.RegularExpressions.Regex url)
    {
        for (var attempt = 0; attempt < 5; attempt++)
        {
            await link.ClickAsync();
            try
            {
                await page.WaitForURLAsync(url, new() { Timeout = 3_000 });
                return;
            }
            catch (TimeoutException)
            {
                // Lost click: try again.
            }
        }
        await Assertions.Expect(page).ToHaveURLAsync(url);
    }

    /// <summary>
    /// Opens the account menu at the bottom of the sidebar. On a cold server a click can race MudBlazor's popover
    /// provider starting up and be lost, so a click that showed no menu is repeated (a person would click again too).
    /// </summary>
    public static async Task OpenAccountMenuAsync(IPage page)
    {
        var menu = page.Locator(".portal-account-popover .portal-menu-heading");
        for (var attempt = 0; attempt < 3; attempt++)
        {
            await page.GetByTestId("account-name").ClickAsync();
            try
            {
                await menu.WaitForAsync(new() { State = WaitForSelectorState.Visible, Timeout = 4_000 });
                return;
            }
            catch (TimeoutException)
            {
                // Lost click: try again.
            }
        }
        throw new TimeoutException("The account menu did not open after three clicks.");
    }

    /// <summary>Waits (up to 15 s) for a file in <paramref name="folder"/> whose text matches, and returns that text.</summary>
    public static async Task<string> WaitForFileAsync(string folder, Func<string, bool> matches)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            if (Directory.Exists(folder))
                foreach (var file in Directory.GetFiles(folder))
                {
                    var text = await File.ReadAllTextAsync(file);
                    if (matches(text)) return text;
                }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"No matching file appeared in {folder}.");
            await Task.Delay(100);
        }
    }

    public static Task ScreenshotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotFolder, name + ".png"), FullPage = true });

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        _playwright?.Dispose();
        await Factory.DisposeAsync();
    }
}
