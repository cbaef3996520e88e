using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Cassidy.Portal.Data;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Organizations;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Cassidy.Portal.Tests.Api;

/// <summary>One portal (demo data on) with an ingest key, shared by the API tests; each test makes its own organization.</summary>
public sealed class ApiFixture : IAsyncLifetime
{
    public const string Key = "test-key-0123456789";
    public PortalFactory Factory { get; } = new PortalFactory().With("Ingest:ApiKeys:0", Key).With("Ingest:ApiKeys:1", "second-key");
    private int _orgs;

    public HttpClient Client(string? key = Key)
    {
        var client = Factory.CreateBrowserlessClient();
        if (key is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    public CreditLedger Ledger => Factory.Services.GetRequiredService<CreditLedger>();

    public Task<PortalDbContext> DbAsync() => Factory.Services.GetRequiredService<IDbContextFactory<PortalDbContext>>().CreateDbContextAsync();

    /// <summary>A fresh organization with an owner and members (emails user{n}@{slug}.test), plus optional caps.</summary>
    public async Task<(Organization Org, string[] Emails)> CreateOrgAsync(string plan = "Free", int members = 2, long? defaultCapCredits = null)
    {
        var slug = $"api-{Interlocked.Increment(ref _orgs)}-{Guid.NewGuid():N}"[..20];
        await using var scope = Factory.Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>();
        var emails = Enumerable.Range(0, members).Select(i => $"user{i}@{slug}.test").ToArray();
        var ids = new List<string>();
        foreach (var email in emails)
        {
            var user = new ApplicationUser { UserName = email, Email = email, EmailConfirmed = true, DisplayName = email };
            var result = await users.CreateAsync(user);
            Assert.True(result.Succeeded);
            ids.Add(user.Id);
        }
        var org = await scope.ServiceProvider.GetRequiredService<OrganizationSignup>().CreateForOwnerAsync(ids[0], slug, plan, slug: slug);
        await using (var db = await scope.ServiceProvider.GetRequiredService<IDbContextFactory<PortalDbContext>>().CreateDbContextAsync())
        {
            foreach (var id in ids.Skip(1)) db.Memberships.Add(new Membership { OrganizationId = org.Id, UserId = id, Role = OrganizationRole.Member });
            if (defaultCapCredits is { } cap)
                await db.Organizations.Where(o => o.Id == org.Id).ExecuteUpdateAsync(s => s.SetProperty(o => o.DefaultMemberCapMillicredits, cap * 1000));
            await db.SaveChangesAsync();
        }
        await Ledger.RefreshAsync(org.Id);
        return (org, emails);
    }

    public static object Call(string id, string org, string user, long input = 1000, string model = "gpt-4.1", DateTimeOffset? at = null,
        string? holdId = null) => new
    {
        id, organization = org, user, occurredAt = (at ?? DateTimeOffset.UtcNow).ToString("O"), feature = "agent_chat", model,
        inputTokens = input, outputTokens = 0, holdId,
    };

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    public async Task<JsonElement> PostEventsAsync(HttpClient client, params object[] events)
    {
        var response = await client.PostAsJsonAsync("/internal/v1/usage-events", new { events });
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        return await JsonAsync(response);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await Factory.DisposeAsync();
}
