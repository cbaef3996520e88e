using Cassidy.Portal.Data;
using Cassidy.Portal.Billing;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Organizations;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Demo;

/// <summary>
/// Fills an empty database with the demo organizations of SPEC §5: acme (Team, 12 members) and globex, plus (in
/// Development only) the staff user. Every password is <see cref="Password"/>, which the README publishes: so demo data is
/// on in Development and off elsewhere unless <c>Demo:Enabled</c> says otherwise, and then every start warns about it.
/// </summary>
public sealed class DemoSeeder(
    IDbContextFactory<PortalDbContext> dbFactory,
    UserManager<ApplicationUser> users,
    RoleManager<IdentityRole> roles,
    OrganizationSignup signup,
    IConfiguration configuration,
    CreditLedger ledger,
    PlanCatalog plans,
    TimeProvider clock,
    IHostEnvironment environment,
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

    /// <summary>acme's usage profile: very different intensities; sam and priya reach their caps this period, taylor
    /// nears the default cap, member@acme.test stays well within it.</summary>
    public static readonly DemoMember[] AcmeUsage =
    [
        new("admin@acme.test", 35, ["gpt-4.1", "claude-sonnet-4.5", "gpt-4.1-mini"]),
        new("member@acme.test", 12, ["gpt-4.1-mini", "gemini-2.5-flash"]),
        new("jordan@acme.test", 200, ["claude-sonnet-4.5", "gpt-4.1"], MemberCapMode.Custom, 2_500),
        new("priya@acme.test", 450, ["claude-sonnet-4.5", "gpt-4.1", "claude-haiku-4.5"], MemberCapMode.Custom, 2_000),
        new("diego@acme.test", 180, ["gpt-4.1", "claude-haiku-4.5"], MemberCapMode.Unlimited),
        new("sam@acme.test", 330, ["gpt-4.1", "gemini-2.5-flash"]),
        new("taylor@acme.test", 150, ["claude-haiku-4.5", "gpt-4.1-mini"]),
        new("riley@acme.test", 25, ["gemini-2.5-flash", "gpt-4.1-mini"]),
        new("casey@acme.test", 8, ["gpt-4.1-mini"]),
        new("alex@acme.test", 18, ["claude-haiku-4.5"]),
        new("jamie@acme.test", 3, ["gemini-2.5-flash"]),
        new("quinn@acme.test", 45, ["gpt-4.1", "gemini-2.5-flash"]),
    ];

    public const long AcmeDefaultCapCredits = 1_500;

    public static readonly DemoMember[] GlobexUsage =
    [
        new("admin@globex.test", 20, ["claude-sonnet-4.5"]),
        new("member@globex.test", 10, ["gpt-4.1-mini", "gemini-2.5-flash"]),
        new("frank@globex.test", 4, ["claude-haiku-4.5"]),
    ];

    /// <summary>Demo data is on in Development, off elsewhere, unless <c>Demo:Enabled</c> is set either way.</summary>
    public static bool IsEnabled(IConfiguration configuration, IHostEnvironment environment) =>
        configuration.GetValue<bool?>("Demo:Enabled") ?? environment.IsDevelopment();

    public async Task SeedAsync(CancellationToken ct = default)
    {
        if (!IsEnabled(configuration, environment)) return;
        if (!environment.IsDevelopment())
            logger.LogWarning("Demo:Enabled is on in the {Environment} environment: the demo accounts and their published password " +
                "exist in this installation. Turn it off (Demo__Enabled=false) and delete them unless this is a demonstration.", environment.EnvironmentName);
        await EnsureRolesAsync();
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
        {
            if (await db.Users.AnyAsync(ct)) return;
        }

        var started = clock.GetUtcNow();
        // One hash for every demo account: hashing is deliberately slow, and the password is the same.
        var hash = users.PasswordHasher.HashPassword(new ApplicationUser(), Password);
        var anchor = started.UtcDateTime.Date.AddDays(-100).AddHours(9);

        var acme = await CreateOrganizationAsync("acme", "Acme Corp", "Team", anchor, AcmePeople, hash);
        var globex = await CreateOrganizationAsync("globex", "Globex", "Business", anchor.AddDays(11), GlobexPeople, hash);
        await SetCapsAsync(acme, AcmeDefaultCapCredits, AcmeUsage);

        // Usage goes through the engine on a clock that walks from the anchor to now (its own writer and view, on the
        // same database); the portal's ledger then refreshes both organizations (their accounts moved: it reloads them).
        var now = started.UtcDateTime;
        var usageWatch = System.Diagnostics.Stopwatch.StartNew();
        logger.LogInformation("Demo organizations created in {Ms} ms.", (clock.GetUtcNow() - started).TotalMilliseconds);
        var demoClock = new DemoClock(anchor);
        var events = 0;
        await using (var demoLedger = CreditLedger.Create(configuration.GetConnectionString("Portal")!, ledger.Prices, plans, demoClock, logger))
        {
            events += await new DemoUsage(demoLedger, demoClock, plans, seed: 7).RecordAsync(acme, AcmeUsage, AcmeDefaultCapCredits, now.AddMinutes(-1));
            events += await new DemoUsage(demoLedger, demoClock, plans, seed: 11).RecordAsync(globex, GlobexUsage, null, now.AddMinutes(-1));
        }
        await ledger.RefreshAsync(acme.Id);
        await ledger.RefreshAsync(globex.Id);
        logger.LogInformation("Demo usage recorded in {Ms} ms.", usageWatch.ElapsedMilliseconds);

        // Staff can grant any organization any credits: a staff account with a published password exists only on a
        // developer's machine. Elsewhere, create staff with --create-staff.
        if (environment.IsDevelopment())
        {
            var staff = await CreateUserAsync("staff@cassidy.test", "Sasha Staff", hash);
            await users.AddToRoleAsync(staff, StaffRole);
        }

        logger.LogInformation("Demo data seeded in {Ms} ms with {Events} usage events (demo accounts as listed in the README).",
            (clock.GetUtcNow() - started).TotalMilliseconds, events);
    }

    private async Task EnsureRolesAsync()
    {
        if (!await roles.RoleExistsAsync(StaffRole)) await roles.CreateAsync(new IdentityRole(StaffRole));
    }

    private async Task SetCapsAsync(Organization organization, long defaultCapCredits, IEnumerable<DemoMember> usage)
    {
        await using var db = await dbFactory.CreateDbContextAsync();
        organization.DefaultMemberCapMillicredits = Credits.Millis(defaultCapCredits);
        await db.Organizations.Where(o => o.Id == organization.Id)
            .ExecuteUpdateAsync(s => s.SetProperty(o => o.DefaultMemberCapMillicredits, Credits.Millis(defaultCapCredits)));
        foreach (var member in usage.Where(m => m.CapMode != MemberCapMode.Default))
            await db.Memberships.Where(m => m.OrganizationId == organization.Id && m.User.Email == member.Email)
                .ExecuteUpdateAsync(s => s.SetProperty(m => m.CapMode, member.CapMode)
                    .SetProperty(m => m.CapMillicredits, Credits.Millis(member.CapCredits)));
    }

    private async Task<Organization> CreateOrganizationAsync(string slug, string name, string plan, DateTime anchor,
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
        return organization;
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
