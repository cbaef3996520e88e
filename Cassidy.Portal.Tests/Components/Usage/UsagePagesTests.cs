using System.Security.Claims;
using System.Text.Json;
using Bunit;
using Cassidy.Portal.Components.Pages.MyUsage;
using Cassidy.Portal.Components.Pages.Settings;
using Cassidy.Portal.Data;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Usage;
using Cassidy.Portal.Organizations;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using UsageTab = Cassidy.Portal.Components.Pages.Settings.Usage;

namespace Cassidy.Portal.Tests.Components.Usage;

/// <summary>The usage pages rendered by bUnit over the real engine and database; the chart module's JS is faked.</summary>
public sealed class UsagePagesTests : MudTestContext
{
    private const string ChartModule = "./Components/Charts/ApexChart.razor.js";
    private LedgerHarness _h = null!;
    private BunitJSModuleInterop _charts = null!;

    public override async Task InitializeAsync()
    {
        _h = await LedgerHarness.CreateAsync(defaultCap: 20_000_000);
        _h.Clock.Advance(TimeSpan.FromHours(2));
        await _h.RecordAsync(_h.Call("a1", "alice@test.test", "gpt-4.1", input: 2000, knowledge: 1000, output: 500));
        await _h.RecordAsync(_h.Call("a2", "alice@test.test", "gpt-4.1-mini", input: 1000, feature: Features.WorkflowRun));
        await _h.RecordAsync(_h.Call("b1", "bob@test.test", "claude-haiku-4.5", input: 1000, output: 100));

        _h.Db.AddTo(Services);
        Services.AddSingleton<TimeProvider>(_h.Clock);
        Services.AddSingleton(_h.Ledger);
        Services.AddSingleton(LedgerHarness.Plans());
        Services.AddScoped<OrganizationAccess>();
        Services.AddScoped<OverviewReport>();
        Services.AddScoped<UsageReport>();
        Services.AddSingleton(new SharedLoads { MaxAge = TimeSpan.Zero });
        _charts = JSInterop.SetupModule(ChartModule);
        _charts.Mode = JSRuntimeMode.Loose;
        _charts.SetupModule("create", _ => true);
    }

    public override async Task DisposeResourcesAsync() => await _h.DisposeAsync();

    private void SignIn(ApplicationUser user)
    {
        var auth = AddAuthorization();
        auth.SetAuthorized(user.Email!);
        auth.SetClaims(new Claim(ClaimTypes.NameIdentifier, user.Id));
        Render<MudPopoverProvider>();
    }

    private List<JsonElement> CreatedCharts() =>
        _charts.Invocations["create"].Select(i => JsonDocument.Parse((string)i.Arguments[1]!).RootElement).ToList();

    private static decimal Credits(long millicredits) => Math.Round(millicredits / 1000m, 2);

    [Fact]
    public async Task The_usage_tab_gives_each_chart_the_right_series_and_lists_members_biggest_first()
    {
        SignIn(_h.Alice);
        var cut = Render<UsageTab>(p => p.Add(x => x.Slug, "org"));
        cut.WaitForAssertion(() => Assert.Equal(4, CreatedCharts().Count), TimeSpan.FromSeconds(10));

        var ledger = (await _h.LedgerAsync()).Where(e => e.Kind == LedgerKinds.Usage).ToList();
        long Of(string user) => -ledger.Where(e => e.UserId == user).Sum(e => e.AmountMillicredits);
        var charts = CreatedCharts();
        var daily = charts.Single(c => c.GetProperty("chart").TryGetProperty("stacked", out var stacked) && stacked.GetBoolean());
        Assert.Equal(["Agent chat", "Workflow run"], daily.GetProperty("series").EnumerateArray().Select(s => s.GetProperty("name").GetString()));
        var dailyTotal = daily.GetProperty("series").EnumerateArray().SelectMany(s => s.GetProperty("data").EnumerateArray()).Sum(d => d.GetDecimal());
        Assert.Equal(Credits(-ledger.Sum(e => e.AmountMillicredits)), dailyTotal);

        var donuts = charts.Where(c => c.GetProperty("chart").GetProperty("type").GetString() == "donut").ToList();
        var models = donuts.Single(d => d.GetProperty("labels").EnumerateArray().Any(l => l.GetString() == "gpt-4.1"));
        Assert.Equal(["gpt-4.1", "claude-haiku-4.5", "gpt-4.1-mini"], models.GetProperty("labels").EnumerateArray().Select(l => l.GetString()));
        var tokens = donuts.Single(d => d.GetProperty("labels")[0].GetString() == "Input");
        Assert.Equal([4000m, 1000m, 600m], tokens.GetProperty("series").EnumerateArray().Select(v => v.GetDecimal()));

        var members = charts.Single(c => c.TryGetProperty("plotOptions", out var p) && p.TryGetProperty("bar", out var b) && b.TryGetProperty("horizontal", out _));
        Assert.Equal(["Alice", "Bob"], members.GetProperty("xaxis").GetProperty("categories").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal([Credits(Of(_h.Alice.Id)), Credits(Of(_h.Bob.Id))], members.GetProperty("series")[0].GetProperty("data").EnumerateArray().Select(d => d.GetDecimal()));

        cut.WaitForAssertion(() => Assert.Equal(["Alice", "Bob"], cut.FindAll("[data-testid=member-link]").Select(a => a.TextContent)), TimeSpan.FromSeconds(10));
        Assert.EndsWith($"/orgs/org/settings/usage/members/{_h.Alice.Id}", cut.Find("[data-testid=member-link]").GetAttribute("href"));

        // The rows came with the page: sorting and searching them needs no load.
        string[] Names() => cut.FindAll("[data-testid=member-link]").Select(a => a.TextContent).ToArray();
        cut.FindAll("[data-testid=member-usage-grid] th").Single(th => th.TextContent.Contains("Credits", StringComparison.Ordinal))
            .QuerySelectorAll("*").First(e => e.HasAttribute("blazor:onclick")).Click();
        cut.WaitForAssertion(() => Assert.Equal(["Bob", "Alice"], Names()));
        var search = cut.Find("[data-testid=member-usage-grid] input[aria-label='Search members']");
        search.Input("BOB@");
        search.Blur();
        cut.WaitForAssertion(() => Assert.Equal(["Bob"], Names()));
        search.Input("nobody");
        search.Blur();
        cut.WaitForAssertion(() => Assert.Contains("No member matches “nobody”.", cut.Find("[data-testid=member-usage-grid]").TextContent));
    }

    [Fact]
    public async Task My_usage_shows_only_the_signed_in_member()
    {
        foreach (var (id, user, minutes) in new[] { ("m1", "alice@test.test", 90.0), ("m2", "bob@test.test", 30.0) })
            Assert.Equal("recorded", (await _h.RecordAsync(new UsageEventInput
            {
                Id = id, Type = UsageTypes.Meeting, Organization = "org", User = user, OccurredAt = _h.Clock.GetUtcNow(), Minutes = minutes,
            })).Status);
        SignIn(_h.Bob);
        var cut = Render<MyUsage>(p => p.Add(x => x.Slug, "org"));
        cut.WaitForAssertion(() => Assert.Equal(3, CreatedCharts().Count), TimeSpan.FromSeconds(10));

        // Bob's own half hour of meetings against the plan; Alice's hour and a half is not his.
        Assert.StartsWith("0.5 of", cut.Find("[data-testid=meeting-hours]").TextContent.Trim());

        Assert.Contains("20,000", cut.Find("[data-testid=my-cap]").TextContent);
        Assert.Contains("Team", cut.Find("[data-testid=figure-plan]").TextContent);
        foreach (var leak in new[] { "Alice", "alice@test.test", _h.Alice.Id, "gpt-4.1" })
        {
            Assert.DoesNotContain(leak, cut.Markup, StringComparison.Ordinal);
            Assert.All(_charts.Invocations["create"], i => Assert.DoesNotContain(leak, (string)i.Arguments[1]!, StringComparison.Ordinal));
        }
        var models = CreatedCharts().Single(c => c.TryGetProperty("labels", out var l) && l[0].GetString() != "Input");
        Assert.Equal(["claude-haiku-4.5"], models.GetProperty("labels").EnumerateArray().Select(l => l.GetString()));
    }

    [Fact]
    public void A_member_gets_no_breakdown_on_the_usage_tab()
    {
        SignIn(_h.Bob);
        var cut = Render<UsageTab>(p => p.Add(x => x.Slug, "org"));
        cut.WaitForAssertion(() => Assert.Contains("Only owners and admins", cut.Markup), TimeSpan.FromSeconds(10));
        Assert.Empty(cut.FindAll("[data-testid=member-usage-grid]"));
        Assert.DoesNotContain("Alice", cut.Markup);
        Assert.Empty(_charts.Invocations["create"]);

        var member = Render<MemberUsage>(p => p.Add(x => x.Slug, "org").Add(x => x.UserId, _h.Alice.Id));
        member.WaitForAssertion(() => Assert.Contains("Only owners and admins", member.Markup), TimeSpan.FromSeconds(10));
        Assert.DoesNotContain("alice@test.test", member.Markup);
    }

    [Fact]
    public void An_admin_gets_not_found_for_someone_outside_the_organization()
    {
        SignIn(_h.Alice);
        var cut = Render<MemberUsage>(p => p.Add(x => x.Slug, "org").Add(x => x.UserId, "not-a-member"));
        cut.WaitForAssertion(() => Assert.Contains("couldn't find", cut.Markup), TimeSpan.FromSeconds(10));
    }
}
