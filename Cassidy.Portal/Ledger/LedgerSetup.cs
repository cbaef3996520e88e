using Cassidy.Portal.Billing;
using Cassidy.Portal.Data;
using Cassidy.Portal.Pricing;

namespace Cassidy.Portal.Ledger;

/// <summary>
/// <b>Ledger</b>: the credit ledger and the one writer that changes it. <see cref="CreditLedger"/> is the entry point
/// (record usage, authorize, grant, change plan, read a balance); <see cref="LedgerWriter"/> runs every write on one
/// connection in group commits; <see cref="LedgerStore"/> is what a transaction does to the tables and to the cached
/// <see cref="OrganizationBook"/>s; <see cref="BalanceView"/> is the in-memory balance and hold view authorize reads and
/// live pages listen to; <see cref="DailyRollupRebuilder"/> re-keys the daily rollups after a time-zone change, a small
/// writer step at a time. The invariants are in LEDGER.md, asserted before every commit (OrganizationBook.Violation). May
/// use Pricing, Billing's plan rules (PlanCatalog, BillingPeriods) and Data; never Limits, Usage, Notifications, Webhooks,
/// Organizations or the UI (Architecture/DependencyRulesTests).
/// </summary>
public static class LedgerSetup
{
    public static IServiceCollection AddLedger(this IServiceCollection services)
    {
        services.AddSingleton<BalanceView>();
        services.AddSingleton(sp => new LedgerWriter(ConnectionString(sp), sp.GetRequiredService<PlanCatalog>(),
            sp.GetRequiredService<BalanceView>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<LedgerWriter>>()));
        services.AddSingleton(sp => new CreditLedger(sp.GetRequiredService<LedgerWriter>(), sp.GetRequiredService<PriceTable>(),
            sp.GetRequiredService<TimeProvider>(), ConnectionString(sp)));
        services.AddSingleton<DailyRollupRebuilder>();
        services.AddHostedService(sp => sp.GetRequiredService<DailyRollupRebuilder>());
        return services;
    }

    private static string ConnectionString(IServiceProvider services) =>
        PortalDatabase.ConnectionString(services.GetRequiredService<IConfiguration>());
}
