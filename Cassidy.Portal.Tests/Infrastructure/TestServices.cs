using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Cassidy.Portal.Tests.Infrastructure;

/// <summary>
/// The one test host for the engine without the web: the product's services registered by the app's own
/// <see cref="PortalSetup.AddPortalServices"/> on a test database (<see cref="Cassidy.Portal.Data.PortalDatabase.AddPortalDatabase"/>)
/// and a test clock, configured by the repository's appsettings.json with <paramref name="settings"/> on top;
/// <paramref name="overrides"/> run last (a registration there wins, e.g. a harness's own ledger). Hosted services are
/// registered but not started: a test runs them by hand. For pages and the API, <see cref="PortalFactory"/> hosts the whole app.
/// </summary>
public static class TestServices
{
    public static ServiceProvider Build(TestDatabase database, TimeProvider clock, IDictionary<string, string?>? settings = null,
        Action<IServiceCollection>? overrides = null)
    {
        var services = new ServiceCollection();
        var configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"))
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["ConnectionStrings:Portal"] = database.ConnectionString,
                ["Email:PickupDirectory"] = Path.Combine(database.Folder, "mail"),
            })
            .AddInMemoryCollection(settings ?? new Dictionary<string, string?>())
            .Build();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        services.AddSingleton(clock);
        database.AddTo(services);
        services.AddPortalServices();
        services.AddPortalDataProtection(configuration); // keys in the test database: they outlive a "restart" (a second Build)
        overrides?.Invoke(services);
        return services.BuildServiceProvider();
    }
}
