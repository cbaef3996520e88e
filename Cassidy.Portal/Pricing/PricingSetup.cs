namespace Cassidy.Portal.Pricing;

/// <summary>
/// <b>Pricing</b>: what a model call costs. <see cref="PriceTable"/> turns a usage event into millicredits (tokens per
/// model, capabilities, the workflow action fee) from the <c>Metering</c> section (<see cref="MeteringOptions"/>), and
/// says what the same call would have cost on the lighter model of its family. Change prices here (or in configuration);
/// add a meter by adding its field to UsageEventInput (Ledger) and its price here. Uses no other room of the engine.
/// </summary>
public static class PricingSetup
{
    public static IServiceCollection AddPricing(this IServiceCollection services)
    {
        services.AddSingleton(sp => sp.GetRequiredService<IConfiguration>().GetSection(MeteringOptions.Section).Get<MeteringOptions>() ?? new MeteringOptions());
        services.AddSingleton<PriceTable>();
        return services;
    }
}
