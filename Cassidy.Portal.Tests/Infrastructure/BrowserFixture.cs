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

    public PortalFactory Factory { get; } = new PortalFactory().With("Ingest:ApiKeys:0", IngestKey);
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

        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
    }

    public async Task<IPage> NewPageAsync()
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = BaseUrl, ViewportSize = new ViewportSize { Width = 1440, Height = 900 } });
        context.SetDefaultTimeout(20_000);
        return await context.NewPageAsync();
    }

    public async Task<IPage> SignInAsync(string email, string password = "Demo123!")
    {
        var page = await NewPageAsync();
        await page.GotoAsync("/Account/Login");
        await page.GetByLabel("Email").FillAsync(email);
        await page.GetByLabel("Password").FillAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
        await page.WaitForURLAsync(url => !url.Contains("/Account/Login", StringComparison.Ordinal));
        return page;
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
