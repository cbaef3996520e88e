using Bunit;
using Cassidy.Portal.Components.Pages.MyUsage;
using Cassidy.Portal.Components.Pages.Settings;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using MudBlazor;

namespace Cassidy.Portal.Tests.Components.Settings;

public sealed class OverviewAndPlanTests : PageTestContext
{
    [Fact]
    public void The_overview_shows_the_balance_what_it_is_made_of_and_the_reset()
    {
        Render<MudPopoverProvider>();
        var cut = Render<Overview>(p => p.Add(o => o.Slug, "org"));

        cut.WaitForAssertion(() => Assert.Contains("20,000", cut.Find("[data-testid=balance]").TextContent), TimeSpan.FromSeconds(5));
        Assert.Contains("Monthly allowance", cut.Find("[data-testid=grants]").TextContent);
        Assert.Contains("15 Feb 2026, 09:00 (UTC)", cut.Find("[data-testid=reset]").TextContent);
        Assert.Contains("Balance verified against 1 ledger entry", cut.Find("[data-testid=ledger-check]").TextContent);
        // No checkpoint yet, so the Overview's check was the full one, and says when it ran.
        Assert.Equal("Full check of every entry and rollup: passed 15 Jan 2026, 09:00 (UTC)", cut.Find("[data-testid=ledger-full-check]").TextContent);
        Assert.Contains("last beyond the reset", cut.Find("[data-testid=projection]").TextContent);
        Assert.Empty(cut.FindAll("[data-testid=out-of-credits]"));
    }

    [Fact]
    public async Task Books_that_do_not_add_up_are_said_so_with_what_broke_and_the_last_full_check()
    {
        Assert.True((await H.Ledger.VerifyAsync(H.Org.Id)).Ok); // the first check (a full one) leaves the checkpoint
        await using (var db = H.Db.CreateContext())
            await db.Database.ExecuteSqlAsync($"UPDATE CreditAccounts SET BalanceMillicredits = BalanceMillicredits + 1 WHERE OrganizationId = {H.Org.Id}");

        Render<MudPopoverProvider>();
        var cut = Render<Overview>(p => p.Add(o => o.Slug, "org"));

        cut.WaitForAssertion(() => Assert.Contains("The books do not add up: the stored balance differs from the sum of the ledger. Cassidy staff are alerted automatically.",
            cut.Find("[data-testid=ledger-check]").TextContent), TimeSpan.FromSeconds(5));
        Assert.StartsWith("Full check of every entry and rollup: passed", cut.Find("[data-testid=ledger-full-check]").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Enterprise_customers_see_their_own_rollover_terms_and_others_that_nothing_rolls_over()
    {
        Render<MudPopoverProvider>();
        var team = Render<Overview>(p => p.Add(o => o.Slug, "org"));
        team.WaitForAssertion(() => Assert.Equal("Unused monthly credits don't roll over.", team.Find("[data-testid=rollover-terms]").TextContent),
            TimeSpan.FromSeconds(5));

        await using (var db = H.Db.CreateContext())
            await db.Organizations.Where(o => o.Id == H.Org.Id).ExecuteUpdateAsync(s => s
                .SetProperty(o => o.Plan, "Enterprise").SetProperty(o => o.EnterpriseMonthlyCredits, 500_000L).SetProperty(o => o.RolloverCapPercent, 25));
        await H.Ledger.RefreshAsync(H.Org.Id); // the agreement applies from the next period; this period's allowance (20,000) caps the carry
        var enterprise = Render<Overview>(p => p.Add(o => o.Slug, "org"));
        enterprise.WaitForAssertion(() => Assert.Contains("roll over into the next period, up to 25% of the allowance (5,000 credits)",
            enterprise.Find("[data-testid=rollover-terms]").TextContent), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Out_of_credits_shows_the_paused_banner_with_the_reset_date_and_the_ways_out()
    {
        await H.RecordAsync(H.Spend("all-of-it", 20_000));
        Render<MudPopoverProvider>();
        var cut = Render<Overview>(p => p.Add(o => o.Slug, "org"));

        cut.WaitForAssertion(() =>
        {
            var banner = cut.Find("[data-testid=out-of-credits]");
            Assert.Contains("AI features are paused until 15 Feb 2026, 09:00 (UTC)", banner.TextContent);
            Assert.Contains(banner.QuerySelectorAll("a"), a => a.GetAttribute("href") == "/orgs/org/settings/plan");
            Assert.Contains(banner.QuerySelectorAll("a"), a => a.GetAttribute("href") == "/orgs/org/settings/plan#support");
        }, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_member_sees_the_paused_banner_on_my_usage_but_no_upgrade_button()
    {
        await H.RecordAsync(H.Spend("all-of-it", 20_000));
        SignInAs(H.Bob.Id, "Bob", "bob@test.test");
        Render<MudPopoverProvider>();
        var cut = Render<MyUsage>(p => p.Add(o => o.Slug, "org"));

        cut.WaitForAssertion(() => Assert.Contains("AI features are paused", cut.Find("[data-testid=out-of-credits]").TextContent), TimeSpan.FromSeconds(5));
        Assert.Contains("owners and admins can upgrade", cut.Find("[data-testid=out-of-credits]").TextContent);
        Assert.Empty(cut.FindAll("[data-testid=out-of-credits] a"));
        Assert.Empty(cut.FindAll("[data-testid=header-balance]"));
    }

    [Fact]
    public void The_plan_page_marks_the_current_plan_and_offers_upgrades_downgrades_and_sales()
    {
        Render<MudPopoverProvider>();
        var cut = Render<Plan>(p => p.Add(o => o.Slug, "org"));

        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=plan-Team] [data-testid=current-plan]")), TimeSpan.FromSeconds(5));
        Assert.NotNull(cut.Find("[data-testid=upgrade-Business]"));
        Assert.NotNull(cut.Find("[data-testid=downgrade-Free]"));
        Assert.Contains("Contact sales", cut.Find("[data-testid=plan-Enterprise]").TextContent);
        Assert.Equal("mailto:support@cassidyai.com", cut.Find("[data-testid=support-mailto]").GetAttribute("href"));
    }

    [Fact]
    public void The_support_form_explains_what_is_missing_beside_the_field_and_files_nothing()
    {
        Render<MudPopoverProvider>();
        var cut = Render<Plan>(p => p.Add(o => o.Slug, "org"));
        cut.WaitForAssertion(() => cut.Find("#support-message"), TimeSpan.FromSeconds(5));

        cut.Find("#support-message").Input("more");
        cut.Find("[data-testid=support-send]").Click();

        cut.WaitForAssertion(() => Assert.Contains("Add a little more detail (at least 10 characters).", cut.Markup));
        Assert.Empty(cut.FindAll("[data-testid=support-sent]"));
        using var db = H.Db.CreateContext();
        Assert.Empty(db.SupportRequests);
    }

    [Fact]
    public void A_valid_support_request_is_filed_for_staff()
    {
        Render<MudPopoverProvider>();
        var cut = Render<Plan>(p => p.Add(o => o.Slug, "org"));
        cut.WaitForAssertion(() => cut.Find("#support-message"), TimeSpan.FromSeconds(5));

        cut.Find("#support-message").Input("We need 50,000 extra credits for a launch in March.");
        cut.Find("[data-testid=support-send]").Click();

        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=support-sent]")));
        using var db = H.Db.CreateContext();
        var request = Assert.Single(db.SupportRequests);
        Assert.Equal(("custom_credit_package", "alice@test.test"), (request.Category, request.RequestedByEmail));
    }
}
