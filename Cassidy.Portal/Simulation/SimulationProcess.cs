using Cassidy.Portal.Data;
using Cassidy.Portal.Billing;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Limits;
using Cassidy.Portal.Organizations;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Simulation;

/// <summary>
/// One life of the portal as the simulation runs it: the product's own services (<see cref="PortalSetup.AddPortalServices"/>)
/// on the simulation's database and clock, with the writer pumped by hand and hooked. A restart disposes it and starts
/// another on the same database; a crash throws it away.
/// </summary>
internal sealed class SimulationProcess : IAsyncDisposable
{
    private readonly ServiceProvider _services;
    private readonly AsyncServiceScope _scope;

    public CreditLedger Ledger { get; }
    public LedgerWriter Writer => Ledger.Writer;
    public PlanChanges Plans { get; }
    public MemberCaps Caps { get; }
    public MemberManagement Members { get; }
    public OrganizationSettings Settings { get; }
    public AccountChanges Accounts { get; }
    public OrganizationSignup Signup { get; }
    public AlertEvaluator Alerts { get; }
    public DailyRollupRebuilder Rebuilder { get; }
    public AlertRules AlertRules { get; }
    public UserManager<ApplicationUser> Users { get; }
    public IDbContextFactory<PortalDbContext> Db { get; }

    public SimulationProcess(IConfiguration configuration, TimeProvider clock, IWriterHooks hooks)
    {
        var connectionString = configuration.GetConnectionString("Portal")!;
        var services = new ServiceCollection();
        services.AddSingleton(configuration);
        services.AddSingleton(clock);
        services.AddLogging();
        services.AddPortalDatabase(connectionString);
        services.AddDataProtection().UseEphemeralDataProtectionProvider();
        services.AddIdentityCore<ApplicationUser>(o => o.User.RequireUniqueEmail = true)
            .AddEntityFrameworkStores<PortalDbContext>()
            .AddDefaultTokenProviders();
        services.AddPortalServices();
        // The same engine, pumped by the simulation instead of its own loop, with the simulation's hooks.
        services.AddSingleton(sp => new LedgerWriter(connectionString, sp.GetRequiredService<PlanCatalog>(),
            sp.GetRequiredService<BalanceView>(), clock, sp.GetRequiredService<ILogger<LedgerWriter>>(), hooks, manual: true));
        _services = services.BuildServiceProvider();
        _scope = _services.CreateAsyncScope();
        var sp = _scope.ServiceProvider;
        Ledger = sp.GetRequiredService<CreditLedger>();
        Plans = sp.GetRequiredService<PlanChanges>();
        Caps = sp.GetRequiredService<MemberCaps>();
        Members = sp.GetRequiredService<MemberManagement>();
        Settings = sp.GetRequiredService<OrganizationSettings>();
        Accounts = sp.GetRequiredService<AccountChanges>();
        Signup = sp.GetRequiredService<OrganizationSignup>();
        Alerts = sp.GetRequiredService<AlertEvaluator>();
        Rebuilder = sp.GetRequiredService<DailyRollupRebuilder>();
        AlertRules = sp.GetRequiredService<AlertRules>();
        Users = sp.GetRequiredService<UserManager<ApplicationUser>>();
        Db = sp.GetRequiredService<IDbContextFactory<PortalDbContext>>();
    }

    public static async Task MigrateAsync(IConfiguration configuration)
    {
        var services = new ServiceCollection();
        services.AddPortalDatabase(configuration.GetConnectionString("Portal")!);
        await using var provider = services.BuildServiceProvider();
        await PortalDatabase.MigrateAsync(provider);
    }

    /// <summary>A graceful stop: the writer finishes (the simulation has drained it) and closes its connection.</summary>
    public async ValueTask DisposeAsync()
    {
        await Ledger.Writer.DisposeAsync();
        await _scope.DisposeAsync();
        await _services.DisposeAsync();
    }
}
