using Microsoft.Extensions.Configuration;
using Cassidy.Portal.Data;
using Cassidy.Portal.Billing;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Pricing;
using Microsoft.EntityFrameworkCore;

using Cassidy.Portal.Tests.Infrastructure;

namespace Cassidy.Portal.Tests.Ledger;

/// <summary>The engine against a real SQLite file: recording, grants, expiry, periods, rollover, holds.</summary>
public sealed class CreditLedgerTests
{
    private const long Credit = 1000;

    [Fact]
    public async Task A_new_account_has_its_plans_allowance_and_usage_debits_it_once()
    {
        await using var h = await LedgerHarness.CreateAsync("Team");
        Assert.Equal(20_000 * Credit, (await h.BalanceAsync()).Balance);

        var first = await h.RecordAsync(h.Call("e1", input: 1200, knowledge: 800, output: 300, capabilities: ["web_search"]));
        Assert.Equal(new UsageResult("e1", UsageStatuses.Recorded, 8400, null), first);
        var replay = await h.RecordAsync(h.Call("e1", input: 1200, knowledge: 800, output: 300, capabilities: ["web_search"]));
        Assert.Equal(new UsageResult("e1", UsageStatuses.Duplicate, 8400, null), replay);
        var conflict = await h.RecordAsync(h.Call("e1", input: 1201, knowledge: 800, output: 300, capabilities: ["web_search"]));
        Assert.Equal(UsageResult.Rejected("e1", UsageErrors.Conflict), conflict);

        var balance = await h.BalanceAsync();
        Assert.Equal(20_000 * Credit - 8400, balance.Balance);
        Assert.Equal(8400, balance.Used);
        await h.AssertBooksBalanceAsync();
    }

    [Fact]
    public async Task Credits_are_fixed_at_recording_so_a_replay_after_a_price_change_is_still_a_duplicate()
    {
        await using var h = await LedgerHarness.CreateAsync();
        await h.RecordAsync(h.Call("e1", input: 1000));
        var options = LedgerHarness.Configuration.GetSection("Metering").Get<MeteringOptions>()!;
        options.Models.Remove("gpt-4.1");
        await using var repriced = CreditLedger.Create(h.Db.ConnectionString, new PriceTable(options), LedgerHarness.Plans(), h.Clock,
            Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var replay = (await repriced.RecordUsageAsync([h.Call("e1", input: 1000)]))[0];
        Assert.Equal(new UsageResult("e1", UsageStatuses.Duplicate, 2000, null), replay);
        var fresh = (await repriced.RecordUsageAsync([h.Call("e2", input: 1000)]))[0];
        Assert.Equal(UsageErrors.UnknownModel, fresh.Error);
    }

    [Fact]
    public async Task Usage_takes_the_soonest_expiring_grant_first_and_expired_packages_leave_the_balance()
    {
        await using var h = await LedgerHarness.CreateAsync("Free"); // allowance 1,000 credits, expires at the period end
        var package = await h.Ledger.GrantAsync(h.Org.Id, GrantKinds.CreditPackage, 500 * Credit, h.Now.AddDays(10), "Support #1", h.Alice.Id);
        var forever = await h.Ledger.GrantAsync(h.Org.Id, GrantKinds.Adjustment, 100 * Credit, null, "Goodwill", h.Alice.Id);

        await h.RecordAsync(h.Spend("a", 300)); // from the package (expires in 10 days, before the allowance)
        var grants = await h.GrantsAsync();
        Assert.Equal(200 * Credit, grants.Single(g => g.Id == package).RemainingMillicredits);
        Assert.Equal(1000 * Credit, grants.Single(g => g.Kind == GrantKinds.MonthlyAllowance).RemainingMillicredits);

        h.Clock.Advance(TimeSpan.FromDays(11));
        await h.RecordAsync(h.Spend("b", 100)); // package expired: 200 left it; this comes from the allowance
        grants = await h.GrantsAsync();
        Assert.Equal(0, grants.Single(g => g.Id == package).RemainingMillicredits);
        Assert.NotNull(grants.Single(g => g.Id == package).ExpiredAt);
        Assert.Equal(900 * Credit, grants.Single(g => g.Kind == GrantKinds.MonthlyAllowance).RemainingMillicredits);
        Assert.Equal(100 * Credit, grants.Single(g => g.Id == forever).RemainingMillicredits);
        Assert.Contains(await h.LedgerAsync(), e => e.Kind == LedgerKinds.Expiry && e.GrantId == package && e.AmountMillicredits == -200 * Credit);
        Assert.Equal(1000 * Credit, (await h.BalanceAsync()).Balance);

        // Each usage names the grant that paid it; a usage split across grants records its parts.
        await h.RecordAsync(h.Spend("c", 950)); // 900 from the allowance, 50 from the adjustment that never expires
        var allowance = grants.Single(g => g.Kind == GrantKinds.MonthlyAllowance).Id;
        var usage = (await h.LedgerAsync()).Where(e => e.Kind == LedgerKinds.Usage).ToList();
        Assert.Equal([package, allowance, null], usage.Select(e => e.GrantId));
        await using (var db = h.Db.CreateContext())
        {
            var draws = await db.UsageDraws.OrderBy(d => d.Id).ToListAsync();
            Assert.All(draws, d => Assert.Equal(usage[2].UsageEventId, d.UsageEventId));
            Assert.Equal([(allowance, 900 * Credit), (forever, 50 * Credit)], draws.Select(d => (d.GrantId!.Value, d.AmountMillicredits)));
        }
        await h.AssertBooksBalanceAsync();
    }

    [Fact]
    public async Task Overdraft_is_recorded_and_the_next_periods_allowance_pays_it_first()
    {
        await using var h = await LedgerHarness.CreateAsync("Free");
        await h.RecordAsync(h.Spend("big", 1300));
        var balance = await h.BalanceAsync();
        Assert.Equal(-300 * Credit, balance.Balance);
        await using (var db = h.Db.CreateContext())
        {
            var draws = await db.UsageDraws.OrderBy(d => d.Id).ToListAsync();
            Assert.Equal([1000 * Credit, 300 * Credit], draws.Select(d => d.AmountMillicredits));
            Assert.Null(draws[1].GrantId);
        }

        h.Clock.Advance(TimeSpan.FromDays(31));
        balance = await h.BalanceAsync();
        Assert.Equal(700 * Credit, balance.Balance);
        var allowance = (await h.GrantsAsync()).Last();
        Assert.Equal((1000 * Credit, 700 * Credit), (allowance.AmountMillicredits, allowance.RemainingMillicredits));
        await h.AssertBooksBalanceAsync();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(31)]
    public async Task Fourteen_months_close_one_period_each_with_no_rollover_on_team(int anchorDay)
    {
        var anchor = new DateTime(2024, anchorDay == 31 ? 1 : 2, anchorDay, 8, 30, 0, DateTimeKind.Utc);
        await using var h = await LedgerHarness.CreateAsync("Team", anchor);
        for (var month = 0; month < 14; month++)
        {
            var period = BillingPeriods.Period(anchor, month);
            h.Clock.SetUtcNow(period.Start.AddHours(1));
            var balance = await h.BalanceAsync();
            Assert.Equal((period.Start, period.End), (balance.PeriodStart, balance.PeriodEnd));
            Assert.Equal(20_000 * Credit, balance.Balance); // last month's leftovers expired, nothing rolled over
            await h.RecordAsync(h.Spend($"m{month}", 1000 + month));
            Assert.Equal(19_000 * Credit - month * Credit, (await h.BalanceAsync()).Balance);
        }
        var grants = await h.GrantsAsync();
        Assert.Equal(14, grants.Count(g => g.Kind == GrantKinds.MonthlyAllowance));
        Assert.DoesNotContain(grants, g => g.Kind == GrantKinds.Rollover);
        Assert.Equal(Enumerable.Range(0, 14).Select(i => (DateTime?)BillingPeriods.StartOf(anchor, i)),
            grants.Where(g => g.Kind == GrantKinds.MonthlyAllowance).Select(g => g.PeriodStart));
        var expiries = (await h.LedgerAsync()).Where(e => e.Kind == LedgerKinds.Expiry).ToList();
        Assert.Equal(13, expiries.Count);
        Assert.Equal(-(19_000 * Credit), expiries[0].AmountMillicredits);
        await h.AssertBooksBalanceAsync();
    }

    [Fact]
    public async Task An_idle_organization_catches_up_month_by_month_on_its_next_read()
    {
        var anchor = new DateTime(2024, 1, 31, 0, 0, 0, DateTimeKind.Utc);
        await using var h = await LedgerHarness.CreateAsync("Free", anchor);
        h.Clock.SetUtcNow(new DateTime(2024, 7, 1, 0, 0, 0, DateTimeKind.Utc));
        var balance = await h.BalanceAsync();
        Assert.Equal(new DateTime(2024, 6, 30, 0, 0, 0, DateTimeKind.Utc), balance.PeriodStart);
        Assert.Equal(1000 * Credit, balance.Balance);
        var ledger = await h.LedgerAsync();
        Assert.Equal(6, ledger.Count(e => e.Kind == LedgerKinds.Grant));
        Assert.Equal(5, ledger.Count(e => e.Kind == LedgerKinds.Expiry));
        // Each close happened at its period's end, in order.
        Assert.Equal(Enumerable.Range(1, 5).Select(i => BillingPeriods.StartOf(anchor, i)),
            ledger.Where(e => e.Kind == LedgerKinds.Expiry).Select(e => e.OccurredAt));
        await h.AssertBooksBalanceAsync();
    }

    [Fact]
    public async Task Enterprise_rolls_over_unused_allowance_up_to_its_cap_expiring_at_the_end_of_the_next_period()
    {
        await using var h = await LedgerHarness.CreateAsync("Enterprise", enterpriseCredits: 10_000, rolloverPercent: 25);
        await h.RecordAsync(h.Spend("small", 1_000)); // 9,000 left; the cap is 2,500
        h.Clock.Advance(TimeSpan.FromDays(31));
        var balance = await h.BalanceAsync();
        Assert.Equal(12_500 * Credit, balance.Balance);
        var rollover = (await h.GrantsAsync()).Single(g => g.Kind == GrantKinds.Rollover);
        Assert.Equal(2_500 * Credit, rollover.AmountMillicredits);
        Assert.Equal(BillingPeriods.StartOf(h.Org.BillingAnchor, 2), rollover.ExpiresAt);

        // The rollover expires before the allowance, so it is used first; whatever is left of it does not roll again.
        await h.RecordAsync(h.Spend("next", 9_000)); // 2,500 rollover + 6,500 allowance
        h.Clock.Advance(TimeSpan.FromDays(31));
        balance = await h.BalanceAsync();
        Assert.Equal(10_000 * Credit + 2_500 * Credit, balance.Balance); // 3,500 allowance left → capped at 2,500
        Assert.Equal(2, (await h.GrantsAsync()).Count(g => g.Kind == GrantKinds.Rollover));
        await h.AssertBooksBalanceAsync();
    }

    [Fact]
    public async Task Enterprise_rolls_over_less_than_the_cap_when_less_is_left_and_team_never_rolls_over()
    {
        await using var h = await LedgerHarness.CreateAsync("Enterprise", enterpriseCredits: 10_000, rolloverPercent: 25);
        await h.RecordAsync(h.Spend("most", 9_000));
        h.Clock.Advance(TimeSpan.FromDays(31));
        Assert.Equal(11_000 * Credit, (await h.BalanceAsync()).Balance);

        await using var team = await LedgerHarness.CreateAsync("Team", rolloverPercent: 50);
        team.Clock.Advance(TimeSpan.FromDays(31));
        Assert.Equal(20_000 * Credit, (await team.BalanceAsync()).Balance);
    }

    [Fact]
    public async Task A_restarted_engine_loads_each_members_usage_this_period_from_the_rows_the_writer_keeps()
    {
        await using var h = await LedgerHarness.CreateAsync("Team");
        await h.RecordAsync(h.Spend("a-1", 300));
        await h.RecordAsync(h.Spend("b-1", 200, "bob@test.test"));
        h.Clock.Advance(TimeSpan.FromDays(31)); // the next period: only Alice uses credits in it
        await h.RecordAsync(h.Spend("a-2", 50));
        var periodStart = (await h.BalanceAsync()).PeriodStart;

        await using (var db = h.Db.CreateContext())
        {
            var rows = await db.MemberPeriodUsages.Where(u => u.OrganizationId == h.Org.Id).OrderBy(u => u.UserId == h.Alice.Id ? 0 : 1).ToListAsync();
            Assert.Equal([(h.Alice.Id, periodStart, 50 * Credit), (h.Bob.Id, periodStart.AddMonths(-1), 200 * Credit)],
                rows.Select(r => (r.UserId, r.PeriodStart, r.UsedMillicredits)));
        }

        // A second engine (a restart) loads the book from those rows: Bob's usage of the last period is not this period's.
        await using var restarted = LedgerHarness.NewLedger(h.Db, h.Clock);
        Assert.Equal(50 * Credit, (await restarted.GetBalanceAsync(h.Org.Id))!.Used);
        var view = restarted.View.Find(h.Org.Id)!;
        Assert.Equal((50 * Credit, 0L), (view.MemberUsage(h.Alice.Id), view.MemberUsage(h.Bob.Id)));
        await h.AssertBooksBalanceAsync();
    }

    [Fact]
    public async Task Racing_closers_from_two_writers_close_a_period_once()
    {
        await using var h = await LedgerHarness.CreateAsync("Team");
        await using var second = LedgerHarness.NewLedger(h.Db, h.Clock);
        h.Clock.Advance(TimeSpan.FromDays(95)); // three periods due
        await Task.WhenAll(Enumerable.Range(0, 8).Select(i => (i % 2 == 0 ? h.Ledger : second).CloseDuePeriodsAsync(h.Org.Id)));
        await Task.WhenAll(h.Ledger.CloseAllDuePeriodsAsync(), second.CloseAllDuePeriodsAsync());
        var grants = await h.GrantsAsync();
        Assert.Equal(4, grants.Count(g => g.Kind == GrantKinds.MonthlyAllowance));
        Assert.Equal(3, (await h.LedgerAsync()).Count(e => e.Kind == LedgerKinds.Expiry));
        Assert.Equal(20_000 * Credit, (await h.BalanceAsync()).Balance);
        Assert.Equal(20_000 * Credit, (await second.GetBalanceAsync(h.Org.Id))!.Balance);
        await h.AssertBooksBalanceAsync();
    }

    [Fact]
    public async Task The_database_refuses_a_second_allowance_for_the_same_period()
    {
        await using var h = await LedgerHarness.CreateAsync("Team");
        await using var db = h.Db.CreateContext();
        var allowance = await db.CreditGrants.SingleAsync();
        db.CreditGrants.Add(new CreditGrant
        {
            OrganizationId = h.Org.Id, Kind = GrantKinds.MonthlyAllowance, AmountMillicredits = 1, RemainingMillicredits = 1,
            PeriodStart = allowance.PeriodStart, StartsAt = h.Now, CreatedAt = h.Now,
        });
        await Assert.ThrowsAsync<DbUpdateException>(() => db.SaveChangesAsync());
    }

    [Fact]
    public async Task Holds_reserve_credits_settle_with_the_actual_cost_and_release_or_expire()
    {
        await using var h = await LedgerHarness.CreateAsync("Free"); // 1,000 credits
        var auth = (await h.Ledger.AuthorizeAsync(new AuthorizeInput("org", "alice@test.test", Features.AgentChat, "gpt-4.1", 100_000, 50_000))).Decision!;
        Assert.True(auth.Allowed);
        Assert.Equal(600 * Credit, auth.Held); // 200 + 400 credits
        Assert.Equal(400 * Credit, auth.Available);

        // A second hold that would not fit is refused.
        var refused = (await h.Ledger.AuthorizeAsync(new AuthorizeInput("org", "bob@test.test", Features.AgentChat, "gpt-4.1", 250_000, 0))).Decision!;
        Assert.Equal((false, AuthorizeReasons.OrganizationOutOfCredits, (string?)null), (refused.Allowed, refused.Reason, refused.HoldId));

        // Settling debits the actual credits, even above the estimate, and releases the hold.
        await h.RecordAsync(h.Call("settle", input: 400_000, holdId: auth.HoldId));
        var balance = await h.BalanceAsync();
        Assert.Equal((200 * Credit, 0L), (balance.Balance, balance.Held));

        var second = (await h.Ledger.AuthorizeAsync(new AuthorizeInput("org", "bob@test.test", Features.AgentChat, "gpt-4.1", 50_000, 0))).Decision!;
        Assert.True(second.Allowed);
        Assert.True(await h.Ledger.ReleaseHoldAsync(second.HoldId!));
        Assert.False(await h.Ledger.ReleaseHoldAsync(second.HoldId!));
        Assert.Equal(0, (await h.BalanceAsync()).Held);

        var third = (await h.Ledger.AuthorizeAsync(new AuthorizeInput("org", "bob@test.test", Features.AgentChat, "gpt-4.1", 50_000, 0))).Decision!;
        Assert.Equal(100 * Credit, (await h.BalanceAsync()).Held);
        h.Clock.Advance(TimeSpan.FromSeconds(301));
        Assert.Equal(0, (await h.BalanceAsync()).Held);
        Assert.NotNull(third.HoldId);
        await h.AssertBooksBalanceAsync();
    }

    [Fact]
    public async Task Authorize_says_no_at_zero_balance_and_at_the_member_cap()
    {
        await using var h = await LedgerHarness.CreateAsync("Free", defaultCap: 300 * Credit);
        var ok = (await h.Ledger.AuthorizeAsync(new AuthorizeInput("org", "bob@test.test", Features.AgentChat))).Decision!;
        Assert.Equal((true, AuthorizeReasons.Ok, 300 * Credit, 0L), (ok.Allowed, ok.Reason, ok.MemberCap, ok.MemberUsed));

        await h.RecordAsync(h.Spend("b1", 299, "bob@test.test"));
        Assert.True((await h.Ledger.AuthorizeAsync(new AuthorizeInput("org", "bob@test.test", Features.AgentChat))).Decision!.Allowed);
        await h.RecordAsync(h.Spend("b2", 1, "bob@test.test"));
        var capped = (await h.Ledger.AuthorizeAsync(new AuthorizeInput("org", "bob@test.test", Features.AgentChat))).Decision!;
        Assert.Equal((false, AuthorizeReasons.MemberLimitReached, 300 * Credit), (capped.Allowed, capped.Reason, capped.MemberUsed));

        await h.RecordAsync(h.Spend("a1", 700, "alice@test.test")); // alice is over the default too, but the org is at exactly 0
        var empty = (await h.Ledger.AuthorizeAsync(new AuthorizeInput("org", "alice@test.test", Features.AgentChat))).Decision!;
        Assert.Equal((false, AuthorizeReasons.OrganizationOutOfCredits, 0L), (empty.Allowed, empty.Reason, empty.Balance));

        // Next period: credits are back, caps re-arm.
        h.Clock.Advance(TimeSpan.FromDays(31));
        var reset = (await h.Ledger.AuthorizeAsync(new AuthorizeInput("org", "bob@test.test", Features.AgentChat))).Decision!;
        Assert.Equal((true, 0L, 1000 * Credit), (reset.Allowed, reset.MemberUsed, reset.Balance));
    }

    [Fact]
    public async Task Unknown_organizations_members_models_and_capabilities_are_rejected_not_charged()
    {
        await using var h = await LedgerHarness.CreateAsync();
        var results = await h.Ledger.RecordUsageAsync(
        [
            h.Call("ok"), h.Call("no-org", org: "nope"), h.Call("no-member", user: "eve@test.test"),
            h.Call("no-model", model: "gpt-9"), h.Call("no-cap", capabilities: ["mind_reading"]),
            h.Call("") with { }, h.Call("neg") with { InputTokens = -1 },
        ]);
        Assert.Equal(
            [UsageStatuses.Recorded, UsageStatuses.Rejected, UsageStatuses.Rejected, UsageStatuses.Rejected, UsageStatuses.Rejected, UsageStatuses.Rejected, UsageStatuses.Rejected],
            results.Select(r => r.Status));
        Assert.Equal([null, UsageErrors.UnknownOrganization, UsageErrors.UnknownMember, UsageErrors.UnknownModel, UsageErrors.UnknownCapability, UsageErrors.Validation, UsageErrors.Validation],
            results.Select(r => r.Error));
        Assert.Equal(2000, (await h.BalanceAsync()).Used);
        Assert.Equal(404, (await h.Ledger.AuthorizeAsync(new AuthorizeInput("nope", "alice@test.test", Features.AgentChat))).NotFound is null ? 200 : 404);
        Assert.Equal("user", (await h.Ledger.AuthorizeAsync(new AuthorizeInput("org", "eve@test.test", Features.AgentChat))).NotFound);
    }

    [Fact]
    public async Task Meetings_and_storage_are_metered_without_credits()
    {
        await using var h = await LedgerHarness.CreateAsync();
        var at = h.Clock.GetUtcNow();
        var results = await h.Ledger.RecordUsageAsync(
        [
            new UsageEventInput { Id = "m1", Type = UsageTypes.Meeting, Organization = "org", User = "alice@test.test", OccurredAt = at, Minutes = 30 },
            new UsageEventInput { Id = "m2", Type = UsageTypes.Meeting, Organization = "org", User = "bob@test.test", OccurredAt = at, Minutes = 12.5 },
            new UsageEventInput { Id = "s1", Type = UsageTypes.Storage, Organization = "org", OccurredAt = at.AddMinutes(-5), Bytes = 5_000 },
            new UsageEventInput { Id = "s2", Type = UsageTypes.Storage, Organization = "org", OccurredAt = at, Bytes = 7_000 },
            new UsageEventInput { Id = "m3", Type = UsageTypes.Meeting, Organization = "org", User = "bob@test.test", OccurredAt = at, Minutes = 0 },
        ]);
        Assert.Equal([0L, 0L, 0L, 0L, null], results.Select(r => r.CreditsMillicredits));
        await using var db = h.Db.CreateContext();
        Assert.Equal(42.5, await db.MeetingRollups.SumAsync(r => r.Minutes));
        Assert.Equal(7_000, (await db.StorageSnapshots.OrderByDescending(s => s.OccurredAt).FirstAsync()).Bytes);
        Assert.Equal(20_000 * Credit, (await h.BalanceAsync()).Balance);
    }
}
