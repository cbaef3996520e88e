using System.Diagnostics;
using System.Globalization;
using Cassidy.Portal.Data;
using Cassidy.Portal.Demo;
using Cassidy.Portal.Ledger;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Playwright;

namespace Cassidy.Portal.Benchmarks;

/// <summary>
/// <c>--benchmark-pages [millions] [--runs N]</c>: two portals in Production on loopback — one on the demo database, one on
/// the demo database grown to 1,000 members in acme (200 of them using AI) with that many million more model calls recorded through the engine's
/// own write path (90 days, agents and workflows) and a year of audit entries — and Debian's Chromium timing each page from
/// navigation to its data visible: cold (a new browser context, so a new circuit, signed in by cookie) and warm (the same
/// page navigated again). Prints p50/p95 per page for both databases from the same run.
/// </summary>
public static class PageBenchmark
{
    /// <summary>acme's members in the large database (a large organization's Members, Limits and Usage tabs), of whom the first <see cref="Users"/> use AI.</summary>
    private const int Members = 1_000, Users = 200;
    private const int AuditEntries = 1_000_000;

    /// <summary>
    /// A page and what shows its data: a selector, or several joined by " || " (whichever appears first). With
    /// <see cref="Choose"/>, what is timed is that choice on the live page (a range, a search, a sort) until what
    /// <see cref="Watch"/> reads (a JavaScript expression) has changed: the page shows the data of the choice.
    /// </summary>
    private sealed record PageCase(string Name, string Path, string Visible, Func<IPage, Task>? Choose = null, string? Watch = null);

    private const string UsageRangeShown = "document.querySelector('[data-testid=usage-figures]')?.dataset.range";
    private const string MembersShown = "document.querySelector('[data-testid=member-count]')?.textContent + document.querySelector('[data-testid=members-grid] tbody tr')?.textContent";
    private const string AuditShown = "document.querySelector('[data-testid=audit-grid] tbody tr')?.textContent + document.querySelector('[data-testid=audit-grid] .mud-table-pagination-caption')?.textContent";

    public static async Task RunAsync(string[] args)
    {
        var millions = args.SkipWhile(a => a != "--benchmark-pages").Skip(1)
            .Select(a => double.TryParse(a, CultureInfo.InvariantCulture, out var n) ? n : 0).FirstOrDefault();
        var calls = (long)((millions > 0 ? millions : 1) * 1_000_000);
        var runs = args.SkipWhile(a => a != "--runs").Skip(1).Select(a => int.TryParse(a, out var n) ? n : 0).FirstOrDefault() is > 0 and var r ? r : 7;
        // --folder DIR: build the databases there once and keep them; a later run with the same folder reuses them.
        var kept = args.SkipWhile(a => a != "--folder").Skip(1).FirstOrDefault();
        var folder = kept ?? Path.Combine(Path.GetTempPath(), "cassidy-bench", "pages-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var largeFile = Path.Combine(folder, "large.db");
        var reuse = File.Exists(largeFile) && File.Exists(Path.Combine(folder, "large.ready"));
        Console.WriteLine($"Cassidy page benchmark — {Environment.ProcessorCount} cores, {(reuse ? "reusing" : "building")} {calls:N0} extra calls, {runs} runs per page, database {folder}");

        await using var demo = await StartAsync(Path.Combine(folder, "demo.db"), 5301);
        var sw = Stopwatch.StartNew();
        await using var large = await StartAsync(largeFile, 5302);
        string memberId;
        if (reuse)
        {
            // Start-up to healthy on the large database: migrations checked, books loaded, the first page served.
            using var http = new HttpClient { BaseAddress = new Uri("http://127.0.0.1:5302") };
            (await http.GetAsync("/healthz")).EnsureSuccessStatusCode();
            Console.WriteLine($"  start-up to healthy on the large database: {sw.Elapsed.TotalSeconds:0.00} s (target ≤ 5 s)");
            await AddMembersAsync(large); // a database built when acme had fewer members
            memberId = await MemberIdAsync(large, "priya@acme.test");
        }
        else
        {
            memberId = await GrowAsync(large, calls);
            Console.WriteLine($"  large database ready in {sw.Elapsed.TotalSeconds:0} s");
            if (kept is not null) await File.WriteAllTextAsync(Path.Combine(folder, "large.ready"), calls.ToString(CultureInfo.InvariantCulture));
        }
        var demoMember = await MemberIdAsync(demo, "priya@acme.test");
        await AddAuditEntriesAsync(demo, 1_000);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = "/usr/bin/chromium", Headless = true });
        var results = new List<(string Page, Stats DemoCold, Stats LargeCold, Stats DemoWarm, Stats LargeWarm)>();
        var demoCookies = await SignInAsync(browser, 5301);
        var largeCookies = await SignInAsync(browser, 5302);
        // --only TEXT: just the pages whose name contains it (to look into one page).
        var only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault();
        foreach (var page in Pages(demoMember, memberId).Where(p => only is null || p.Name.Contains(only, StringComparison.OrdinalIgnoreCase)))
        {
            // Alternating the databases run by run, so drift in the machine's speed falls on both.
            var (demoCold, largeCold, demoWarm, largeWarm) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
            for (var i = 0; i < runs; i++)
            {
                await MeasureAsync(browser, 5301, demoCookies, page with { Path = page.Path.Replace("{member}", demoMember, StringComparison.Ordinal) }, demoCold, demoWarm);
                await MeasureAsync(browser, 5302, largeCookies, page with { Path = page.Path.Replace("{member}", memberId, StringComparison.Ordinal) }, largeCold, largeWarm);
            }
            results.Add((page.Name, Stats.Of(demoCold), Stats.Of(largeCold), Stats.Of(demoWarm), Stats.Of(largeWarm)));
            Console.WriteLine($"  {page.Name}: cold p95 {Stats.Of(largeCold).P95:N0} ms (demo {Stats.Of(demoCold).P95:N0} ms)");
        }

        // What a person sees on the large database (the Overview with its ledger check; the large organization's tables).
        await using (var look = await browser.NewContextAsync(new() { BaseURL = "http://127.0.0.1:5302", StorageState = largeCookies, ViewportSize = new() { Width = 1400, Height = 1000 } }))
        {
            var tab = await look.NewPageAsync();
            foreach (var (name, path, visible) in new[]
            {
                ("overview", "/orgs/acme/settings", "[data-testid=ledger-check]"),
                ("limits", "/orgs/acme/settings/limits", "[data-testid=caps-pager]"),
                ("members", "/orgs/acme/settings/members", "[data-testid=members-grid] .mud-table-body .mud-table-row"),
                ("audit", "/orgs/acme/settings/audit", "[data-testid=audit-grid] .mud-table-body .mud-table-row"),
            })
            {
                await tab.GotoAsync(path);
                await tab.Locator(visible).First.WaitForAsync(new() { Timeout = 60_000 });
                await tab.Locator("[data-circuit=ready]").WaitForAsync(new() { State = WaitForSelectorState.Attached });
                await tab.ScreenshotAsync(new() { Path = Path.Combine(folder, $"large-{name}.png"), FullPage = true });
            }
            Console.WriteLine($"  screenshots of the large database: {Path.Combine(folder, "large-*.png")}");
        }

        Console.WriteLine();
        var label = calls >= 1_000_000 ? $"{calls / 1e6:0.#}M" : $"{calls:N0} calls";
        Console.WriteLine($"| page (acme, admin), navigation → data visible | demo cold p50 / p95 | {label} cold p50 / p95 | demo warm p50 / p95 | {label} warm p50 / p95 | target (cold p95 ≤ 1 s and ≤ 1.2× demo) |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- |");
        foreach (var (name, dc, lc, dw, lw) in results)
        {
            var met = lc.P95 <= 1000 && lc.P95 <= 1.2 * dc.P95;
            Console.WriteLine($"| {name} | {dc.P50:N0} / {dc.P95:N0} ms | {lc.P50:N0} / {lc.P95:N0} ms | {dw.P50:N0} / {dw.P95:N0} ms | {lw.P50:N0} / {lw.P95:N0} ms | {(met ? "met" : "NOT met")} |");
        }
        SqliteConnection.ClearAllPools();
        if (kept is not null || args.Contains("--keep")) Console.WriteLine($"Databases kept: {folder}");
        else try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
    }

    private static IEnumerable<PageCase> Pages(string demoMember, string largeMember) =>
    [
        new("Overview", "/orgs/acme/settings", "[data-testid=ledger-check]"),
        new("Usage (this period)", "/orgs/acme/settings/usage", "[data-testid=member-usage-grid] .mud-table-body .mud-table-row"),
        new("Usage: choosing the last 30 days", "/orgs/acme/settings/usage", "[data-testid=usage-figures]", tab => ChooseAsync(tab, "Last 30 days"), UsageRangeShown),
        new("Usage: applying custom dates (90 days)", "/orgs/acme/settings/usage", "[data-testid=usage-figures]", CustomDaysAsync, UsageRangeShown),
        new("A member's page", "/orgs/acme/settings/usage/members/{member}", "[data-testid=member-period-used]"),
        new("My usage", "/orgs/acme/my-usage", "[data-testid=my-figures]"),
        new("Plan & billing", "/orgs/acme/settings/plan", "[data-testid=current-plan]"),
        new("Limits & alerts", "/orgs/acme/settings/limits", "[data-testid=caps-table] tbody tr"),
        new("Members", "/orgs/acme/settings/members", "[data-testid=members-grid] .mud-table-body .mud-table-row"),
        new("Members: searching", "/orgs/acme/settings/members", "[data-testid=members-grid] .mud-table-body .mud-table-row",
            tab => tab.GetByLabel("Search members").FillAsync("member 1"), MembersShown),
        new("Members: sorting by join date", "/orgs/acme/settings/members", "[data-testid=members-grid] .mud-table-body .mud-table-row",
            tab => tab.Locator("[data-testid=members-grid] thead").GetByText("Joined", new() { Exact = true }).ClickAsync(), MembersShown),
        new("Audit log", "/orgs/acme/settings/audit", "[data-testid=audit-grid] .mud-table-body .mud-table-row"),
        new("Audit log: searching", "/orgs/acme/settings/audit", "[data-testid=audit-grid] .mud-table-body .mud-table-row",
            tab => tab.Locator("#audit-search").FillAsync("member7@"), AuditShown),
        new("Audit log: oldest first", "/orgs/acme/settings/audit", "[data-testid=audit-grid] .mud-table-body .mud-table-row",
            tab => tab.Locator("[data-testid=audit-grid] thead").GetByText("Time", new() { Exact = true }).ClickAsync(), AuditShown),
        new("Notifications", "/notifications", "[data-testid=notifications] || [data-testid=no-notifications]"),
    ];

    private static async Task MeasureAsync(IBrowser browser, int port, string state, PageCase page, List<double> cold, List<double> warm)
    {
        await using var context = await browser.NewContextAsync(new() { BaseURL = $"http://127.0.0.1:{port}", StorageState = state, ViewportSize = new() { Width = 1400, Height = 1000 } });
        var tab = await context.NewPageAsync();
        tab.SetDefaultTimeout(60_000);
        foreach (var times in new[] { cold, warm })
        {
            var sw = Stopwatch.StartNew();
            await tab.GotoAsync(page.Path, new() { WaitUntil = WaitUntilState.Commit });
            // "a || b": whichever shows first (a grid's first row, or its empty state).
            var visible = page.Visible.Split(" || ").Select(selector => tab.Locator(selector)).Aggregate((a, b) => a.Or(b));
            try { await visible.First.WaitForAsync(); }
            catch (TimeoutException)
            {
                var shot = Path.Combine(Path.GetTempPath(), $"cassidy-bench-timeout-{port}.png");
                await tab.ScreenshotAsync(new() { Path = shot, FullPage = true });
                Console.WriteLine($"  {page.Name} on port {port}: no data after 60 s (screenshot {shot})");
            }
            if (page is { Choose: { } choose, Watch: { } watch })
            {
                // A person chooses on the live page (a click on the prerendered page would go nowhere).
                await tab.Locator("[data-circuit=ready]").WaitForAsync(new() { State = WaitForSelectorState.Attached });
                var before = await tab.EvaluateAsync<string?>(watch);
                sw.Restart();
                await choose(tab);
                await tab.WaitForFunctionAsync($"before => ({watch}) !== before", before);
            }
            times.Add(sw.Elapsed.TotalMilliseconds);
            if (times == cold) await tab.GotoAsync("about:blank");
        }
    }

    private static async Task ChooseAsync(IPage tab, string choice)
    {
        await tab.GetByTestId("range-select").ClickAsync();
        await tab.GetByText(choice, new() { Exact = true }).ClickAsync();
    }

    /// <summary>Custom dates: the 90 days up to today, typed into the two date fields, then Apply.</summary>
    private static async Task CustomDaysAsync(IPage tab)
    {
        await ChooseAsync(tab, "Custom dates…");
        // Today in the organization's time zone: the latest day the field allows.
        var today = DateOnly.ParseExact((await tab.GetByTestId("range-to").GetAttributeAsync("max"))!, "yyyy-MM-dd", CultureInfo.InvariantCulture);
        await tab.GetByTestId("range-from").FillAsync(today.AddDays(-89).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        await tab.GetByTestId("range-to").FillAsync(today.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        await tab.GetByTestId("range-apply").ClickAsync();
    }

    internal static async Task<string> SignInAsync(IBrowser browser, int port)
    {
        await using var context = await browser.NewContextAsync(new() { BaseURL = $"http://127.0.0.1:{port}" });
        var page = await context.NewPageAsync();
        await page.GotoAsync("/Account/Login");
        await page.GetByLabel("Email").FillAsync("admin@acme.test");
        await page.GetByLabel("Password").FillAsync(DemoSeeder.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
        await page.WaitForURLAsync(url => !url.Contains("/Account/Login", StringComparison.Ordinal));
        return await context.StorageStateAsync();
    }

    /// <summary>A portal as an operator runs it (Production), with the demo data turned on.</summary>
    internal static async Task<WebApplication> StartAsync(string file, int port, Dictionary<string, string?>? settings = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.WebHost.UseStaticWebAssets(); // the portal's assets from this build (a published portal serves its own wwwroot)
        builder.AddPortal();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Portal"] = $"Data Source={file}",
            ["Demo:Enabled"] = "true",
            ["Email:PickupDirectory"] = Path.Combine(Path.GetDirectoryName(file)!, "mail"),
            ["Logging:LogLevel:Default"] = "Warning",
            ["LedgerCheck:VerifyMinutes"] = "5",
        });
        if (settings is not null) builder.Configuration.AddInMemoryCollection(settings);
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        app.MapPortal();
        await app.PrepareDatabaseAsync();
        await app.StartAsync();
        return app;
    }

    private static async Task<string> MemberIdAsync(WebApplication app, string email)
    {
        await using var db = await app.Services.GetRequiredService<IDbContextFactory<PortalDbContext>>().CreateDbContextAsync();
        var normalized = email.ToUpperInvariant();
        return await db.Users.Where(u => u.NormalizedEmail == normalized).Select(u => u.Id).SingleAsync();
    }

    /// <summary>
    /// A year of audit entries for acme (not ledger data: written directly), spread evenly — unless it has that many. The
    /// demo database gets a thousand, so that searching and sorting its log compare with the large one's million.
    /// </summary>
    private static async Task AddAuditEntriesAsync(WebApplication app, int count)
    {
        await using var c = new SqliteConnection(LedgerConnection(app));
        await c.OpenAsync();
        await using var command = c.CreateCommand();
        command.CommandTimeout = 0;
        command.CommandText = "SELECT COUNT(*) FROM AuditEntries";
        if ((long)(await command.ExecuteScalarAsync())! >= count) return;
        command.CommandText = $"""
            WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n < {count - 1})
            INSERT INTO AuditEntries (OrganizationId, ActorUserId, ActorName, Action, Target, Before, After, At)
            SELECT (SELECT Id FROM Organizations WHERE Slug = 'acme'), NULL, 'Member ' || (n % 200), CASE n % 3 WHEN 0 THEN 'member.invited' WHEN 1 THEN 'cap.changed' ELSE 'alert.rule_changed' END,
                'member' || (n % 200) || '@acme.test', NULL, NULL, strftime('%Y-%m-%d %H:%M:%S', 'now', '-' || (n * 31536000 / {count}) || ' seconds')
            FROM seq;
            ANALYZE;
            """;
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>acme grows to <see cref="Members"/> members, <paramref name="calls"/> more calls through the engine, a year of audit entries.</summary>
    private static async Task<string> GrowAsync(WebApplication app, long calls)
    {
        var dbFactory = app.Services.GetRequiredService<IDbContextFactory<PortalDbContext>>();
        var ledger = app.Services.GetRequiredService<CreditLedger>();
        int orgId;
        await using (var db = await dbFactory.CreateDbContextAsync())
        {
            var acme = await db.Organizations.SingleAsync(o => o.Slug == "acme");
            orgId = acme.Id;
            await db.Organizations.Where(o => o.Id == orgId).ExecuteUpdateAsync(s => s
                .SetProperty(o => o.Plan, "Enterprise").SetProperty(o => o.EnterpriseMonthlyCredits, 1_000_000_000L));
        }
        await AddMembersAsync(app);
        await ledger.RefreshAsync(orgId);
        var emails = (await EmailsAsync(dbFactory, orgId)).Take(Users).ToList();
        string[] models = ["gpt-4.1", "gpt-4.1-mini", "claude-sonnet-4.5", "claude-haiku-4.5", "gemini-2.5-flash"];
        var now = DateTime.UtcNow;
        await SyntheticUsage.RecordAsync(ledger, 0, calls, n => SyntheticUsage.Call(n, "acme", emails, models, SyntheticUsage.Spread(n, now, 90)));
        await AddAuditEntriesAsync(app, AuditEntries);
        return await MemberIdAsync(app, "priya@acme.test");
    }

    /// <summary>acme grows to <see cref="Members"/> members (Enterprise, so the plan allows them).</summary>
    private static async Task AddMembersAsync(WebApplication app)
    {
        await using var db = await app.Services.GetRequiredService<IDbContextFactory<PortalDbContext>>().CreateDbContextAsync();
        var orgId = await db.Organizations.Where(o => o.Slug == "acme").Select(o => o.Id).SingleAsync();
        var existing = await db.Memberships.CountAsync(m => m.OrganizationId == orgId);
        if (existing >= Members) return;
        for (var i = existing; i < Members; i++)
        {
            var email = $"member{i:000}@acme.test";
            var user = new ApplicationUser { UserName = email, NormalizedUserName = email.ToUpperInvariant(), Email = email, NormalizedEmail = email.ToUpperInvariant(), EmailConfirmed = true, DisplayName = $"Member {i:000}", SecurityStamp = Guid.NewGuid().ToString() };
            db.Users.Add(user);
            db.Memberships.Add(new Membership { OrganizationId = orgId, User = user, Role = OrganizationRole.Member, JoinedAt = DateTime.UtcNow.AddDays(-100) });
        }
        await db.SaveChangesAsync();
        await app.Services.GetRequiredService<CreditLedger>().RefreshAsync(orgId);
    }

    private static string LedgerConnection(WebApplication app) => PortalDatabase.ConnectionString(app.Configuration);

    private static async Task<List<string>> EmailsAsync(IDbContextFactory<PortalDbContext> dbFactory, int orgId)
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        return await db.Memberships.Where(m => m.OrganizationId == orgId).Select(m => m.User.Email!).OrderBy(e => e).ToListAsync();
    }

    private sealed record Stats(double P50, double P95)
    {
        public static Stats Of(List<double> times)
        {
            var sorted = times.Order().ToList();
            return new(sorted[sorted.Count / 2], sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(sorted.Count * 0.95) - 1)]);
        }
    }
}
