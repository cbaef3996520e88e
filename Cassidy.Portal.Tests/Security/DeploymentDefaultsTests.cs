using System.Net;
using Cassidy.Portal.Data;
using Cassidy.Portal.Demo;
using Cassidy.Portal.Security;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
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

        // An account someone started with an address and never confirmed is not made staff.
        var squatter = new ApplicationUser { UserName = "ops2@example.com", Email = "ops2@example.com", DisplayName = "Squatter" };
        Assert.True((await users.CreateAsync(squatter, "Squatter#Pass9")).Succeeded);
        Assert.Equal(1, await PortalCommands.RunAsync(["--create-staff", "ops2@example.com", connection, "--environment=Production"]));
        Assert.False(await users.IsInRoleAsync((await users.FindByEmailAsync("ops2@example.com"))!, DemoSeeder.StaffRole));
    }

    [Fact]
    public async Task The_backup_command_copies_the_database_for_its_owner_only_and_never_creates_one()
    {
        await using var factory = new PortalFactory().InEnvironment("Production");
        using (var client = factory.CreateBrowserlessClient())
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
        var copy = Path.Combine(factory.DataFolder, "backups", "portal-copy.db");

        Assert.Equal(0, await PortalCommands.RunAsync(["--backup", copy, $"--ConnectionStrings:Portal=Data Source={Path.Combine(factory.DataFolder, "portal.db")}"]));
        Assert.Equal(1, await PortalCommands.RunAsync(["--backup", copy, $"--ConnectionStrings:Portal=Data Source={Path.Combine(factory.DataFolder, "portal.db")}"]));
        var missing = Path.Combine(factory.DataFolder, "nothing-here.db");
        Assert.Equal(1, await PortalCommands.RunAsync(["--backup", copy + "2", $"--ConnectionStrings:Portal=Data Source={missing}"]));

        Assert.False(File.Exists(missing));
        Assert.False(File.Exists(copy + "2"));
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(copy));
        await using var backup = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={copy};Pooling=False");
        await backup.OpenAsync();
        await using var command = backup.CreateCommand();
        command.CommandText = "SELECT count(*) FROM __EFMigrationsHistory";
        Assert.True((long)(await command.ExecuteScalarAsync())! > 0);
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

    [Theory]
    [InlineData("203.0.113.7", "203.0.113.7", true)]
    [InlineData("203.0.113.7", "203.0.113.8", false)]
    [InlineData("::ffff:203.0.113.7", "203.0.113.7", true)]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", true)] // one /64: one client, however many addresses
    [InlineData("2001:db8:1:2::1", "2001:db8:1:3::1", false)]
    public void Attempts_count_per_ipv4_address_and_per_ipv6_slash_64(string first, string second, bool together) =>
        Assert.Equal(together, AbuseLimits.ClientKey(IPAddress.Parse(first)) == AbuseLimits.ClientKey(IPAddress.Parse(second)));
}
