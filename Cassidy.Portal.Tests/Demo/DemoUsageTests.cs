using Cassidy.Portal.Data;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Tests.Api;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Cassidy.Portal.Tests.Demo;

/// <summary>The demo's 90 days of usage, recorded through the engine at startup (shares the API tests' portal).</summary>
public sealed class DemoUsageTests(ApiFixture fixture) : IClassFixture<ApiFixture>
{
    private async Task<PortalDbContext> DbAsync() =>
        await fixture.Factory.Services.GetRequiredService<IDbContextFactory<PortalDbContext>>().CreateDbContextAsync();

    [Fact]
    public async Task Acme_has_90_days_of_varied_usage_whose_books_balance_across_closed_periods()
    {
        await using var db = await DbAsync();
        var acme = await db.Organizations.SingleAsync(o => o.Slug == "acme");
        Assert.True((await fixture.Ledger.FullCheckAsync(acme.Id)).Ok);

        var rollups = await db.UsageRollups.Where(r => r.OrganizationId == acme.Id).ToListAsync();
        Assert.Equal(5, rollups.Select(r => r.Model).Distinct().Count());
        Assert.Equal(2, rollups.Select(r => r.Feature).Distinct().Count());
        Assert.True(rollups.Sum(r => r.KnowledgeTokens) > 0);
        Assert.True((rollups.Max(r => r.HourStart) - rollups.Min(r => r.HourStart)).TotalDays > 85);
        Assert.Equal(12, rollups.Select(r => r.UserId).Distinct().Count());
        var agents = await db.AgentRollups.Where(r => r.OrganizationId == acme.Id).Select(r => r.AgentId + "|" + r.WorkflowId).Distinct().ToListAsync();
        Assert.Contains("Support Triage|", agents);
        Assert.Contains("|Weekly Report", agents);
        Assert.True(await db.RunRollups.AnyAsync(r => r.OrganizationId == acme.Id));
        Assert.True(await db.MeetingRollups.AnyAsync(r => r.OrganizationId == acme.Id));
        Assert.True(await db.StorageSnapshots.CountAsync(s => s.OrganizationId == acme.Id) >= 10);
        Assert.True(await db.UsageEvents.AnyAsync(e => e.OrganizationId == acme.Id && e.Capabilities != null));

        // Three periods closed on the way (each allowance expired at its period's end), the fourth is current.
        var allowances = await db.CreditGrants.Where(g => g.OrganizationId == acme.Id && g.Kind == GrantKinds.MonthlyAllowance).ToListAsync();
        Assert.Equal(4, allowances.Count);
        Assert.Equal(3, allowances.Count(g => g.ExpiredAt != null));
        Assert.Equal(3, await db.LedgerEntries.CountAsync(e => e.OrganizationId == acme.Id && e.Kind == LedgerKinds.Expiry));

        var globex = await db.Organizations.SingleAsync(o => o.Slug == "globex");
        Assert.True(await db.UsageRollups.AnyAsync(r => r.OrganizationId == globex.Id));
        Assert.True((await fixture.Ledger.FullCheckAsync(globex.Id)).Ok);
    }

    [Fact]
    public async Task Some_acme_members_are_at_their_cap_while_member_at_acme_is_well_within_the_default()
    {
        var ledger = fixture.Ledger;
        async Task<AuthorizeDecision> Ask(string email) =>
            (await ledger.AuthorizeAsync(new AuthorizeInput("acme", email, Features.AgentChat))).Decision!;

        var sam = await Ask("sam@acme.test");
        Assert.Equal((false, AuthorizeReasons.MemberLimitReached), (sam.Allowed, sam.Reason));
        var priya = await Ask("priya@acme.test");
        Assert.Equal((false, AuthorizeReasons.MemberLimitReached, 2_000_000L), (priya.Allowed, priya.Reason, priya.MemberCap));
        var diego = await Ask("diego@acme.test");
        Assert.Equal((true, (long?)null), (diego.Allowed, diego.MemberCap));
        var member = await Ask("member@acme.test");
        Assert.True(member.Allowed);
        Assert.Equal(1_500_000, member.MemberCap);
        Assert.InRange(member.MemberUsed, 1, 1_500_000 / 3);
    }
}
