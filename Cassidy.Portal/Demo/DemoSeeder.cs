using Cassidy.Portal.Data;
using Cassidy.Portal.Organizations;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Demo;

/// <summary>
/// Fills an empty database with the demo organizations of SPEC §5: acme (Team, 12 members) and globex, plus the
/// staff user. Every password is <see cref="Password"/>. Runs only when <c>Demo:Enabled</c> and no user exists.
/// </summary>
public sealed class DemoSeeder(
    IDbContextFactory<PortalDbContext> dbFactory,
    UserManager<ApplicationUser> users,
    RoleManager<IdentityRole> roles,
    OrganizationSignup signup,
    IConfiguration configuration,
    TimeProvider clock,
    ILogger<DemoSeeder> logger)
{
    public const string Password = "Demo123!";
    public const string StaffRole = "Staff";

    public static readonly (string Email, string Name, OrganizationRole Role)[] AcmePeople =
    [
        ("admin@acme.test", "Avery Admin", OrganizationRole.Owner),
        ("member@acme.test", "Morgan Member", OrganizationRole.Member),
        ("jordan@acme.test", "Jordan Lee", OrganizationRole.Admin),
        ("priya@acme.test", "Priya Patel", OrganizationRole.Member),
        ("diego@acme.test", "Diego Ramos", OrganizationRole.Member),
        ("sam@acme.test", "Sam Chen", OrganizationRole.Member),
        ("taylor@acme.test", "Taylor Brooks", OrganizationRole.Member),
        ("riley@acme.test", "Riley Nguyen", OrganizationRole.Member),
        ("casey@acme.test", "Casey Kim", OrganizationRole.Member),
        ("alex@acme.test", "Alex Johnson", OrganizationRole.Member),
        ("jamie@acme.test", "Jamie Fox", OrganizationRole.Member),
        ("quinn@acme.test", "Quinn Harper", OrganizationRole.Member),
    ];

    public static readonly (string Email, string Name, OrganizationRole Role)[] GlobexPeople =
    [
        ("admin@globex.test", "Hank Scorpio", OrganizationRole.Owner),
        ("member@globex.test", "Mindy Simmons", OrganizationRole.Member),
        ("frank@globex.test", "Frank Grimes", OrganizationRole.Member),
    ];

    public async Task SeedAsync(CancellationToken ct = default)
    {
        if (!configuration.GetValue("Demo:Enabled", true)) return;
        await EnsureRolesAsync();
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
        {
            if (await db.Users.AnyAsync(ct)) return;
        }

        var started = clock.GetUtcNow();
        // One hash for every demo account: hashing is deliberately slow, and the password is the same.
        var hash = users.PasswordHasher.HashPassword(new ApplicationUser(), Password);
        var anchor = started.UtcDateTime.Date.AddDays(-100).AddHours(9);

        await CreateOrganizationAsync("acme", "Acme Corp", "Team", anchor, AcmePeople, hash);
        await CreateOrganizationAsync("globex", "Globex", "Business", anchor.AddDays(11), GlobexPeople, hash);

        var staff = await CreateUserAsync("staff@cassidy.test", "Sasha Staff", hash);
        await users.AddToRoleAsync(staff, StaffRole);

        logger.LogInformation("Demo data seeded in {Ms} ms (sign in as admin@acme.test / {Password}).",
            (clock.GetUtcNow() - started).TotalMilliseconds, Password);
    }

    private async Task EnsureRolesAsync()
    {
        if (!await roles.RoleExistsAsync(StaffRole)) await roles.CreateAsync(new IdentityRole(StaffRole));
    }

    private async Task CreateOrganizationAsync(string slug, string name, string plan, DateTime anchor,
        (string Email, string Name, OrganizationRole Role)[] people, string hash)
    {
        var owner = await CreateUserAsync(people[0].Email, people[0].Name, hash);
        var organization = await signup.CreateForOwnerAsync(owner.Id, name, plan, anchor, slug);
        await using (var setup = await dbFactory.CreateDbContextAsync())
        {
            // The owner founded the organization at its billing anchor.
            await setup.Memberships.Where(m => m.OrganizationId == organization.Id)
                .ExecuteUpdateAsync(s => s.SetProperty(m => m.JoinedAt, anchor));
        }

        await using var db = await dbFactory.CreateDbContextAsync();
        var joined = anchor;
        foreach (var (email, displayName, role) in people.Skip(1))
        {
            var user = await CreateUserAsync(email, displayName, hash);
            joined = joined.AddHours(7);
            db.Memberships.Add(new Membership { OrganizationId = organization.Id, UserId = user.Id, Role = role, JoinedAt = joined });
            await db.Users.Where(u => u.Id == user.Id)
                .ExecuteUpdateAsync(s => s.SetProperty(u => u.LastOrganizationId, organization.Id));
        }
        await db.SaveChangesAsync();
    }

    private async Task<ApplicationUser> CreateUserAsync(string email, string displayName, string hash)
    {
        var user = new ApplicationUser
        {
            UserName = email,
            Email = email,
            EmailConfirmed = true,
            DisplayName = displayName,
            PasswordHash = hash,
            CreatedAt = clock.GetUtcNow().UtcDateTime,
        };
        var result = await users.CreateAsync(user);
        if (!result.Succeeded)
            throw new InvalidOperationException($"Demo user {email}: {string.Join("; ", result.Errors.Select(e => e.Description))}");
        return user;
    }
}
