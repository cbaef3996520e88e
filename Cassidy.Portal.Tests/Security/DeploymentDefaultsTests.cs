using System.Net;
using Cassidy.Portal.Data;
using Cassidy.Portal.Demo;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Cassidy.Portal.Tests.Security;

/// <summary>
/// Issue 12: an installation started the ordinary way is safe before anyone configures it — no demo accounts, no staff
/// with a known password — and behaves behind a TLS-terminating proxy; the account pages resist being hammered.
/// </summary>
public sealed class DeploymentDefaultsTests
{
    [Fact]
    public async Task A_production_start_on_an_empty_database_has_no_demo_users_and_no_staff()
    {
        await using var factory = new PortalFactory().InEnvironment("Production");
        using var client = factory.CreateBrowserlessClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);

        await using var scope = factory.Services.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IDbContextFactory<PortalDbContext>>().CreateDbContextAsync();
        Assert.Empty(await db.Users.ToListAsync());
        Assert.Empty(await db.Organizations.ToListAsync());
        var response = await PortalFactory.PostLoginAsync(factory.CreateBrowserlessClient(), "staff@cassidy.test", DemoSeeder.Password);
        Assert.Contains("/Account/Login", response.Headers.Location?.ToString() ?? "/Account/Login"); // no such account
    }

    [Fact]
    public async Task Demo_data_enabled_outside_development_never_creates_the_staff_account()
    {
        await using var factory = new PortalFactory().InEnvironment("Production").With("Demo:Enabled", "true");
        using var client = factory.CreateBrowserlessClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);

        await using var scope = factory.Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>();
        Assert.NotNull(await users.FindByEmailAsync("admin@acme.test")); // explicitly asked for
        Assert.Null(await users.FindByEmailAsync("staff@cassidy.test"));
        Assert.Empty(await users.GetUsersInRoleAsync(DemoSeeder.StaffRole));
    }

    [Fact]
    public async Task The_create_staff_command_makes_the_first_staff_user_of_an_installation()
    {
        await using var factory = new PortalFactory().InEnvironment("Production");
        using (var client = factory.CreateBrowserlessClient())
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
        var connection = $"--ConnectionStrings:Portal=Data Source={Path.Combine(factory.DataFolder, "portal.db")}";

        var exit = await PortalCommands.RunAsync(["--create-staff", "ops@example.com", connection, "--environment=Production"]);

        Assert.Equal(0, exit);
        await using var scope = factory.Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>();
        var staff = await users.FindByEmailAsync("ops@example.com");
        Assert.NotNull(staff);
        Assert.True(await users.IsInRoleAsync(staff, DemoSeeder.StaffRole));
        Assert.True(await users.HasPasswordAsync(staff));
        Assert.False(await users.CheckPasswordAsync(staff, DemoSeeder.Password));
    }

    [Fact]
    public async Task Behind_a_tls_proxy_cookies_are_secure_and_hsts_is_sent()
    {
        await using var factory = new PortalFactory().InEnvironment("Production").With("Portal:BaseUrl", "https://portal.example.com")
            .With("Portal:KnownNetworks:0", "0.0.0.0/0");
        var client = factory.CreateBrowserlessClient();
        var request = new HttpRequestMessage(HttpMethod.Get, "http://portal.example.com/Account/Login");
        request.Headers.Add("X-Forwarded-Proto", "https");
        request.Headers.Add("X-Forwarded-For", "203.0.113.7");

        var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode); // no redirect loop: the proxy said https
        Assert.True(response.Headers.TryGetValues("Strict-Transport-Security", out var hsts), "no HSTS header");
        Assert.Contains("max-age=31536000", hsts!.Single());
        var cookies = response.Headers.GetValues("Set-Cookie").ToList();
        Assert.NotEmpty(cookies); // the antiforgery cookie of the sign-in form
        Assert.All(cookies, c => Assert.Contains("secure", c, StringComparison.OrdinalIgnoreCase));

        // Plain http that no trusted proxy vouches for is sent to https.
        var plain = await factory.CreateBrowserlessClient().GetAsync("http://portal.example.com/Account/Login");
        Assert.Equal(HttpStatusCode.PermanentRedirect, plain.StatusCode);
        Assert.Equal("https://portal.example.com/Account/Login", plain.Headers.Location!.ToString());
    }

    [Fact]
    public async Task Too_many_sign_in_attempts_from_one_client_get_a_429_with_a_friendly_page()
    {
        await using var factory = new PortalFactory().With("AbuseLimits:SignInPerMinute", "3");
        var client = factory.CreateBrowserlessClient();
        for (var i = 0; i < 3; i++)
            Assert.NotEqual(HttpStatusCode.TooManyRequests, (await PortalFactory.PostLoginAsync(client, "admin@acme.test", "wrong-password")).StatusCode);

        var response = await PortalFactory.PostLoginAsync(client, "admin@acme.test", DemoSeeder.Password);

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.True(response.Headers.RetryAfter?.Delta > TimeSpan.Zero, "no Retry-After");
        Assert.Contains("Too many attempts", await response.Content.ReadAsStringAsync());
        // Reading the page is not an attempt.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/Account/Login")).StatusCode);
    }
}
