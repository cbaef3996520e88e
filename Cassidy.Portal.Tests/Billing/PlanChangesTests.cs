using Cassidy.Portal.Billing;
using Cassidy.Portal.Data;
using Cassidy.Portal.Organizations;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

using Cassidy.Portal.Tests.Infrastructure;

namespace Cassidy.Portal.Tests.Billing;

public sealed class PlanChangesTests : IAsyncLifetime
{
    private LedgerHarness _h = null!;
    private PlanChanges _plans = null!;
    private IDbContextFactory<PortalDbContext> _dbFactory = null!;
    private AuditActor Owner => new(_h.Alice.Id, "Alice");

    public async Task InitializeAsync()
    {
        _h = await LedgerHarness.CreateAsync("Team");
        _dbFactory = _h.Db.CreateFactory();
        _plans = new PlanChanges(_h.Ledger, LedgerHarness.Plans(), new RecordedInvoices(_dbFactory, _h.Clock), _dbFactory, _h.Notifications(), _h.Clock);
    }

    [Fact]
    public async Task Upgrading_from_team_to_business_adds_80000_credits_now_and_invoices_the_prorated_difference()
    {
        _h.Clock.Advance(TimeSpan.FromDays(10)); // 21 of the period's 31 days are left
        var before = await _h.BalanceAsync();

        var (result, quote) = await _plans.UpgradeAsync(_h.Org.Id, Owner, "Business");

        Assert.True(result.Succeeded, result.Error);
        var after = await _h.BalanceAsync();
        Assert.Equal(80_000_000, after.Balance - before.Balance);
        Assert.Equal(("Business", 100_000_000L), (after.Plan, after.Allowance));
        Assert.Equal(before.PeriodEnd, after.PeriodEnd); // the reset date does not move
        Assert.Equal(27_097, quote!.ChargeCents); // $400 × 21/31
        var invoice = Assert.Single(await _plans.InvoicesAsync(_h.Org.Id));
        Assert.Equal((27_097L, InvoiceStatuses.Issued), (invoice.AmountCents, invoice.Status));
        await using var db = await _dbFactory.CreateDbContextAsync();
        var audit = await db.AuditEntries.SingleAsync();
        Assert.Equal(("plan.upgraded", "Team", "Business"), (audit.Action, audit.Before, audit.After));
        await _h.AssertBooksBalanceAsync();

        // At the reset the extra credits expire with the period, and the full Business allowance is granted.
        _h.Clock.Advance(TimeSpan.FromDays(22));
        var next = await _h.BalanceAsync();
        Assert.Equal(100_000_000, next.Balance);
        await _h.AssertBooksBalanceAsync();
    }

    [Fact]
    public async Task A_paid_plan_is_invoiced_once_at_each_period_start_and_an_upgrade_covers_the_period_it_happened_in()
    {
        Assert.Equal(1, await _plans.IssuePeriodInvoicesAsync());
        Assert.Equal(0, await _plans.IssuePeriodInvoicesAsync()); // once per period
        var first = Assert.Single(await _plans.InvoicesAsync(_h.Org.Id));
        Assert.Equal((9_900L, "Team plan, monthly subscription"), (first.AmountCents, first.Description));
        var balance = await _h.BalanceAsync();
        Assert.Equal((balance.PeriodStart, balance.PeriodEnd), (first.PeriodStart, first.PeriodEnd));

        _h.Clock.Advance(TimeSpan.FromDays(32)); // the next period
        await _h.Ledger.CloseDuePeriodsAsync(_h.Org.Id);
        Assert.Equal(1, await _plans.IssuePeriodInvoicesAsync());
        Assert.Equal(2, (await _plans.InvoicesAsync(_h.Org.Id)).Count);

        // An upgrade mid-period is invoiced prorated; the period it happened in gets no second invoice.
        _h.Clock.Advance(TimeSpan.FromDays(32));
        await _h.Ledger.CloseDuePeriodsAsync(_h.Org.Id);
        Assert.True((await _plans.UpgradeAsync(_h.Org.Id, Owner, "Business")).Result.Succeeded);
        Assert.Equal(0, await _plans.IssuePeriodInvoicesAsync());
        Assert.Equal(3, (await _plans.InvoicesAsync(_h.Org.Id)).Count);
    }

    [Fact]
    public async Task Enterprise_is_never_self_serve()
    {
        var (result, _) = await _plans.UpgradeAsync(_h.Org.Id, Owner, "Enterprise");

        Assert.Equal("Set up with our team: contact sales.", result.Error);
        Assert.Equal("Team", (await _h.BalanceAsync()).Plan);
        Assert.Empty(await _plans.InvoicesAsync(_h.Org.Id));
    }

    [Fact]
    public async Task A_downgrade_is_refused_while_the_organization_has_more_members_than_the_lower_plan_allows()
    {
        foreach (var n in new[] { 1, 2 })
            await _h.Db.AddMembershipAsync(_h.Org, await _h.Db.AddUserAsync($"extra{n}@test.test", $"Extra {n}"), OrganizationRole.Member);

        var result = await _plans.ScheduleDowngradeAsync(_h.Org.Id, Owner, "Free");

        Assert.Equal("Org has 4 members; Free allows 3.", result.Error);
        Assert.Null(await _plans.ScheduledPlanAsync(_h.Org.Id));
    }

    [Fact]
    public async Task A_downgrade_waits_for_the_next_period_and_can_be_cancelled_until_then()
    {
        Assert.True((await _plans.ScheduleDowngradeAsync(_h.Org.Id, Owner, "Free")).Succeeded);
        Assert.Equal("Team", (await _h.BalanceAsync()).Plan);
        Assert.True((await _plans.CancelDowngradeAsync(_h.Org.Id, Owner)).Succeeded);
        Assert.True((await _plans.ScheduleDowngradeAsync(_h.Org.Id, Owner, "Free")).Succeeded);

        _h.Clock.Advance(TimeSpan.FromDays(32));
        var next = await _h.BalanceAsync();

        Assert.Equal(("Free", 1_000_000L, 1_000_000L), (next.Plan, next.Allowance, next.Balance));
        Assert.Null(await _plans.ScheduledPlanAsync(_h.Org.Id));
        await _h.AssertBooksBalanceAsync();
    }

    [Fact]
    public async Task Staff_grant_a_credit_package_that_expires_in_12_months_by_default()
    {
        var staff = new AuditActor("staff-id", "Sasha Staff");
        Assert.Equal("Enter a number of credits between 0.001 and 100,000,000.", (await _plans.GrantPackageAsync(_h.Org.Id, staff, 0, null, "x")).Error);
        Assert.Equal("Credits have at most 3 decimals.", (await _plans.GrantPackageAsync(_h.Org.Id, staff, 1.2345m, null, "x")).Error);
        Assert.StartsWith("Say why", (await _plans.GrantPackageAsync(_h.Org.Id, staff, 5000, null, " ")).Error);

        Assert.True((await _plans.GrantPackageAsync(_h.Org.Id, staff, 5000, null, "Launch week")).Succeeded);

        var package = (await _h.GrantsAsync()).Single(g => g.Kind == GrantKinds.CreditPackage);
        Assert.Equal((5_000_000L, _h.Now.AddDays(365), "Launch week"), (package.AmountMillicredits, package.ExpiresAt!.Value, package.Reason));
        Assert.Equal(25_000_000, (await _h.BalanceAsync()).Balance);
        await using var db = await _dbFactory.CreateDbContextAsync();
        Assert.Equal(("Sasha Staff", "staff.credit_package_granted"), await db.AuditEntries.Select(a => ValueTuple.Create(a.ActorName, a.Action)).SingleAsync());
    }

    [Fact]
    public async Task Staff_adjustments_are_signed_and_an_enterprise_agreement_takes_effect_at_once()
    {
        var staff = new AuditActor("staff-id", "Sasha Staff");
        Assert.True((await _plans.AdjustAsync(_h.Org.Id, staff, -500, "Refund of a duplicate grant")).Succeeded);
        Assert.Equal(19_500_000, (await _h.BalanceAsync()).Balance);

        Assert.True((await _plans.SetEnterpriseAsync(_h.Org.Id, staff, new EnterpriseAgreement(300_000, 25, 500, 5000, 2000))).Succeeded);

        var balance = await _h.BalanceAsync();
        Assert.Equal(("Enterprise", 300_000_000L, 299_500_000L), (balance.Plan, balance.Allowance, balance.Balance));
        await _h.AssertBooksBalanceAsync();
    }

    [Fact]
    public void Proration_is_exact_to_the_cent()
    {
        var plans = LedgerHarness.Plans();
        var start = new DateTime(2026, 2, 1, 0, 0, 0, DateTimeKind.Utc);
        var end = new DateTime(2026, 3, 1, 0, 0, 0, DateTimeKind.Utc);
        Assert.Equal(40_000, PlanChanges.ProratedCents(plans.Get("Team"), plans.Get("Business"), start, end, start));
        Assert.Equal(20_000, PlanChanges.ProratedCents(plans.Get("Team"), plans.Get("Business"), start, end, start.AddDays(14)));
        Assert.Equal(0, PlanChanges.ProratedCents(plans.Get("Team"), plans.Get("Business"), start, end, end));
    }

    public async Task DisposeAsync() => await _h.DisposeAsync();
}
