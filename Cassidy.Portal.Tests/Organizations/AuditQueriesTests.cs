using Cassidy.Portal.Data;
using Cassidy.Portal.Organizations;
using Cassidy.Portal.Tests.Infrastructure;

namespace Cassidy.Portal.Tests.Organizations;

/// <summary>The Audit log's server-side filters, search, order and the lists its filters offer.</summary>
public sealed class AuditQueriesTests : IAsyncLifetime
{
    private static readonly DateTime Start = new(2026, 3, 1, 9, 0, 0, DateTimeKind.Utc);
    private TestDatabase _db = null!;
    private AuditQueries _queries = null!;
    private int _acme, _globex;

    public async Task InitializeAsync()
    {
        _db = await TestDatabase.CreateAsync();
        _queries = new AuditQueries(_db.CreateFactory());
        _acme = (await _db.AddOrganizationAsync("acme", "Acme Corp")).Id;
        _globex = (await _db.AddOrganizationAsync("globex", "Globex")).Id;
        await using var db = _db.CreateContext();
        // Avery renamed herself halfway: the actor filter offers her latest name.
        db.AuditEntries.AddRange(
            Entry(_acme, 0, "u-avery", "Avery Admin", "member.invited", "nina@acme.test"),
            Entry(_acme, 1, "u-jordan", "Jordan Lee", "cap.changed", "Nina New", "100", "50%_off"),
            Entry(_acme, 2, "u-avery", "Avery Stone", "alert.rule_changed", "Balance below 500"),
            Entry(_acme, 3, null, "Cassidy", "member.joined", "Nina New"),
            Entry(_acme, 4, "u-jordan", "Jordan Lee", "member.invited", "sam@acme.test"),
            Entry(_globex, 5, "u-other", "Other Person", "plan.changed", "Team → Business"));
        await db.SaveChangesAsync();
    }

    public async Task DisposeAsync() => await _db.DisposeAsync();

    private static AuditEntry Entry(int org, int hour, string? actorId, string actor, string action, string target, string? before = null, string? after = null) =>
        new() { OrganizationId = org, At = Start.AddHours(hour), ActorUserId = actorId, ActorName = actor, Action = action, Target = target, Before = before, After = after };

    [Fact]
    public async Task The_filters_offer_each_action_and_actor_of_the_organization_once()
    {
        Assert.Equal(["alert.rule_changed", "cap.changed", "member.invited", "member.joined"], await _queries.ActionsAsync(_acme));
        Assert.Equal([("u-avery", "Avery Stone"), ("u-jordan", "Jordan Lee")], await _queries.ActorsAsync(_acme));
        Assert.Equal([("u-other", "Other Person")], await _queries.ActorsAsync(_globex));
        Assert.Empty(await _queries.ActionsAsync(_acme + _globex + 1));
    }

    [Fact]
    public async Task Search_matches_actor_target_and_values_ignoring_case_and_taking_wildcards_literally()
    {
        async Task<List<string>> Targets(string search) =>
            (await _queries.SearchAsync(_acme, new AuditFilter(Search: search), 0, 25)).Rows.Select(r => r.Target).ToList();

        Assert.Equal(["Nina New", "Nina New", "nina@acme.test"], await Targets("NINA"));
        Assert.Equal(["sam@acme.test", "Nina New"], await Targets("jordan"));
        Assert.Equal(["Balance below 500"], await Targets("avery stone"));
        Assert.Equal(["Nina New"], await Targets("50%_"));
        Assert.Empty(await Targets("5%0"));
        Assert.Equal(["Team → Business"], (await _queries.SearchAsync(_globex, new AuditFilter(Search: "team"), 0, 25)).Rows.Select(r => r.Target));
    }

    [Fact]
    public async Task Pages_come_newest_first_or_oldest_first_with_the_total_of_every_match()
    {
        var newest = await _queries.SearchAsync(_acme, new AuditFilter(), page: 0, pageSize: 2);
        Assert.Equal(5, newest.Total);
        Assert.Equal(["sam@acme.test", "Nina New"], newest.Rows.Select(r => r.Target));

        var oldest = await _queries.SearchAsync(_acme, new AuditFilter(), page: 1, pageSize: 2, oldestFirst: true);
        Assert.Equal(5, oldest.Total);
        Assert.Equal(["Balance below 500", "Nina New"], oldest.Rows.Select(r => r.Target));

        var invited = await _queries.SearchAsync(_acme, new AuditFilter(Action: "member.invited", Search: "acme"), 0, 25, oldestFirst: true);
        Assert.Equal(2, invited.Total);
        Assert.Equal(["nina@acme.test", "sam@acme.test"], invited.Rows.Select(r => r.Target));
    }
}
