using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using Cassidy.Portal.Data;
using Cassidy.Portal.Organizations;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components.Endpoints;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;
using Cassidy.Portal.Security;

namespace Cassidy.Portal.Tests.Security;

/// <summary>
/// Every route the app maps, read from its endpoint data source (so a new page or API is swept without touching this
/// file): organization routes are closed to strangers and non-admins, internal API routes are closed to everything but
/// their key, and every response carries the security headers.
/// </summary>
public sealed class IsolationSweepTests(IsolationSweepFixture sweep, ITestOutputHelper output) : IClassFixture<IsolationSweepFixture>
{
    private static readonly string[] KnownOrgRoutes =
    [
        "/orgs/{slug}/settings", "/orgs/{slug}/settings/usage", "/orgs/{slug}/settings/plan", "/orgs/{slug}/settings/limits",
        "/orgs/{slug}/settings/members", "/orgs/{slug}/settings/audit", "/orgs/{slug}/my-usage",
    ];

    [Fact]
    public void The_sweep_finds_every_known_organization_route()
    {
        var found = sweep.OrgRoutes.Select(r => r.Pattern).ToHashSet();
        output.WriteLine("Organization routes: " + string.Join(", ", sweep.OrgRoutes));
        output.WriteLine("Internal routes: " + (sweep.InternalRoutes.Count == 0 ? "none" : string.Join(", ", sweep.InternalRoutes)));
        Assert.All(KnownOrgRoutes, r => Assert.Contains(r, found));
        Assert.Contains(sweep.OrgRoutes, r => r.IsAdmin);
        Assert.Contains(sweep.OrgRoutes, r => !r.IsAdmin);
        // The internal API lives on a pipeline branch of its own; the sweep must still see all four of its routes.
        Assert.Equal(["DELETE /internal/v1/holds/{holdId}", "GET /internal/v1/organizations/{slug}/balance", "POST /internal/v1/authorize", "POST /internal/v1/usage-events"],
            sweep.InternalRoutes.Select(r => $"{r.Method} {r.Pattern}").Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Everything_under_settings_requires_the_org_admin_policy()
    {
        // SPEC §1: owners and admins have /orgs/{slug}/settings/...; a member sees only their own usage. A settings
        // page that lost its policy would otherwise pass the member checks below as a "member route".
        var settings = sweep.OrgRoutes.Where(r => r.Pattern == "/orgs/{slug}/settings" || r.Pattern.StartsWith("/orgs/{slug}/settings/", StringComparison.Ordinal)).ToList();
        Assert.True(settings.Count >= 6);
        Assert.All(settings, r => Assert.True(r.IsAdmin, $"{r.Pattern} lacks the {OrgPolicies.Admin} policy"));
    }

    [Fact]
    public async Task Anonymous_requests_to_organization_routes_are_sent_to_sign_in_or_refused()
    {
        var failures = new List<string>();
        foreach (var route in sweep.OrgRoutes)
        {
            var response = await SendAsync(sweep.Anonymous, route);
            var toLogin = response.StatusCode == HttpStatusCode.Redirect && LocationPath(response).StartsWith("/Account/Login", StringComparison.OrdinalIgnoreCase);
            var ok = route.IsPage ? toLogin : toLogin || response.StatusCode == HttpStatusCode.Unauthorized;
            if (!ok) failures.Add($"{route}: {(int)response.StatusCode} {response.Headers.Location}");
        }
        Assert.True(failures.Count == 0, "Anonymous got through:\n" + string.Join("\n", failures));
    }

    [Fact]
    public async Task A_globex_member_gets_404_on_every_acme_route_and_sees_no_acme_data()
    {
        var failures = new List<string>();
        foreach (var route in sweep.OrgRoutes)
        {
            var response = await SendAsync(sweep.GlobexMember, route);
            var body = await response.Content.ReadAsStringAsync();
            if (response.StatusCode != HttpStatusCode.NotFound) failures.Add($"{route}: {(int)response.StatusCode}");
            failures.AddRange(sweep.AcmeData.Where(d => body.Contains(d, StringComparison.OrdinalIgnoreCase)).Select(d => $"{route}: body shows \"{d}\""));
        }
        Assert.True(failures.Count == 0, "A member of globex reached acme:\n" + string.Join("\n", failures));
    }

    [Fact]
    public async Task An_acme_member_gets_403_on_admin_routes_and_200_on_member_routes()
    {
        var failures = new List<string>();
        foreach (var route in sweep.OrgRoutes)
        {
            if (route.IsAdmin)
            {
                // Refused before the endpoint runs, whatever the method.
                var response = await SendAsync(sweep.AcmeMember, route);
                if (response.StatusCode != HttpStatusCode.Forbidden) failures.Add($"{route} (admin route): {(int)response.StatusCode}");
            }
            else if (route.IsSafeToCall)
            {
                var response = await SendAsync(sweep.AcmeMember, route);
                if (!Opens(route, response)) failures.Add($"{route} (member route): {(int)response.StatusCode} {response.Headers.Location}");
            }
        }
        Assert.True(failures.Count == 0, "An acme member was misjudged:\n" + string.Join("\n", failures));
    }

    [Fact]
    public async Task An_acme_admin_opens_every_acme_route_so_the_refusals_above_are_not_broken_pages()
    {
        var failures = new List<string>();
        foreach (var route in sweep.OrgRoutes.Where(r => r.IsSafeToCall))
        {
            var response = await SendAsync(sweep.AcmeAdmin, route);
            if (!Opens(route, response)) failures.Add($"{route}: {(int)response.StatusCode} {response.Headers.Location}");
        }
        Assert.True(failures.Count == 0, "The acme admin could not open:\n" + string.Join("\n", failures));
    }

    /// <summary>200 when every route value is real; with a guessed value, anything but a refusal or a server error.</summary>
    private static bool Opens(SweptRoute route, HttpResponseMessage response) => route.HasOnlyKnownParameters
        ? response.StatusCode == HttpStatusCode.OK
        : response.StatusCode is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden) && (int)response.StatusCode < 500
          && !LocationPath(response).StartsWith("/Account/", StringComparison.OrdinalIgnoreCase);

    [Fact]
    public async Task Internal_api_routes_answer_401_without_a_key_and_do_not_accept_a_signed_in_cookie()
    {
        var failures = new List<string>();
        foreach (var route in sweep.InternalRoutes)
        {
            var anonymous = await SendAsync(sweep.Anonymous, route);
            if (anonymous.StatusCode != HttpStatusCode.Unauthorized) failures.Add($"{route} without a key: {(int)anonymous.StatusCode}");
            var cookie = await SendAsync(sweep.AcmeAdmin, route);
            if (cookie.StatusCode != HttpStatusCode.Unauthorized) failures.Add($"{route} with an admin's cookie: {(int)cookie.StatusCode}");
            var wrongKey = await SendAsync(sweep.Anonymous, route, new AuthenticationHeaderValue("Bearer", "not-a-real-key"));
            if (wrongKey.StatusCode != HttpStatusCode.Unauthorized) failures.Add($"{route} with a wrong key: {(int)wrongKey.StatusCode}");
        }
        Assert.True(failures.Count == 0, "Internal API opened without its key:\n" + string.Join("\n", failures));
    }

    [Fact]
    public async Task Every_other_protected_route_refuses_anonymous_requests()
    {
        var failures = new List<string>();
        foreach (var route in sweep.OtherProtectedRoutes)
        {
            var response = await SendAsync(sweep.Anonymous, route);
            var toLogin = response.StatusCode == HttpStatusCode.Redirect && LocationPath(response).StartsWith("/Account/Login", StringComparison.OrdinalIgnoreCase);
            if (!toLogin && response.StatusCode != HttpStatusCode.Unauthorized) failures.Add($"{route}: {(int)response.StatusCode} {response.Headers.Location}");
        }
        Assert.True(failures.Count == 0, "Anonymous got through:\n" + string.Join("\n", failures));
    }

    [Fact]
    public async Task Staff_routes_refuse_an_organization_admin()
    {
        var failures = new List<string>();
        foreach (var route in sweep.OtherProtectedRoutes.Where(r => r.IsStaff))
        {
            var response = await SendAsync(sweep.AcmeAdmin, route);
            if (response.StatusCode is not (HttpStatusCode.Forbidden or HttpStatusCode.NotFound or HttpStatusCode.Unauthorized))
                failures.Add($"{route}: {(int)response.StatusCode}");
        }
        Assert.True(failures.Count == 0, "An org admin reached the staff console:\n" + string.Join("\n", failures));
    }

    public static TheoryData<string> HeaderCases() => new()
    {
        "page", "login page", "healthz", "static file", "404 on another organization", "404 on an unknown address",
        "403 on an admin route", "400 on a forged form", "302 to sign in",
    };

    [Theory]
    [MemberData(nameof(HeaderCases))]
    public async Task Security_headers_are_on_every_kind_of_response(string kind)
    {
        var (response, expected) = kind switch
        {
            "page" => (await sweep.AcmeAdmin.GetAsync("/orgs/acme/settings"), HttpStatusCode.OK),
            "login page" => (await sweep.Anonymous.GetAsync("/Account/Login"), HttpStatusCode.OK),
            "healthz" => (await sweep.Anonymous.GetAsync("/healthz"), HttpStatusCode.OK),
            "static file" => (await sweep.Anonymous.GetAsync("/lib/portal/portal.css"), HttpStatusCode.OK),
            "404 on another organization" => (await sweep.GlobexMember.GetAsync("/orgs/acme/settings"), HttpStatusCode.NotFound),
            "404 on an unknown address" => (await sweep.AcmeAdmin.GetAsync("/no/such/page"), HttpStatusCode.NotFound),
            "403 on an admin route" => (await sweep.AcmeMember.GetAsync("/orgs/acme/settings/members"), HttpStatusCode.Forbidden),
            "400 on a forged form" => (await sweep.Anonymous.PostAsync("/Account/Login", new FormUrlEncodedContent(new Dictionary<string, string> { ["Input.Email"] = "x@y.test" })), HttpStatusCode.BadRequest),
            "302 to sign in" => (await sweep.Anonymous.GetAsync("/orgs/acme/settings"), HttpStatusCode.Redirect),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        Assert.Equal(expected, response.StatusCode);
        AssertSecurityHeaders(response);
    }

    [Fact]
    public async Task Security_headers_are_on_internal_api_refusals()
    {
        foreach (var route in sweep.InternalRoutes)
            AssertSecurityHeaders(await SendAsync(sweep.Anonymous, route));
    }

    [Fact]
    public async Task The_import_map_carries_the_nonce_of_its_own_response_and_every_response_has_a_fresh_one()
    {
        var nonces = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            var response = await sweep.Anonymous.GetAsync("/Account/Login");
            var nonce = Regex.Match(Csp(response), "'nonce-([^']+)'").Groups[1].Value;
            Assert.NotEmpty(nonce);
            var html = await response.Content.ReadAsStringAsync();
            Assert.Matches($"<script type=\"importmap\"[^>]* nonce=\"{Regex.Escape(nonce)}\"", html);
            Assert.DoesNotMatch("<script(?![^>]*(src=|nonce=))[^>]*>", html); // no other inline script
            nonces.Add(nonce);
        }
        Assert.NotEqual(nonces[0], nonces[1]);
    }

    private static void AssertSecurityHeaders(HttpResponseMessage response)
    {
        var csp = Csp(response);
        var where = $"{(int)response.StatusCode} {response.RequestMessage!.Method} {response.RequestMessage.RequestUri!.PathAndQuery}";
        foreach (var directive in new[] { "default-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'self'", "form-action 'self'" })
            Assert.True(csp.Contains(directive, StringComparison.Ordinal), $"{where}: CSP \"{csp}\" lacks {directive}");
        Assert.DoesNotContain("'unsafe-inline'", csp.Split(';').Single(d => d.Trim().StartsWith("script-src", StringComparison.Ordinal)));
        Assert.Equal("nosniff", Header(response, "X-Content-Type-Options"));
        Assert.Equal("DENY", Header(response, "X-Frame-Options"));
        Assert.Contains(Header(response, "Referrer-Policy"), (string[])["strict-origin-when-cross-origin", "no-referrer"]);
        Assert.Contains("camera=()", Header(response, "Permissions-Policy"));
    }

    private static string Csp(HttpResponseMessage response) => Header(response, "Content-Security-Policy");

    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? string.Join(", ", values)
            : "";

    private static string LocationPath(HttpResponseMessage response) =>
        response.Headers.Location is not { } location ? ""
        : location.IsAbsoluteUri ? location.PathAndQuery : location.OriginalString;

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, SweptRoute route, AuthenticationHeaderValue? authorization = null)
    {
        var request = new HttpRequestMessage(new HttpMethod(route.Method), route.Url);
        if (authorization is not null) request.Headers.Authorization = authorization;
        if (route.Method != HttpMethods.Get && route.Method != HttpMethods.Head)
            request.Content = route.BodyType switch
            {
                "application/json" => new StringContent("{}", Encoding.UTF8, "application/json"),
                _ => new FormUrlEncodedContent([]),
            };
        return client.SendAsync(request);
    }
}

/// <summary>One route of the app with its parameters filled in with real acme values.</summary>
public sealed record SweptRoute(string Pattern, string Method, string Url, bool IsPage, bool IsAdmin, bool IsStaff, bool HasOnlyKnownParameters, string BodyType)
{
    /// <summary>GET only: the sweep never posts as someone allowed in, so it cannot change the data it checks.</summary>
    public bool IsSafeToCall => Method == HttpMethods.Get;

    public override string ToString() => $"{Method} {Url}";
}

public sealed class IsolationSweepFixture : IAsyncLifetime
{
    public PortalFactory Factory { get; } = new();
    public HttpClient Anonymous { get; private set; } = null!;
    public HttpClient GlobexMember { get; private set; } = null!;
    public HttpClient AcmeMember { get; private set; } = null!;
    public HttpClient AcmeAdmin { get; private set; } = null!;
    public List<SweptRoute> OrgRoutes { get; } = [];
    public List<SweptRoute> InternalRoutes { get; } = [];
    public List<SweptRoute> OtherProtectedRoutes { get; } = [];

    /// <summary>Text that must never reach a non-member: the organization's name, its members' names and addresses.</summary>
    public List<string> AcmeData { get; } = ["Acme Corp", "@acme.test"];

    public async Task InitializeAsync()
    {
        Anonymous = Factory.CreateBrowserlessClient();
        string memberId;
        await using (var db = await Factory.Services.GetRequiredService<IDbContextFactory<PortalDbContext>>().CreateDbContextAsync())
        {
            var members = await db.Memberships.Where(m => m.Organization.Slug == "acme")
                .Select(m => new { m.UserId, m.User.Email, m.User.DisplayName }).ToListAsync();
            AcmeData.AddRange(members.Select(m => m.DisplayName));
            memberId = members.Single(m => m.Email == "member@acme.test").UserId;
        }

        var endpoints = Factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>();
        var seen = new HashSet<string>();
        foreach (var endpoint in endpoints)
        {
            var pattern = "/" + (endpoint.RoutePattern.RawText ?? "").TrimStart('/');
            var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods;
            var method = methods is null || methods.Count == 0 || methods.Contains(HttpMethods.Get) ? HttpMethods.Get : methods[0];
            if (!seen.Add($"{method} {pattern}")) continue;

            var authorize = endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>();
            var isOrg = endpoint.RoutePattern.Parameters.Any(p => p.Name.Equals("slug", StringComparison.OrdinalIgnoreCase));
            var isInternal = pattern.StartsWith("/internal/", StringComparison.OrdinalIgnoreCase);
            var isProtected = authorize.Count > 0 && endpoint.Metadata.GetMetadata<IAllowAnonymous>() is null;
            if (!isOrg && !isInternal && !isProtected) continue;

            var (url, known) = Fill(endpoint.RoutePattern, memberId);
            var route = new SweptRoute(pattern, method, url,
                IsPage: endpoint.Metadata.GetMetadata<ComponentTypeMetadata>() is not null,
                IsAdmin: authorize.Any(a => a.Policy == OrgPolicies.Admin),
                IsStaff: authorize.Any(a => a.Policy == OrgPolicies.Staff || a.Roles?.Split(',').Contains("Staff") == true),
                HasOnlyKnownParameters: known,
                // What the endpoint reads, so the request is refused for who sends it, not for its content type.
                BodyType: endpoint.Metadata.GetMetadata<IAcceptsMetadata>()?.ContentTypes.Any(t => t.Contains("json", StringComparison.OrdinalIgnoreCase)) == true
                    ? "application/json"
                    : "application/x-www-form-urlencoded");
            if (isInternal) InternalRoutes.Add(route);
            else if (isOrg) OrgRoutes.Add(route);
            else OtherProtectedRoutes.Add(route);
        }

        GlobexMember = await Factory.SignInAsync("member@globex.test");
        AcmeMember = await Factory.SignInAsync("member@acme.test");
        AcmeAdmin = await Factory.SignInAsync("admin@acme.test");
    }

    /// <summary>
    /// The URL of a pattern with {slug} = acme, {userId} = a real acme member and anything else a plausible value;
    /// <c>known</c> is false when a value was guessed (the page may then rightly say "not found").
    /// </summary>
    private static (string Url, bool Known) Fill(RoutePattern pattern, string acmeUserId)
    {
        var known = true;
        var url = new StringBuilder();
        foreach (var segment in pattern.PathSegments)
        {
            url.Append('/');
            foreach (var part in segment.Parts)
            {
                switch (part)
                {
                    case RoutePatternLiteralPart literal: url.Append(literal.Content); break;
                    case RoutePatternSeparatorPart separator: url.Append(separator.Content); break;
                    case RoutePatternParameterPart parameter:
                        var value = parameter.Name.ToLowerInvariant() switch
                        {
                            "slug" => "acme",
                            "userid" or "memberid" => acmeUserId,
                            _ => null,
                        };
                        if (value is null)
                        {
                            known = false;
                            var constraints = parameter.ParameterPolicies.Select(p => p.Content ?? "").ToList();
                            value = constraints.Contains("guid") ? Guid.NewGuid().ToString()
                                : constraints.Contains("bool") ? "true"
                                : parameter.Default?.ToString() ?? "1";
                        }
                        url.Append(Uri.EscapeDataString(value));
                        break;
                }
            }
        }
        return (url.Length == 0 ? "/" : url.ToString(), known);
    }

    public Task DisposeAsync() => Factory.DisposeAsync().AsTask();
}
