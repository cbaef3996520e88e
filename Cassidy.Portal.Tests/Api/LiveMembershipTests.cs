using System.Net;
using System.Net.Http.Json;
using System.Text;
using Cassidy.Portal.Data;
using Cassidy.Portal.Organizations;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Cassidy.Portal.Tests.Api;

/// <summary>
/// SPEC §6 "membership is live", through the internal API as the AI runtime sees it: a change an admin or a person makes
/// takes effect in authorize and ingest as soon as it is made, with nothing reloaded on the runtime's behalf.
/// </summary>
public sealed class LiveMembershipTests(ApiFixture fixture) : IClassFixture<ApiFixture>
{
    private static object Authorize(string org, string user) => new { organization = org, user, feature = "agent_chat" };

    private async Task<HttpStatusCode> AuthorizeAsync(HttpClient client, string org, string user) =>
        (await client.PostAsJsonAsync("/internal/v1/authorize", Authorize(org, user))).StatusCode;

    [Fact]
    public async Task A_removed_member_is_refused_by_authorize_and_ingest_at_once()
    {
        var (org, emails) = await fixture.CreateOrgAsync(members: 3);
        var client = fixture.Client();
        Assert.Equal(HttpStatusCode.OK, await AuthorizeAsync(client, org.Slug, emails[2]));

        await using (var scope = fixture.Factory.Services.CreateAsyncScope())
        {
            var db = await scope.ServiceProvider.GetRequiredService<IDbContextFactory<PortalDbContext>>().CreateDbContextAsync();
            var leaving = await db.Users.SingleAsync(u => u.Email == emails[2]);
            var owner = await db.Users.SingleAsync(u => u.Email == emails[0]);
            var removed = await scope.ServiceProvider.GetRequiredService<MemberManagement>().RemoveAsync(org.Id, new AuditActor(owner.Id, "Owner"), leaving.Id);
            Assert.True(removed.Succeeded, removed.Error);
        }

        Assert.Equal(HttpStatusCode.NotFound, await AuthorizeAsync(client, org.Slug, emails[2]));
        var result = (await fixture.PostEventsAsync(client, ApiFixture.Call("after-removal", org.Slug, emails[2]))).GetProperty("results")[0];
        Assert.Equal(("rejected", "unknown_member"), (result.GetProperty("status").GetString(), result.GetProperty("error").GetString()));
        Assert.Equal(HttpStatusCode.OK, await AuthorizeAsync(client, org.Slug, emails[1])); // the others carry on
    }

    [Fact]
    public async Task A_changed_email_works_at_once_and_the_old_one_stops_working()
    {
        var (org, emails) = await fixture.CreateOrgAsync(members: 2);
        var client = fixture.Client();
        Assert.Equal(HttpStatusCode.OK, await AuthorizeAsync(client, org.Slug, emails[1]));
        var renamed = "renamed-" + emails[1];

        await using (var scope = fixture.Factory.Services.CreateAsyncScope())
        {
            var users = scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>();
            var user = (await users.FindByEmailAsync(emails[1]))!;
            var token = await users.GenerateChangeEmailTokenAsync(user, renamed);
            // What the confirmation link of Manage → Email does.
            Assert.True((await scope.ServiceProvider.GetRequiredService<AccountChanges>().ChangeEmailAsync(user, renamed, token)).Succeeded);
        }

        Assert.Equal(HttpStatusCode.NotFound, await AuthorizeAsync(client, org.Slug, emails[1]));
        Assert.Equal(HttpStatusCode.OK, await AuthorizeAsync(client, org.Slug, renamed));
        var results = (await fixture.PostEventsAsync(client, ApiFixture.Call("old-address", org.Slug, emails[1]),
            ApiFixture.Call("new-address", org.Slug, renamed))).GetProperty("results");
        Assert.Equal("unknown_member", results[0].GetProperty("error").GetString());
        Assert.Equal("recorded", results[1].GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_deleted_account_is_refused_at_once()
    {
        var (org, emails) = await fixture.CreateOrgAsync(members: 2);
        var client = fixture.Client();
        Assert.Equal(HttpStatusCode.OK, await AuthorizeAsync(client, org.Slug, emails[1]));

        await using (var scope = fixture.Factory.Services.CreateAsyncScope())
        {
            var user = (await scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>().FindByEmailAsync(emails[1]))!;
            Assert.True((await scope.ServiceProvider.GetRequiredService<AccountChanges>().DeleteAsync(user)).Succeeded);
        }

        Assert.Equal(HttpStatusCode.NotFound, await AuthorizeAsync(client, org.Slug, emails[1]));
    }

    [Fact]
    public async Task Two_owners_deleting_their_accounts_at_the_same_moment_leave_one_owner()
    {
        var (org, emails) = await fixture.CreateOrgAsync(members: 2);
        await using (var db = await fixture.DbAsync())
            await db.Memberships.Where(m => m.OrganizationId == org.Id).ExecuteUpdateAsync(s => s.SetProperty(m => m.Role, OrganizationRole.Owner));

        // Both accounts and their services ready first, then both deletions let go at once.
        var scopes = emails.Select(_ => fixture.Factory.Services.CreateAsyncScope()).ToList();
        var users = await Task.WhenAll(scopes.Select((scope, i) => scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>().FindByEmailAsync(emails[i])));
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var deletions = scopes.Select((scope, i) => Task.Run(async () =>
        {
            await start.Task;
            return await scope.ServiceProvider.GetRequiredService<AccountChanges>().DeleteAsync(users[i]!);
        })).ToList();
        start.SetResult();
        var results = await Task.WhenAll(deletions);
        foreach (var scope in scopes) await scope.DisposeAsync();

        Assert.Single(results, r => r.Succeeded);
        await using var after = await fixture.DbAsync();
        var owners = await after.Memberships.Where(m => m.OrganizationId == org.Id && m.Role == OrganizationRole.Owner).ToListAsync();
        Assert.Single(owners);
        Assert.True(await after.Users.AnyAsync(u => u.Id == owners[0].UserId));
    }

    [Fact]
    public async Task The_last_owner_cannot_delete_their_account()
    {
        var (org, emails) = await fixture.CreateOrgAsync(members: 2);
        await using var scope = fixture.Factory.Services.CreateAsyncScope();
        var owner = (await scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>().FindByEmailAsync(emails[0]))!;

        var result = await scope.ServiceProvider.GetRequiredService<AccountChanges>().DeleteAsync(owner);

        Assert.False(result.Succeeded);
        Assert.Contains($"You are the last owner of {org.Name}", Assert.Single(result.Errors).Description);
        Assert.NotNull(await scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>().FindByEmailAsync(emails[0]));
        Assert.Equal(HttpStatusCode.OK, await AuthorizeAsync(fixture.Client(), org.Slug, emails[0]));
    }

    [Fact]
    public async Task An_invited_person_is_authorized_as_soon_as_they_join()
    {
        var (org, emails) = await fixture.CreateOrgAsync(plan: "Team", members: 1);
        var client = fixture.Client();
        var newcomer = $"newcomer@{org.Slug}.test";
        await using (var scope = fixture.Factory.Services.CreateAsyncScope())
        {
            var users = scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>();
            var person = new ApplicationUser { UserName = newcomer, Email = newcomer, DisplayName = "Newcomer" };
            Assert.True((await users.CreateAsync(person)).Succeeded);
            var owner = (await users.FindByEmailAsync(emails[0]))!;
            var members = scope.ServiceProvider.GetRequiredService<MemberManagement>();
            var invited = await members.InviteAsync(org.Id, new AuditActor(owner.Id, "Owner"), newcomer, OrganizationRole.Member);
            Assert.Equal(HttpStatusCode.NotFound, await AuthorizeAsync(client, org.Slug, newcomer));
            var link = invited.Link!;
            Assert.True((await members.AcceptAsync(link[(link.LastIndexOf('/') + 1)..], person.Id)).Succeeded);
        }

        Assert.Equal(HttpStatusCode.OK, await AuthorizeAsync(client, org.Slug, newcomer));
    }

    [Fact]
    public async Task An_empty_event_id_is_a_validation_error_and_records_nothing()
    {
        var (org, emails) = await fixture.CreateOrgAsync();
        var client = fixture.Client();
        var json = $$"""{"events":[{"id":"","organization":"{{org.Slug}}","user":"{{emails[0]}}","occurredAt":"{{DateTimeOffset.UtcNow:O}}","feature":"agent_chat","model":"gpt-4.1","inputTokens":10,"outputTokens":0}]}""";

        var response = await client.PostAsync("/internal/v1/usage-events", new StringContent(json, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await ApiFixture.JsonAsync(response);
        var result = body.GetProperty("results")[0];
        Assert.Equal(("rejected", "validation"), (result.GetProperty("status").GetString(), result.GetProperty("error").GetString()));
        Assert.Equal(0, body.GetProperty("recorded").GetInt32());
        await using var scope = fixture.Factory.Services.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IDbContextFactory<PortalDbContext>>().CreateDbContextAsync();
        Assert.False(await db.UsageEvents.AnyAsync(e => e.OrganizationId == org.Id));
    }
}
