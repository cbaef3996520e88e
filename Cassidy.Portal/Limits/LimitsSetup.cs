namespace Cassidy.Portal.Limits;

/// <summary>
/// <b>Limits</b>: what stops or warns before credits run out. Members' caps and the organization's default cap
/// (<see cref="MemberCaps"/>, the effective-cap rule in one place), alert rules and their history
/// (<see cref="AlertRules"/>), the background <see cref="AlertEvaluator"/> that fires them once per threshold, the
/// exhausted / replenished / limit-reached announcements (<see cref="CreditStateAlerts"/>), and the 80 % / 100 % rule
/// (<see cref="UsageLevels"/>). Reads the Ledger; speaks through Notifications and Webhooks.
/// </summary>
public static class LimitsSetup
{
    public static IServiceCollection AddLimits(this IServiceCollection services)
    {
        services.AddSingleton<CreditStateAlerts>();
        services.AddSingleton<AlertEvaluator>();
        services.AddHostedService(sp => sp.GetRequiredService<AlertEvaluator>());
        services.AddScoped<AlertRules>();
        services.AddScoped<MemberCaps>();
        return services;
    }
}
