namespace Cassidy.Portal.Billing;

/// <summary>
/// <b>Billing</b>: plans and what they cost. <see cref="PlanCatalog"/> (the <c>Plans</c> section), billing periods,
/// upgrades, downgrades and Enterprise agreements (<see cref="PlanChanges"/>), the payment seam and invoices
/// (<see cref="IPaymentCapture"/>), and the background <see cref="PeriodCloser"/>. Plan changes are carried out by the
/// Ledger's writer (so a change and its grant commit together); the ledger reads the plan rules from here.
/// </summary>
public static class BillingSetup
{
    public static IServiceCollection AddBilling(this IServiceCollection services)
    {
        services.AddSingleton(sp => PlanCatalog.FromConfiguration(sp.GetRequiredService<IConfiguration>()));
        services.AddScoped<IPaymentCapture, RecordedInvoices>();
        services.AddScoped<PlanChanges>();
        services.AddHostedService<PeriodCloser>();
        return services;
    }
}
