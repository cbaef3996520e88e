using Cassidy.Portal.Data;
using Microsoft.AspNetCore.Identity;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Cassidy.Portal.Tests.Infrastructure;

/// <summary>A real SQLite file in a temp folder, migrated with the committed migrations.</summary>
public sealed class TestDatabase : IAsyncDisposable
{
    public string Folder { get; } = Path.Combine(Path.GetTempPath(), "cassidy-tests", Guid.NewGuid().ToString("N"));
    public string ConnectionString => $"Data Source={Path.Combine(Folder, "portal.db")}";

    private ServiceProvider _provider = null!;

    public static async Task<TestDatabase> CreateAsync()
    {
        var db = new TestDatabase();
        Directory.CreateDirectory(db.Folder);
        var services = new ServiceCollection();
        db.AddTo(services);
        db._provider = services.BuildServiceProvider();
        await PortalDatabase.MigrateAsync(db._provider);
        return db;
    }

    /// <summary>Registers this database as the app registers its own (<see cref="PortalDatabase.AddPortalDatabase"/>).</summary>
    public void AddTo(IServiceCollection services) => services.AddPortalDatabase(ConnectionString);

    public IDbContextFactory<PortalDbContext> CreateFactory() => _provider.GetRequiredService<IDbContextFactory<PortalDbContext>>();

    public PortalDbContext CreateContext() => CreateFactory().CreateDbContext();

    public async Task<ApplicationUser> AddUserAsync(string email, string name)
    {
        await using var db = CreateContext();
        var user = new ApplicationUser
        {
            UserName = email, NormalizedUserName = email.ToUpperInvariant(), Email = email, NormalizedEmail = email.ToUpperInvariant(),
            EmailConfirmed = true, DisplayName = name, SecurityStamp = Guid.NewGuid().ToString(),
        };
        db.Users.Add(user);
        await db.SaveChangesAsync();
        return user;
    }

    public async Task<Organization> AddOrganizationAsync(string slug, string name, string plan = "Team")
    {
        await using var db = CreateContext();
        var org = new Organization { Slug = slug, Name = name, Plan = plan, BillingAnchor = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc), CreatedAt = DateTime.UtcNow };
        db.Organizations.Add(org);
        await db.SaveChangesAsync();
        return org;
    }

    public async Task AddMembershipAsync(Organization org, ApplicationUser user, OrganizationRole role)
    {
        await using var db = CreateContext();
        db.Memberships.Add(new Membership { OrganizationId = org.Id, UserId = user.Id, Role = role, JoinedAt = DateTime.UtcNow });
        await db.SaveChangesAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _provider.DisposeAsync();
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
