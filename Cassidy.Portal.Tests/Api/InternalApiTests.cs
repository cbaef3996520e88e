using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Cassidy.Portal.Tests.Api;

/// <summary>Every rule of SPEC §4 over real HTTP against the in-process portal and a real SQLite file.</summary>
public sealed class InternalApiTests(ApiFixture fixture) : IClassFixture<ApiFixture>
{
    private static StringContent Body(string json, string type = "application/json") => new(json, Encoding.UTF8, type);

    [Fact]
    public async Task The_api_branch_answers_405_for_a_wrong_method_and_404_for_an_unknown_route()
    {
        var client = fixture.Client();
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await client.GetAsync("/internal/v1/usage-events")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/internal/v1/nothing-here")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/openapi/v1.json")).StatusCode);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-key")]
    [InlineData("test-key-0123456789x")]
    [InlineData("")]
    public async Task Without_a_valid_key_every_endpoint_answers_401_problem_json(string? key)
    {
        var client = fixture.Client(key);
        var responses = new[]
        {
            await client.PostAsync("/internal/v1/usage-events", Body("{\"events\":[]}")),
            await client.PostAsync("/internal/v1/authorize", Body("{}")),
            await client.DeleteAsync("/internal/v1/holds/hold_x"),
            await client.GetAsync("/internal/v1/organizations/acme/balance"),
        };
        foreach (var response in responses)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
    }

    [Fact]
    public async Task A_second_configured_key_works_cookies_do_not_open_the_api_and_keys_do_not_open_pages()
    {
        Assert.Equal(HttpStatusCode.OK, (await fixture.Client("second-key").GetAsync("/internal/v1/organizations/acme/balance")).StatusCode);
        var signedIn = await fixture.Factory.SignInAsync("admin@acme.test");
        Assert.Equal(HttpStatusCode.Unauthorized, (await signedIn.GetAsync("/internal/v1/organizations/acme/balance")).StatusCode);
        var page = await fixture.Client().GetAsync("/orgs/acme/settings");
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.Contains("/Account/Login", page.Headers.Location!.ToString());
    }

    [Theory]
    [InlineData("not json at all", "body")]
    [InlineData("{\"events\": [", "body")]
    [InlineData("{}", "events")]
    [InlineData("{\"events\": null}", "events")]
    [InlineData("{\"events\": {}}", "events")]
    [InlineData("{\"events\": []}", "events")]
    [InlineData("[1,2]", "events")]
    public async Task Bad_bodies_are_400_problems_naming_the_field(string json, string field)
    {
        var response = await fixture.Client().PostAsync("/internal/v1/usage-events", Body(json, "text/plain"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True((await ApiFixture.JsonAsync(response)).GetProperty("errors").TryGetProperty(field, out _));
    }

    [Fact]
    public async Task More_than_1000_events_is_a_400_and_records_nothing()
    {
        var (org, emails) = await fixture.CreateOrgAsync();
        var events = Enumerable.Range(0, 1001).Select(i => ApiFixture.Call($"e{i}", org.Slug, emails[0])).ToArray();
        var response = await fixture.Client().PostAsJsonAsync("/internal/v1/usage-events", new { events });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await ApiFixture.JsonAsync(response)).GetProperty("errors").TryGetProperty("events", out _));
        Assert.Equal(0, (await fixture.Ledger.GetBalanceAsync(org.Id))!.Used);
    }

    [Fact]
    public async Task A_mixed_batch_records_the_good_events_and_rejects_each_bad_one_with_its_code()
    {
        var (org, emails) = await fixture.CreateOrgAsync("Team");
        var user = emails[1];
        var client = fixture.Client();
        var now = DateTimeOffset.UtcNow;
        await fixture.PostEventsAsync(client, ApiFixture.Call("taken", org.Slug, user, at: now));
        var events = new object[]
        {
            new { id = "spec", organization = org.Slug, user, occurredAt = now.ToString("O"), feature = "agent_chat", model = "gpt-4.1",
                  inputTokens = 1200, knowledgeTokens = 800, outputTokens = 300, capabilities = new[] { "web_search" } },
            ApiFixture.Call("taken", org.Slug, user, at: now),                          // duplicate
            ApiFixture.Call("taken", org.Slug, user, input: 999, at: now),              // conflict
            ApiFixture.Call("m1", org.Slug, user, model: "gpt-99"),                     // unknown_model
            new { id = "c1", organization = org.Slug, user, occurredAt = now.ToString("O"), feature = "agent_chat", model = "gpt-4.1",
                  inputTokens = 1, outputTokens = 1, capabilities = new[] { "teleport" } }, // unknown_capability
            ApiFixture.Call("o1", "no-such-org", user),                                 // unknown_organization
            ApiFixture.Call("u1", org.Slug, "stranger@nowhere.test"),                   // unknown_member
            ApiFixture.Call("f1", org.Slug, user, at: now.AddMinutes(10)),              // validation: future
            new { id = "t1", organization = org.Slug, user, occurredAt = "2026-01-01T10:00:00", feature = "agent_chat", model = "gpt-4.1", inputTokens = 1, outputTokens = 1 },
            new { id = "n1", organization = org.Slug, user, occurredAt = now.ToString("O"), feature = "agent_chat", model = "gpt-4.1", inputTokens = -5, outputTokens = 1 },
            new { id = "s1", organization = org.Slug, user, occurredAt = now.ToString("O"), feature = "agent_chat", model = "gpt-4.1", inputTokens = "many", outputTokens = 1 },
            new { id = "x1", type = "telepathy", organization = org.Slug, user, occurredAt = now.ToString("O") },
            new { id = new string('x', 129), organization = org.Slug, user, occurredAt = now.ToString("O"), feature = "agent_chat", model = "gpt-4.1", inputTokens = 1, outputTokens = 1 },
            new { id = "w1", organization = org.Slug, user, occurredAt = now.ToString("O"), feature = "chat", model = "gpt-4.1", inputTokens = 1, outputTokens = 1 },
            new { id = "meet", type = "meeting", organization = org.Slug, user, occurredAt = now.ToString("O"), minutes = 45.5 },
            new { id = "disk", type = "storage", organization = org.Slug, occurredAt = now.ToString("O"), bytes = 123456789 },
        };
        var body = await fixture.PostEventsAsync(client, events);

        var results = body.GetProperty("results").EnumerateArray().ToList();
        string?[] expectedErrors = [null, null, "conflict", "unknown_model", "unknown_capability", "unknown_organization", "unknown_member",
            "validation", "validation", "validation", "validation", "validation", "validation", "validation", null, null];
        Assert.Equal(expectedErrors, results.Select(r => r.GetProperty("error").GetString()));
        Assert.Equal(["recorded", "duplicate"], results.Take(2).Select(r => r.GetProperty("status").GetString()));
        Assert.Equal(8.4m, results[0].GetProperty("credits").GetDecimal());
        Assert.Equal(2m, results[1].GetProperty("credits").GetDecimal());
        Assert.Equal(JsonValueKind.Null, results[2].GetProperty("credits").ValueKind);
        Assert.Equal((3, 1, 12), (body.GetProperty("recorded").GetInt32(), body.GetProperty("duplicates").GetInt32(), body.GetProperty("rejected").GetInt32()));
        Assert.Equal(["id", "status", "credits", "error"], results[0].EnumerateObject().Select(p => p.Name));
        Assert.True((await fixture.Ledger.FullCheckAsync(org.Id)).Ok);
        Assert.Equal(10_400, (await fixture.Ledger.GetBalanceAsync(org.Id))!.Used);
    }

    [Fact]
    public async Task Sixteen_parallel_clients_replaying_the_same_1000_events_charge_exactly_1000()
    {
        var (org, emails) = await fixture.CreateOrgAsync("Business", members: 4);
        var at = DateTimeOffset.UtcNow.AddMinutes(-1);
        var events = Enumerable.Range(0, 1000).Select(i => ApiFixture.Call($"evt-{i}", org.Slug, emails[i % 4], input: 100 + i, at: at)).ToArray();
        var bodies = await Task.WhenAll(Enumerable.Range(0, 16).Select(async client =>
        {
            var http = fixture.Client();
            var order = events.Skip(client * 61 % 1000).Concat(events.Take(client * 61 % 1000)).ToArray(); // different orders
            var total = new List<JsonElement>();
            foreach (var chunk in order.Chunk(250)) total.Add(await fixture.PostEventsAsync(http, chunk));
            return total;
        }));
        var recorded = bodies.SelectMany(b => b).Sum(b => b.GetProperty("recorded").GetInt32());
        var duplicates = bodies.SelectMany(b => b).Sum(b => b.GetProperty("duplicates").GetInt32());
        Assert.Equal((1000, 15_000), (recorded, duplicates));

        var expected = Enumerable.Range(0, 1000).Sum(i => (long)(100 + i) * 2);
        var check = await fixture.Ledger.FullCheckAsync(org.Id);
        Assert.True(check.Ok, check.ToString());
        Assert.Equal(expected, check.UsageLedgerSum);
        await using var db = await fixture.Factory.Services.GetRequiredService<IDbContextFactory<Portal.Data.PortalDbContext>>().CreateDbContextAsync();
        Assert.Equal(1000, await db.UsageEvents.CountAsync(e => e.OrganizationId == org.Id));
        Assert.Equal(1000, await db.LedgerEntries.CountAsync(e => e.OrganizationId == org.Id && e.Kind == "usage"));
    }

    [Fact]
    public async Task Concurrent_holds_never_exceed_what_is_left()
    {
        var (org, emails) = await fixture.CreateOrgAsync("Free", members: 5); // 1,000 credits
        var client = fixture.Client();
        // Each hold: 50,000 gpt-4.1 input tokens = 100 credits; 40 concurrent requests, only 10 fit.
        var answers = await Task.WhenAll(Enumerable.Range(0, 40).Select(async i =>
        {
            var response = await client.PostAsJsonAsync("/internal/v1/authorize", new
            {
                organization = org.Slug, user = emails[i % 5], feature = "agent_chat", model = "gpt-4.1", maxInputTokens = 50_000, maxOutputTokens = 0,
            });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return await ApiFixture.JsonAsync(response);
        }));
        var allowed = answers.Where(a => a.GetProperty("allowed").GetBoolean()).ToList();
        Assert.Equal(10, allowed.Count);
        Assert.All(allowed, a => Assert.Equal(100m, a.GetProperty("heldCredits").GetDecimal()));
        Assert.All(answers.Where(a => !a.GetProperty("allowed").GetBoolean()), a =>
        {
            Assert.Equal("organization_out_of_credits", a.GetProperty("reason").GetString());
            Assert.Equal(JsonValueKind.Null, a.GetProperty("holdId").ValueKind);
        });
        Assert.Equal(1000 * 1000, (await fixture.Ledger.GetBalanceAsync(org.Id))!.Held);

        // Release one, settle one above its estimate: the credits follow.
        var release = await client.DeleteAsync($"/internal/v1/holds/{allowed[0].GetProperty("holdId").GetString()}");
        Assert.Equal(HttpStatusCode.NoContent, release.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.DeleteAsync($"/internal/v1/holds/{allowed[0].GetProperty("holdId").GetString()}")).StatusCode);
        await fixture.PostEventsAsync(client, ApiFixture.Call("settle", org.Slug, emails[1], input: 60_000, holdId: allowed[1].GetProperty("holdId").GetString()));
        var balance = (await fixture.Ledger.GetBalanceAsync(org.Id))!;
        Assert.Equal((880_000L, 800_000L), (balance.Balance, balance.Held));
    }

    [Fact]
    public async Task Authorize_refuses_at_zero_balance_and_at_the_member_cap_and_answers_404_for_strangers()
    {
        var (org, emails) = await fixture.CreateOrgAsync("Free", members: 3, defaultCapCredits: 400);
        var client = fixture.Client();
        async Task<JsonElement> Authorize(string user)
        {
            var response = await client.PostAsJsonAsync("/internal/v1/authorize", new { organization = org.Slug, user, feature = "workflow_run" });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return await ApiFixture.JsonAsync(response);
        }
        var fresh = await Authorize(emails[1]);
        Assert.Equal(["allowed", "reason", "balance", "available", "memberUsed", "memberCap", "resetsAt", "holdId", "heldCredits"],
            fresh.EnumerateObject().Select(p => p.Name));
        Assert.Equal((true, "ok", 1000m, 400m), (fresh.GetProperty("allowed").GetBoolean(), fresh.GetProperty("reason").GetString(),
            fresh.GetProperty("balance").GetDecimal(), fresh.GetProperty("memberCap").GetDecimal()));

        await fixture.PostEventsAsync(client, ApiFixture.Call("cap", org.Slug, emails[1], input: 200_000)); // 400 credits: at the cap
        var capped = await Authorize(emails[1]);
        Assert.Equal((false, "member_limit_reached", 400m), (capped.GetProperty("allowed").GetBoolean(), capped.GetProperty("reason").GetString(), capped.GetProperty("memberUsed").GetDecimal()));

        await fixture.PostEventsAsync(client, ApiFixture.Call("rest", org.Slug, emails[2], input: 300_000)); // 600 credits: balance exactly 0
        var broke = await Authorize(emails[0]);
        Assert.Equal((false, "organization_out_of_credits", 0m), (broke.GetProperty("allowed").GetBoolean(), broke.GetProperty("reason").GetString(), broke.GetProperty("balance").GetDecimal()));

        var strangers = new[]
        {
            await client.PostAsJsonAsync("/internal/v1/authorize", new { organization = "no-such-org", user = emails[0], feature = "agent_chat" }),
            await client.PostAsJsonAsync("/internal/v1/authorize", new { organization = org.Slug, user = "nobody@x.test", feature = "agent_chat" }),
            await client.PostAsJsonAsync("/internal/v1/authorize", new { organization = "acme", user = emails[0], feature = "agent_chat" }),
            await client.GetAsync("/internal/v1/organizations/no-such-org/balance"),
        };
        Assert.All(strangers, r => Assert.Equal(HttpStatusCode.NotFound, r.StatusCode));
        Assert.All(strangers, r => Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType));
    }

    [Fact]
    public async Task Authorize_validates_its_body()
    {
        var client = fixture.Client();
        var missing = await client.PostAsync("/internal/v1/authorize", Body("{\"feature\":\"dance\"}"));
        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        var errors = (await ApiFixture.JsonAsync(missing)).GetProperty("errors");
        Assert.True(errors.TryGetProperty("organization", out _) && errors.TryGetProperty("user", out _) && errors.TryGetProperty("feature", out _));

        var wrongType = await client.PostAsync("/internal/v1/authorize", Body("{\"organization\":\"acme\",\"user\":\"member@acme.test\",\"feature\":\"agent_chat\",\"model\":\"gpt-4.1\",\"maxInputTokens\":\"lots\"}"));
        Assert.Equal(HttpStatusCode.BadRequest, wrongType.StatusCode);
        Assert.True((await ApiFixture.JsonAsync(wrongType)).GetProperty("errors").TryGetProperty("maxInputTokens", out _));

        var unknownModel = await client.PostAsJsonAsync("/internal/v1/authorize", new { organization = "acme", user = "member@acme.test", feature = "agent_chat", model = "gpt-0", maxInputTokens = 5 });
        Assert.Equal(HttpStatusCode.BadRequest, unknownModel.StatusCode);
        Assert.True((await ApiFixture.JsonAsync(unknownModel)).GetProperty("errors").TryGetProperty("model", out _));

        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync("/internal/v1/authorize", Body("nope"))).StatusCode);
    }

    [Fact]
    public async Task The_balance_endpoint_shows_plan_period_allowance_and_usage()
    {
        var (org, emails) = await fixture.CreateOrgAsync("Team");
        var client = fixture.Client();
        await fixture.PostEventsAsync(client, ApiFixture.Call("b1", org.Slug, emails[0], input: 1500));
        var body = await ApiFixture.JsonAsync(await client.GetAsync($"/internal/v1/organizations/{org.Slug}/balance"));
        Assert.Equal(["balance", "plan", "periodStart", "periodEnd", "allowance", "used"], body.EnumerateObject().Select(p => p.Name));
        Assert.Equal((19_997m, "Team", 20_000m, 3m), (body.GetProperty("balance").GetDecimal(), body.GetProperty("plan").GetString(),
            body.GetProperty("allowance").GetDecimal(), body.GetProperty("used").GetDecimal()));
        Assert.True(body.GetProperty("periodEnd").GetDateTime() > body.GetProperty("periodStart").GetDateTime());
    }

    [Fact]
    public async Task The_openapi_document_describes_the_internal_api_with_schemas()
    {
        var response = await fixture.Factory.CreateClient().GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var doc = await ApiFixture.JsonAsync(response);
        var paths = doc.GetProperty("paths");
        foreach (var path in new[] { "/internal/v1/usage-events", "/internal/v1/authorize", "/internal/v1/holds/{holdId}", "/internal/v1/organizations/{slug}/balance" })
            Assert.True(paths.TryGetProperty(path, out _), path);
        var schemas = doc.GetProperty("components").GetProperty("schemas");
        foreach (var schema in new[] { "UsageEventsResponse", "UsageEventResultDto", "AuthorizeResponse", "BalanceResponse" })
            Assert.True(schemas.TryGetProperty(schema, out _), schema);
        var eventSchema = paths.GetProperty("/internal/v1/usage-events").GetProperty("post").GetProperty("requestBody")
            .GetProperty("content").GetProperty("application/json").GetProperty("schema").GetProperty("properties")
            .GetProperty("events").GetProperty("items");
        Assert.Equal(["id", "organization", "occurredAt"], eventSchema.GetProperty("required").EnumerateArray().Select(r => r.GetString()));
        Assert.True(eventSchema.GetProperty("properties").TryGetProperty("knowledgeTokens", out _));
    }
}

/// <summary>A portal whose key may make 3 requests per second.</summary>
public sealed class RateLimitTests : IAsyncLifetime
{
    private readonly PortalFactory _factory = new PortalFactory().With("Ingest:ApiKeys:0", "k").With("Ingest:RateLimitPerSecond", "3").With("Demo:Enabled", "false");

    [Fact]
    public async Task Requests_beyond_the_limit_get_429_with_Retry_After()
    {
        var client = _factory.CreateBrowserlessClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", "k");
        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? limited = null;
        for (var i = 0; i < 6 && limited is null; i++)
        {
            var response = await client.GetAsync("/internal/v1/organizations/nothing/balance");
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests) limited = response;
        }
        Assert.NotNull(limited);
        Assert.Contains(HttpStatusCode.NotFound, statuses);
        Assert.True(int.Parse(limited.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.Equal("application/problem+json", limited.Content.Headers.ContentType?.MediaType);
    }

    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() => await _factory.DisposeAsync();
}
