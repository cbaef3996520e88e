using System.Security.Claims;
using AngleSharp.Dom;
using Bunit;
using Cassidy.Portal.Components.Account;
using Cassidy.Portal.Components.Layout;
using Cassidy.Portal.Components.Pages.Settings;
using LimitsPage = Cassidy.Portal.Components.Pages.Settings.Limits;
using Cassidy.Portal.Data;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Usage;
using Cassidy.Portal.Notifications;
using Cassidy.Portal.Organizations;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using Cassidy.Portal.Security;

namespace Cassidy.Portal.Tests.Components.Settings;

/// <summary>The Limits & alerts page and the bell on the real engine and database (Alice is the owner, Bob a member).</summary>
public sealed class LimitsPageTests : MudTestContext
{
    private AlertHarness _h = null!;

    public override async Task InitializeAsync()
    {
        BunitContext.DefaultWaitTimeout = TimeSpan.FromSeconds(5);
        _h = await AlertHarness.CreateAsync();
        _h.Ledger.Db.AddTo(Services);
        Services.AddLogging();
        Services.AddSingleton<TimeProvider>(_h.Ledger.Clock);
        Services.AddSingleton(_h.Ledger.Ledger);
        Services.AddSingleton(_h.Caps);
        Services.AddSingleton(_h.Rules);
        Services.AddSingleton(_h.Notifications);
        Services.AddSingleton(_h.Channels);
        Services.AddScoped<OrganizationAccess>();
        Services.AddScoped<OverviewReport>();
        Services.AddSingleton(new SharedLoads { MaxAge = TimeSpan.Zero });
        var auth = AddAuthorization();
        auth.SetAuthorized("alice@test.test");
        auth.SetClaims(new Claim(ClaimTypes.NameIdentifier, _h.Ledger.Alice.Id), new Claim(PortalClaims.DisplayName, "Alice"));
        await _h.Caps.SetMemberCapsAsync(_h.OrgId, AlertHarness.Admin, [new(_h.Ledger.Bob.Id, 0)], MemberCapMode.Custom, 100_000);
        await _h.SpendAsync("bob-1", 50, "bob@test.test");
    }

    public override async Task DisposeResourcesAsync() => await _h.DisposeAsync();

    private IRenderedComponent<LimitsPage> RenderPage()
    {
        Render<MudPopoverProvider>();
        var cut = Render<LimitsPage>(p => p.Add(l => l.Slug, "org"));
        cut.WaitForElement("[data-testid='cap-row-bob@test.test']");
        return cut;
    }

    private static IElement Input(IElement element) => element.TagName == "INPUT" ? element : element.QuerySelector("input")!;
    private static IElement BobRow(IRenderedComponent<LimitsPage> cut) => cut.Find("[data-testid='cap-row-bob@test.test']");

    private static void TypeBobCap(IRenderedComponent<LimitsPage> cut, string text) =>
        Input(BobRow(cut).QuerySelector("[data-testid=cap-credits]")!).Input(text);

    private async Task<long?> BobCapAsync()
    {
        await using var db = _h.Ledger.Db.CreateContext();
        return await db.Memberships.Where(m => m.UserId == _h.Ledger.Bob.Id).Select(m => m.CapMillicredits).SingleAsync();
    }

    [Fact]
    public void The_table_shows_usage_against_the_effective_limit_and_a_status()
    {
        var cut = RenderPage();
        var row = BobRow(cut);
        Assert.Equal("50", row.QuerySelector("[data-testid=cap-used]")!.TextContent.Trim());
        Assert.Equal("100", row.QuerySelector("[data-testid=cap-effective]")!.TextContent.Trim());
        Assert.Equal("Within limit", row.QuerySelector("[data-testid=cap-status]")!.TextContent.Trim());
        Assert.Equal("Unlimited", cut.Find("[data-testid='cap-row-alice@test.test'] [data-testid=cap-effective]").TextContent.Trim());
        Assert.Equal(4, cut.FindAll("[data-testid^=rule-]").Count(e => e.GetAttribute("data-testid")!.StartsWith("rule-org_", StringComparison.Ordinal) || e.GetAttribute("data-testid") == "rule-member_cap_percent"));
    }

    [Theory]
    [InlineData("abc", "Enter a number of credits, like 1500 or 12.5.")]
    [InlineData("-5", "A limit can't be negative. Use 0 to block the member.")]
    [InlineData("1.2345", "Use at most 3 decimals (1 credit = 1000 millicredits).")]
    [InlineData("200000000", "A limit can be at most 100,000,000 credits. Choose Unlimited for no limit.")]
    public async Task A_bad_limit_gets_its_message_beside_the_field_and_nothing_is_saved(string text, string message)
    {
        var cut = RenderPage();
        TypeBobCap(cut, text);
        BobRow(cut).QuerySelector("[data-testid=cap-save]")!.Click();

        cut.WaitForAssertion(() => Assert.Contains(message, BobRow(cut).TextContent));
        Assert.Equal(100_000, await BobCapAsync());
    }

    [Fact]
    public async Task A_limit_below_current_usage_asks_first_and_says_the_member_is_blocked_at_once()
    {
        var dialogs = Render<MudDialogProvider>();
        var cut = RenderPage();
        TypeBobCap(cut, "40");
        BobRow(cut).QuerySelector("[data-testid=cap-save]")!.Click();

        dialogs.WaitForAssertion(() => Assert.Contains("Bob has already used 50 credits this period", dialogs.Markup));
        Assert.Contains("This member is blocked at once", dialogs.Markup);
        dialogs.Find("#dialog-cancel").Click();
        dialogs.WaitForAssertion(() => Assert.Empty(dialogs.FindAll("#dialog-ok")));
        Assert.Equal(100_000, await BobCapAsync());

        BobRow(cut).QuerySelector("[data-testid=cap-save]")!.Click();
        dialogs.WaitForElement("#dialog-ok").Click();
        cut.WaitForAssertion(() => Assert.Equal("Limit reached", BobRow(cut).QuerySelector("[data-testid=cap-status]")!.TextContent.Trim()));
        Assert.Equal(40_000, await BobCapAsync());
        Assert.Equal(AuthorizeReasons.MemberLimitReached, (await _h.AuthorizeAsync("bob@test.test")).Reason);
    }

    [Fact]
    public async Task The_default_limit_applies_to_members_without_their_own_and_stops_them_at_once()
    {
        var cut = RenderPage();
        cut.FindAll("[data-testid=default-cap-mode] input[type=radio]")[1].Click();
        Input(cut.Find("#default-cap-input")).Input("lots");
        cut.Find("#default-cap-save").Click();
        cut.WaitForAssertion(() => Assert.Contains("Enter a number of credits, like 1500 or 12.5.", cut.Find("[data-testid=default-cap]").TextContent));
        await using (var db = _h.Ledger.Db.CreateContext())
            Assert.Null(await db.Organizations.Where(o => o.Id == _h.OrgId).Select(o => o.DefaultMemberCapMillicredits).SingleAsync());

        Input(cut.Find("#default-cap-input")).Input("30");
        cut.Find("#default-cap-save").Click();

        // Alice has no limit of her own: the default is hers now; Bob keeps his custom 100.
        cut.WaitForAssertion(() => Assert.Equal("30", cut.Find("[data-testid='cap-row-alice@test.test'] [data-testid=cap-effective]").TextContent.Trim()));
        Assert.Equal("100", BobRow(cut).QuerySelector("[data-testid=cap-effective]")!.TextContent.Trim());
        await _h.SpendAsync("alice-1", 30, "alice@test.test");
        Assert.Equal(AuthorizeReasons.MemberLimitReached, (await _h.AuthorizeAsync("alice@test.test")).Reason);
    }

    [Fact]
    public async Task Bulk_apply_sets_the_limit_of_every_selected_member_after_checking_the_value()
    {
        var cut = RenderPage();
        Assert.Empty(cut.FindAll("#bulk-apply"));
        cut.Find("[data-testid=caps-table] thead input[type=checkbox]").Change(true);
        cut.WaitForAssertion(() => Assert.Equal("2 selected", cut.Find("[data-testid=bulk-count]").TextContent.Trim()));

        Input(cut.Find("#bulk-credits")).Input("-5");
        cut.Find("#bulk-apply").Click();
        cut.WaitForAssertion(() => Assert.Contains("A limit can't be negative.", cut.Find("[data-testid=bulk-bar]").TextContent));
        Assert.Equal(100_000, await BobCapAsync());

        Input(cut.Find("#bulk-credits")).Input("75");
        cut.Find("#bulk-apply").Click();
        cut.WaitForAssertion(() => Assert.Equal("75", BobRow(cut).QuerySelector("[data-testid=cap-effective]")!.TextContent.Trim()));
        Assert.Equal("75", cut.Find("[data-testid='cap-row-alice@test.test'] [data-testid=cap-effective]").TextContent.Trim());
        await using var db = _h.Ledger.Db.CreateContext();
        var caps = await db.Memberships.Where(m => m.OrganizationId == _h.OrgId).Select(m => new { m.CapMode, m.CapMillicredits }).ToListAsync();
        Assert.All(caps, c => Assert.Equal((MemberCapMode.Custom, (long?)75_000), (c.CapMode, c.CapMillicredits)));
        Assert.Empty(cut.FindAll("[data-testid=bulk-count]"));
    }

    [Fact]
    public async Task A_large_organization_pages_its_members_and_select_all_takes_what_the_search_found()
    {
        // 40 more members (42 in all): names sort Alice, Bob, Member 00 … Member 39.
        for (var i = 0; i < 40; i++)
            await _h.Ledger.Db.AddMembershipAsync(await OrgAsync(), await _h.Ledger.Db.AddUserAsync($"m{i:00}@test.test", $"Member {i:00}"), OrganizationRole.Member);
        var cut = RenderPage();

        Assert.Equal(25, cut.FindAll("[data-testid=caps-table] tbody tr").Count);
        Assert.Contains("1–25 of 42", cut.Find("[data-testid=caps-pager]").TextContent);
        cut.Find("[data-testid=caps-pager] button[aria-label='Page 2']").Click();
        cut.WaitForAssertion(() => Assert.Contains("26–42 of 42", cut.Find("[data-testid=caps-pager]").TextContent));
        Assert.Equal(17, cut.FindAll("[data-testid=caps-table] tbody tr").Count);
        Assert.NotNull(cut.Find("[data-testid='cap-row-m39@test.test']"));

        // A search goes back to the first page and finds by name or e-mail; the header's box selects exactly what it found.
        Search(cut, "member 1");
        cut.WaitForAssertion(() => Assert.Equal(10, cut.FindAll("[data-testid=caps-table] tbody tr").Count));
        Assert.Empty(cut.FindAll("[data-testid=caps-pager]"));
        cut.Find("[data-testid=caps-table] thead input[type=checkbox]").Change(true);
        cut.WaitForAssertion(() => Assert.Equal("10 selected", cut.Find("[data-testid=bulk-count]").TextContent.Trim()));
        Search(cut, "nobody here");
        cut.WaitForAssertion(() => Assert.Contains("No member matches", cut.Find("[data-testid=caps-none]").TextContent));

        Input(cut.Find("#bulk-credits")).Input("5");
        cut.Find("#bulk-apply").Click();
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("[data-testid=bulk-count]")));
        await using var db = _h.Ledger.Db.CreateContext();
        var limited = await db.Memberships.Where(m => m.OrganizationId == _h.OrgId && m.CapMillicredits == 5_000).Select(m => m.User.Email).ToListAsync();
        Assert.Equal(Enumerable.Range(10, 10).Select(i => $"m{i}@test.test"), limited.Order());
    }

    /// <summary>Typed, then the field left (which runs the search without waiting out the typing pause).</summary>
    private static void Search(IRenderedComponent<LimitsPage> cut, string text)
    {
        Input(cut.Find("[data-testid=caps-search]")).Input(text);
        Input(cut.Find("[data-testid=caps-search]")).Blur();
    }

    private async Task<Organization> OrgAsync()
    {
        await using var db = _h.Ledger.Db.CreateContext();
        return await db.Organizations.SingleAsync(o => o.Id == _h.OrgId);
    }

    [Fact]
    public async Task A_cap_changed_by_another_admin_since_the_page_opened_is_not_overwritten()
    {
        var cut = RenderPage();
        // Another admin saves first.
        Assert.True((await _h.Caps.SetMemberCapsAsync(_h.OrgId, new("jordan", "Jordan"), [new(_h.Ledger.Bob.Id, 1)], MemberCapMode.Custom, 300_000)).Succeeded);

        TypeBobCap(cut, "200");
        BobRow(cut).QuerySelector("[data-testid=cap-save]")!.Click();

        cut.WaitForAssertion(() => Assert.Contains(
            "This limit was changed by someone else since you opened the page. Reload to see the current value.",
            cut.Find("[data-testid=limits-conflict]").TextContent));
        Assert.Equal(300_000, await BobCapAsync());

        cut.Find("[data-testid=limits-reload]").Click();
        cut.WaitForAssertion(() => Assert.Equal("300", BobRow(cut).QuerySelector("[data-testid=cap-effective]")!.TextContent.Trim()));
        Assert.Empty(cut.FindAll("[data-testid=limits-conflict]"));
    }

    [Fact]
    public async Task Alert_rule_fields_are_validated_beside_the_field()
    {
        var cut = RenderPage();
        var rule = cut.Find("[data-testid=rule-org_allowance_percent]");
        Input(rule.QuerySelector("[data-testid=rule-thresholds]")!).Input("50, lots");
        Input(rule.QuerySelector("[data-testid=rule-emails]")!).Input("finance@, ok@customer.test");
        rule.QuerySelector("[data-testid=rule-save]")!.Click();

        cut.WaitForAssertion(() =>
        {
            var text = cut.Find("[data-testid=rule-org_allowance_percent]").TextContent;
            Assert.Contains("“lots” is not a whole number of percent.", text);
            Assert.Contains("“finance@” is not a valid email address.", text);
        });
        Assert.Equal("50,80,100", (await _h.RuleAsync(AlertKinds.OrgAllowancePercent)).Thresholds);
    }

    [Fact]
    public async Task The_bell_shows_the_unread_count_and_follows_new_alerts_live()
    {
        Render<MudPopoverProvider>();
        var bell = Render<NotificationBell>(p => p.Add(b => b.UserId, _h.Ledger.Alice.Id));
        bell.WaitForAssertion(() => Assert.Equal("Notifications", bell.Find("[data-testid=bell]").GetAttribute("aria-label")));

        await _h.SpendAsync("half", 11_000); // crosses 50 %
        await _h.Evaluator.EvaluateAsync(_h.OrgId);
        await _h.SpendAsync("more", 5_000); // crosses 80 %
        await _h.Evaluator.EvaluateAsync(_h.OrgId);

        bell.WaitForAssertion(() => Assert.Equal("Notifications, 2 unread", bell.Find("[data-testid=bell]").GetAttribute("aria-label")));
        Assert.Contains("2", bell.Find(".mud-badge").TextContent);

        await _h.Notifications.MarkAllReadAsync(_h.Ledger.Alice.Id);
        bell.WaitForAssertion(() => Assert.Equal("Notifications", bell.Find("[data-testid=bell]").GetAttribute("aria-label")));
    }
}
