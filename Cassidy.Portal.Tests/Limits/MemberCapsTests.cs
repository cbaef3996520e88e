using Cassidy.Portal.Data;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Limits;
using Microsoft.EntityFrameworkCore;

using Cassidy.Portal.Tests.Infrastructure;

namespace Cassidy.Portal.Tests.Limits;

/// <summary>Per-user credit limits on the real engine: default, override, unlimited, the boundary, concurrency, audit.</summary>
public sealed class MemberCapsTests : IAsyncLifetime
{
    private AlertHarness _h = null!;

    public async Task InitializeAsync() => _h = await AlertHarness.CreateAsync();
    public async Task DisposeAsync() => await _h.DisposeAsync();

    private string Bob => _h.Ledger.Bob.Id;
    private string Alice => _h.Ledger.Alice.Id;

    [Theory]
    [InlineData("1500", 1_500_000L)]
    [InlineData("1,500", 1_500_000L)]
    [InlineData("12.5", 12_500L)]
    [InlineData("0.001", 1L)]
    [InlineData("0", 0L)]
    [InlineData("100000000", 100_000_000_000L)]
    public void Credits_parse_to_millicredits(string text, long expected) =>
        Assert.Equal((expected, (string?)null), MemberCaps.ParseCredits(text));

    [Theory]
    [InlineData("", "Enter a number of credits, like 1500 or 12.5.")]
    [InlineData("abc", "Enter a number of credits, like 1500 or 12.5.")]
    [InlineData("-1", "A limit can't be negative. Use 0 to block the member.")]
    [InlineData("1.0005", "Use at most 3 decimals (1 credit = 1000 millicredits).")]
    [InlineData("100000000.001", "A limit can be at most 100,000,000 credits. Choose Unlimited for no limit.")]
    public void Bad_credits_get_a_clear_message(string text, string message) =>
        Assert.Equal(message, MemberCaps.ParseCredits(text).Error);

    [Fact]
    public async Task Default_override_and_unlimited_caps_are_enforced_at_the_boundary_as_soon_as_they_are_saved()
    {
        Assert.True((await _h.Caps.SetDefaultAsync(_h.OrgId, AlertHarness.Admin, 100_000, 0)).Succeeded);
        await _h.SpendAsync("b1", 99, "bob@test.test");
        var before = await _h.AuthorizeAsync("bob@test.test");
        Assert.True(before.Allowed);
        Assert.Equal(100_000, before.MemberCap);

        await _h.SpendAsync("b2", 1, "bob@test.test"); // exactly at the cap
        var atCap = await _h.AuthorizeAsync("bob@test.test");
        Assert.False(atCap.Allowed);
        Assert.Equal(AuthorizeReasons.MemberLimitReached, atCap.Reason);
        Assert.Equal(100_000, atCap.MemberUsed);
        Assert.True((await _h.AuthorizeAsync("alice@test.test")).Allowed); // the org still has credits; alice used nothing

        // An override just above the usage lets Bob in again, at once.
        Assert.True((await _h.Caps.SetMemberCapsAsync(_h.OrgId, AlertHarness.Admin, [new(Bob, 0)], MemberCapMode.Custom, 100_001)).Succeeded);
        Assert.True((await _h.AuthorizeAsync("bob@test.test")).Allowed);

        // Explicitly unlimited beats the default.
        Assert.True((await _h.Caps.SetMemberCapsAsync(_h.OrgId, AlertHarness.Admin, [new(Bob, 1)], MemberCapMode.Unlimited, null)).Succeeded);
        await _h.SpendAsync("b3", 500, "bob@test.test");
        var unlimited = await _h.AuthorizeAsync("bob@test.test");
        Assert.True(unlimited.Allowed);
        Assert.Null(unlimited.MemberCap);

        // Back to the default: over it, so refused; an unlimited default lets everyone in.
        Assert.True((await _h.Caps.SetMemberCapsAsync(_h.OrgId, AlertHarness.Admin, [new(Bob, 2)], MemberCapMode.Default, null)).Succeeded);
        Assert.Equal(AuthorizeReasons.MemberLimitReached, (await _h.AuthorizeAsync("bob@test.test")).Reason);
        Assert.True((await _h.Caps.SetDefaultAsync(_h.OrgId, AlertHarness.Admin, null, 1)).Succeeded);
        Assert.True((await _h.AuthorizeAsync("bob@test.test")).Allowed);

        var view = await _h.Caps.LoadAsync(_h.OrgId);
        var bob = view.Members.Single(m => m.UserId == Bob);
        Assert.Equal(600_000, bob.Used);
        Assert.Null(bob.EffectiveCap);
        Assert.Equal(MemberCapStatus.Unlimited, bob.Status);
    }

    [Fact]
    public async Task The_second_of_two_admins_saving_the_same_cap_is_refused_and_nothing_is_overwritten()
    {
        var seen = await _h.Caps.LoadAsync(_h.OrgId); // both admins opened the page
        var version = seen.Members.Single(m => m.UserId == Bob).Version;

        var first = await _h.Caps.SetMemberCapsAsync(_h.OrgId, AlertHarness.Admin, [new(Bob, version)], MemberCapMode.Custom, 300_000);
        var second = await _h.Caps.SetMemberCapsAsync(_h.OrgId, new("other", "Jordan Lee"), [new(Bob, version)], MemberCapMode.Custom, 900_000);

        Assert.True(first.Succeeded);
        Assert.False(second.Succeeded);
        Assert.Equal(MemberCaps.ConflictMessage, second.Error);
        var bob = (await _h.Caps.LoadAsync(_h.OrgId)).Members.Single(m => m.UserId == Bob);
        Assert.Equal(300_000, bob.CustomCap);

        // The same for the organization's default.
        Assert.True((await _h.Caps.SetDefaultAsync(_h.OrgId, AlertHarness.Admin, 50_000, seen.DefaultVersion)).Succeeded);
        var late = await _h.Caps.SetDefaultAsync(_h.OrgId, new("other", "Jordan Lee"), 70_000, seen.DefaultVersion);
        Assert.Equal(MemberCaps.ConflictMessage, late.Error);
        Assert.Equal(50_000, (await _h.Caps.LoadAsync(_h.OrgId)).DefaultCap);
    }

    [Fact]
    public async Task A_bulk_change_applies_to_every_selected_member_or_to_none_and_every_change_is_audited()
    {
        var view = await _h.Caps.LoadAsync(_h.OrgId);
        var edits = view.Members.Select(m => new MemberCapEdit(m.UserId, m.Version)).ToList();
        Assert.True((await _h.Caps.SetMemberCapsAsync(_h.OrgId, AlertHarness.Admin, edits, MemberCapMode.Custom, 2_500)).Succeeded);

        // A stale version for one of them refuses the whole batch.
        var stale = new List<MemberCapEdit> { new(Alice, await _h.VersionOfAsync(Alice)), new(Bob, 0) };
        var refused = await _h.Caps.SetMemberCapsAsync(_h.OrgId, AlertHarness.Admin, stale, MemberCapMode.Unlimited, null);
        Assert.Equal(MemberCaps.ConflictMessage, refused.Error);
        Assert.All((await _h.Caps.LoadAsync(_h.OrgId)).Members, m => Assert.Equal(2_500, m.EffectiveCap));

        await using var db = _h.Ledger.Db.CreateContext();
        var audit = await db.AuditEntries.Where(a => a.Action == Cassidy.Portal.Organizations.AuditActions.MemberCapChanged).OrderBy(a => a.Id).ToListAsync();
        Assert.Equal(2, audit.Count);
        Assert.All(audit, a =>
        {
            Assert.Equal("Avery Admin", a.ActorName);
            Assert.Equal("default (unlimited)", a.Before);
            Assert.Equal("2.5 credits", a.After);
        });
        Assert.Contains(audit, a => a.Target == "Bob <bob@test.test>");
    }
}
