namespace Cassidy.Portal.Metering;

public static class MeteringSetup
{
    /// <summary>Registers the engine: price table and plans from configuration, the writer, the view, the ledger.</summary>
    public static IServiceCollection AddMetering(this IServiceCollection services)
    {
        services.AddSingleton(sp => sp.GetRequiredService<IConfiguration>().GetSection(MeteringOptions.Section).Get<MeteringOptions>() ?? new MeteringOptions());
        services.AddSingleton(sp => sp.GetRequiredService<IConfiguration>().GetSection(IngestOptions.Section).Get<IngestOptions>() ?? new IngestOptions());
        services.AddSingleton<PriceTable>();
        services.AddSingleton(sp => PlanCatalog.FromConfiguration(sp.GetRequiredService<IConfiguration>()));
        services.AddSingleton<CreditView>();
        services.AddSingleton(sp => new IngestWriter(ConnectionString(sp), sp.GetRequiredService<PlanCatalog>(),
            sp.GetRequiredService<CreditView>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<IngestWriter>>()));
        services.AddSingleton(sp => new CreditLedger(sp.GetRequiredService<IngestWriter>(), sp.GetRequiredService<PriceTable>(),
            sp.GetRequiredService<TimeProvider>(), ConnectionString(sp)));
        services.AddHostedService<PeriodCloser>();
        return services;
    }

    public static string ConnectionString(IServiceProvider services) =>
        services.GetRequiredService<IConfiguration>().GetConnectionString("Portal")
        ?? throw new InvalidOperationException("Connection string 'Portal' is not configured.");
}
