using Cassidy.Portal.Data;
using Cassidy.Portal.Billing;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Notifications;
using Cassidy.Portal.Organizations;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Cassidy.Portal.Tests.Organizations;

public sealed class MemberManagementTests : IAsyncLifetime
{
    private TestDatabase _db = null!;
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 3, 10, 9, 0, 0, TimeSpan.Zero));
    private MemberManagement _members = null!;
    private CreditLedger _ledger = null!;
    private EmailOutbox _outbox = null!;
    private Organization _acme = null!;
    private ApplicationUser _owner = null!, _admin = null!, _member = null!;
    private AuditActor OwnerActor => new(_owner.Id, "Avery Admin");
    private AuditActor AdminActor => new(_admin.Id, "Jordan Lee");

    public async Task InitializeAsync()
    {
        _db = await TestDatabase.CreateAsync();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Plans:Free:Members"] = "3", ["Plans:Team:Members"] = "25", ["Portal:BaseUrl"] = "http://portal.test",
        }).Build();
        _ledger = LedgerHarness.NewLedger(_db, _clock);
        _outbox = new EmailOutbox(_clock, new Microsoft.AspNetCore.DataProtection.EphemeralDataProtectionProvider());
        _members = new MemberManagement(_db.CreateFactory(), configuration, _clock,
            _outbox, PlanCatalog.FromConfiguration(configuration), _ledger);
        _acme = await _db.AddOrganizationAsync("acme", "Acme Corp", "Team");
        _owner = await _db.AddUserAsync("admin@acme.test", "Avery Admin");
        _admin = await _db.AddUserAsync("jordan@acme.test", "Jordan Lee");
        _member = await _db.AddUserAsync("member@acme.test", "Morgan Member");
        await _db.AddMembershipAsync(_acme, _owner, OrganizationRole.Owner);
        await _db.AddMembershipAsync(_acme, _admin, OrganizationRole.Admin);
        await _db.AddMembershipAsync(_acme, _member, OrganizationRole.Member);
    }

    [Theory]
    [InlineData("", "Enter a valid email address.")]
    [InlineData("not-an-email", "Enter a valid email address.")]
    [InlineData("member@acme.test", "member@acme.test is already a member of Acme Corp.")]
    public async Task Invalid_invitations_are_refused_and_change_nothing(string email, string error)
    {
        var created = await _members.InviteAsync(_acme.Id, OwnerActor, email, OrganizationRole.Member);

        Assert.False(created.Result.Succeeded);
        Assert.Equal(error, created.Result.Error);
        Assert.Equal("email", created.Result.Field);
        await using var db = _db.CreateContext();
        Assert.Empty(db.Invitations);
        Assert.Empty(db.AuditEntries);
        Assert.Empty(db.OutboxMessages);
    }

    [Fact]
    public async Task An_invitation_link_registers_its_person_into_the_organization_once()
    {
        var created = await _members.InviteAsync(_acme.Id, AdminActor, "nina@newco.test", OrganizationRole.Member);
        Assert.True(created.Result.Succeeded);
        Assert.StartsWith("http://portal.test/invitations/", created.Link);
        var token = created.Link![(created.Link!.LastIndexOf('/') + 1)..];

        var view = await _members.FindInvitationAsync(token);
        Assert.Equal((InvitationState.Pending, "Acme Corp", "nina@newco.test"), (view.State, view.OrganizationName, view.Email));

        var nina = await _db.AddUserAsync("nina@newco.test", "Nina New");
        Assert.True((await _members.AcceptAsync(token, nina.Id)).Succeeded);

        await using var db = _db.CreateContext();
        var membership = await db.Memberships.SingleAsync(m => m.UserId == nina.Id);
        Assert.Equal((_acme.Id, OrganizationRole.Member), (membership.OrganizationId, membership.Role));
        Assert.Equal(InvitationState.Used, (await _members.FindInvitationAsync(token)).State);
        Assert.False((await _members.AcceptAsync(token, nina.Id)).Succeeded);
        Assert.Equal([AuditActions.MemberInvited, AuditActions.MemberJoined], await db.AuditEntries.OrderBy(a => a.Id).Select(a => a.Action).ToListAsync());
        var email = await db.OutboxMessages.SingleAsync();
        Assert.Equal(("nina@newco.test", "Jordan Lee invited you to Acme Corp on Cassidy"), (email.To, email.Subject));
        // The stored e-mail keeps the token only encrypted; it goes into the body as the e-mail is sent.
        Assert.DoesNotContain(token, email.TextBody + email.HtmlBody + email.Secret);
        Assert.Contains(created.Link!, _outbox.Reveal(email).Text);
        Assert.Contains(System.Net.WebUtility.HtmlEncode(created.Link!), _outbox.Reveal(email).Html);
    }

    [Fact]
    public async Task Only_the_invited_address_can_accept()
    {
        var created = await _members.InviteAsync(_acme.Id, AdminActor, "nina@newco.test", OrganizationRole.Admin);
        var token = created.Link![(created.Link!.LastIndexOf('/') + 1)..];
        var mallory = await _db.AddUserAsync("mallory@evil.test", "Mallory");

        var result = await _members.AcceptAsync(token, mallory.Id);

        Assert.Equal("This invitation was sent to nina@newco.test. Sign in with that address to accept it.", result.Error);
        await using var db = _db.CreateContext();
        Assert.False(await db.Memberships.AnyAsync(m => m.UserId == mallory.Id));
    }

    [Fact]
    public async Task Expired_revoked_and_replaced_links_stop_working()
    {
        var first = await _members.InviteAsync(_acme.Id, AdminActor, "a@newco.test", OrganizationRole.Member);
        var second = await _members.InviteAsync(_acme.Id, AdminActor, "b@newco.test", OrganizationRole.Member);
        var third = await _members.InviteAsync(_acme.Id, AdminActor, "c@newco.test", OrganizationRole.Member);
        string Token(CreatedInvitation c) => c.Link![(c.Link!.LastIndexOf('/') + 1)..];
        var pending = await _members.PendingInvitationsAsync(_acme.Id);

        Assert.True((await _members.RevokeAsync(_acme.Id, AdminActor, pending.Single(p => p.Email == "b@newco.test").Id)).Succeeded);
        var resent = await _members.ResendAsync(_acme.Id, AdminActor, pending.Single(p => p.Email == "c@newco.test").Id);
        Assert.Equal(InvitationState.Revoked, (await _members.FindInvitationAsync(Token(second))).State);
        Assert.Equal(InvitationState.Unknown, (await _members.FindInvitationAsync(Token(third))).State);
        Assert.Equal(InvitationState.Pending, (await _members.FindInvitationAsync(Token(resent))).State);

        _clock.Advance(MemberManagement.InvitationLifetime + TimeSpan.FromMinutes(1));
        Assert.Equal(InvitationState.Expired, (await _members.FindInvitationAsync(Token(first))).State);
        var late = await _db.AddUserAsync("a@newco.test", "Late");
        Assert.False((await _members.AcceptAsync(Token(first), late.Id)).Succeeded);
    }

    [Fact]
    public async Task The_plan_member_limit_counts_pending_invitations_and_says_how_to_get_more()
    {
        await using (var db = _db.CreateContext())
        {
            await db.Organizations.Where(o => o.Id == _acme.Id).ExecuteUpdateAsync(s => s.SetProperty(o => o.Plan, "Free"));
        }
        // 3 members on a 3-member plan: full.
        var created = await _members.InviteAsync(_acme.Id, OwnerActor, "one-too-many@newco.test", OrganizationRole.Member);

        Assert.False(created.Result.Succeeded);
        Assert.Equal("plan", created.Result.Field);
        Assert.Equal("The Free plan includes 3 members, and Acme Corp has 3 (counting pending invitations). Upgrade the plan to invite more.", created.Result.Error);
    }

    [Fact]
    public async Task The_last_owner_can_be_neither_demoted_nor_removed()
    {
        var demote = await _members.ChangeRoleAsync(_acme.Id, OwnerActor, _owner.Id, OrganizationRole.Admin);
        var remove = await _members.RemoveAsync(_acme.Id, OwnerActor, _owner.Id);

        Assert.Equal("Avery Admin is the last owner. Make someone else an owner first.", demote.Error);
        Assert.Equal("Avery Admin is the last owner and can't be removed.", remove.Error);
        await using var db = _db.CreateContext();
        Assert.Equal(OrganizationRole.Owner, (await db.Memberships.SingleAsync(m => m.UserId == _owner.Id)).Role);
        Assert.Empty(db.AuditEntries);
    }

    [Fact]
    public async Task Only_an_owner_grants_the_owner_role_and_then_the_first_owner_may_step_down()
    {
        Assert.Equal("Only an owner can grant or take away the Owner role.",
            (await _members.ChangeRoleAsync(_acme.Id, AdminActor, _member.Id, OrganizationRole.Owner)).Error);

        Assert.True((await _members.ChangeRoleAsync(_acme.Id, OwnerActor, _admin.Id, OrganizationRole.Owner)).Succeeded);
        Assert.True((await _members.ChangeRoleAsync(_acme.Id, OwnerActor, _owner.Id, OrganizationRole.Member)).Succeeded);

        await using var db = _db.CreateContext();
        var audit = await db.AuditEntries.OrderBy(a => a.Id).ToListAsync();
        Assert.Equal(2, audit.Count);
        Assert.Equal((AuditActions.MemberRoleChanged, "Jordan Lee <jordan@acme.test>", "Admin", "Owner"), (audit[0].Action, audit[0].Target, audit[0].Before, audit[0].After));
        Assert.Equal("Avery Admin", audit[1].ActorName);
    }

    [Fact]
    public async Task Removing_a_member_deletes_the_membership_and_audits_it()
    {
        Assert.True((await _members.RemoveAsync(_acme.Id, AdminActor, _member.Id)).Succeeded);

        await using var db = _db.CreateContext();
        Assert.False(await db.Memberships.AnyAsync(m => m.UserId == _member.Id));
        var entry = await db.AuditEntries.SingleAsync();
        Assert.Equal((AuditActions.MemberRemoved, "Jordan Lee", "Member", (string?)null), (entry.Action, entry.ActorName, entry.Before, entry.After));
    }

    [Fact]
    public async Task Members_list_pages_sorts_and_searches_on_the_server()
    {
        var (byEmail, total) = await _members.ListAsync(_acme.Id, null, nameof(MemberRow.Email), descending: true, page: 0, pageSize: 2);
        Assert.Equal(3, total);
        Assert.Equal(["member@acme.test", "jordan@acme.test"], byEmail.Select(r => r.Email));

        var (second, _) = await _members.ListAsync(_acme.Id, null, nameof(MemberRow.Email), descending: true, page: 1, pageSize: 2);
        Assert.Equal(["admin@acme.test"], second.Select(r => r.Email));

        var (found, count) = await _members.ListAsync(_acme.Id, "MORGAN", null, false, 0, 10);
        Assert.Equal(1, count);
        Assert.Equal("Morgan Member", Assert.Single(found).Name);
    }

    [Fact]
    public async Task Two_owners_demoting_each_other_at_the_same_moment_leave_one_owner()
    {
        Assert.True((await _members.ChangeRoleAsync(_acme.Id, OwnerActor, _admin.Id, OrganizationRole.Owner)).Succeeded);

        var results = await Task.WhenAll(
            Task.Run(() => _members.ChangeRoleAsync(_acme.Id, OwnerActor, _admin.Id, OrganizationRole.Admin)),
            Task.Run(() => _members.ChangeRoleAsync(_acme.Id, AdminActor, _owner.Id, OrganizationRole.Admin)));

        // Whichever comes second finds either no other owner left or that its actor is no longer an owner: refused either way.
        Assert.Single(results, r => r.Succeeded);
        Assert.Single(results, r => !r.Succeeded);
        await using var db = _db.CreateContext();
        Assert.Equal(1, await db.Memberships.CountAsync(m => m.OrganizationId == _acme.Id && m.Role == OrganizationRole.Owner));
    }

    [Fact]
    public async Task An_admin_sends_at_most_twenty_invitations_an_hour()
    {
        for (var i = 0; i < MemberManagement.InvitationsPerAdminPerHour; i++)
            Assert.True((await _members.InviteAsync(_acme.Id, AdminActor, $"person{i}@newco.test", OrganizationRole.Member)).Result.Succeeded);

        var refused = await _members.InviteAsync(_acme.Id, AdminActor, "one-more@newco.test", OrganizationRole.Member);

        Assert.Equal(("limit", false), (refused.Result.Field, refused.Result.Succeeded));
        Assert.Contains("20 invitations in the last hour", refused.Result.Error);
        var pending = await _members.PendingInvitationsAsync(_acme.Id);
        Assert.False((await _members.ResendAsync(_acme.Id, AdminActor, pending[0].Id)).Result.Succeeded); // resends count too
        Assert.True((await _members.InviteAsync(_acme.Id, OwnerActor, "one-more@newco.test", OrganizationRole.Member)).Result.Succeeded);
        _clock.Advance(TimeSpan.FromHours(1));
        Assert.True((await _members.InviteAsync(_acme.Id, AdminActor, "later@newco.test", OrganizationRole.Member)).Result.Succeeded);
    }

    [Fact]
    public async Task An_organization_sends_at_most_fifty_invitations_a_day_whoever_sends_them()
    {
        var invited = await _members.InviteAsync(_acme.Id, AdminActor, "nina@newco.test", OrganizationRole.Member);
        Assert.True(invited.Result.Succeeded);
        var pending = Assert.Single(await _members.PendingInvitationsAsync(_acme.Id));
        for (var sent = 1; sent < MemberManagement.InvitationsPerOrganizationPerDay; sent++)
        {
            if (sent % MemberManagement.InvitationsPerAdminPerHour == 0) _clock.Advance(TimeSpan.FromHours(1)); // within each admin's hourly limit
            Assert.True((await _members.ResendAsync(_acme.Id, AdminActor, pending.Id)).Result.Succeeded, $"send {sent + 1}");
        }

        var refused = await _members.InviteAsync(_acme.Id, OwnerActor, "one-more@newco.test", OrganizationRole.Member);

        Assert.Equal(("limit", false), (refused.Result.Field, refused.Result.Succeeded));
        Assert.Contains("50 invitations in the last 24 hours", refused.Result.Error);
        Assert.DoesNotContain(await _members.PendingInvitationsAsync(_acme.Id), i => i.Email == "one-more@newco.test");
        _clock.Advance(TimeSpan.FromDays(1));
        Assert.True((await _members.InviteAsync(_acme.Id, OwnerActor, "one-more@newco.test", OrganizationRole.Member)).Result.Succeeded);
    }

    [Fact]
    public async Task Resending_and_accepting_check_the_plans_member_limit()
    {
        var invited = await _members.InviteAsync(_acme.Id, OwnerActor, "nina@newco.test", OrganizationRole.Member);
        var pending = Assert.Single(await _members.PendingInvitationsAsync(_acme.Id));
        await using (var db = _db.CreateContext())
            await db.Organizations.Where(o => o.Id == _acme.Id).ExecuteUpdateAsync(s => s.SetProperty(o => o.Plan, "Free")); // 3 seats, 3 members

        var resend = await _members.ResendAsync(_acme.Id, OwnerActor, pending.Id);
        var nina = await _db.AddUserAsync("nina@newco.test", "Nina New");
        var link = invited.Link!;
        var accept = await _members.AcceptAsync(link[(link.LastIndexOf('/') + 1)..], nina.Id);

        Assert.Equal("plan", resend.Result.Field);
        Assert.Contains("as many members as its plan allows", accept.Error);
        await using var after = _db.CreateContext();
        Assert.False(await after.Memberships.AnyAsync(m => m.UserId == nina.Id));
    }

    public async Task DisposeAsync()
    {
        await _ledger.DisposeAsync();
        await _db.DisposeAsync();
    }
}
