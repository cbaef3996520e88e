namespace Cassidy.Portal.Usage;

/// <summary>
/// <b>Usage</b>: the read models of the pages. <see cref="UsageReport"/> answers the Usage tab, a member's page and
/// My usage from the hourly and daily rollups (<see cref="UsageRange"/> for the ranges, UsageReportShapes for what it
/// returns; <see cref="SharedLoads"/> shares one load between every live page asking the same); <see cref="OverviewReport"/> answers the Overview (grants, activity, run-out projection). Reads only:
/// nothing here writes the ledger.
/// </summary>
public static class UsageSetup
{
    public static IServiceCollection AddUsage(this IServiceCollection services)
    {
        services.AddScoped<OverviewReport>();
        services.AddScoped<UsageReport>();
        services.AddSingleton<SharedLoads>();
        return services;
    }
}
