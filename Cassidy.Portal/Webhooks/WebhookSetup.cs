namespace Cassidy.Portal.Webhooks;

/// <summary>
/// Alert channels: webhooks (signed, Standard Webhooks) and Slack. Events are written into the outbox-like
/// <c>WebhookDeliveries</c> table in the transaction that causes them (alert firings, changes of credit state) and sent by
/// <see cref="WebhookDispatcher"/>. Uses the data layer, the ledger's read side, notifications and the e-mail outbox.
/// </summary>
public static class WebhookSetup
{
    public static IServiceCollection AddWebhooks(this IServiceCollection services)
    {
        services.AddSingleton(sp => WebhookAddress.From(sp.GetRequiredService<IConfiguration>(), sp.GetService<IHostEnvironment>()));
        services.AddSingleton<WebhookDispatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<WebhookDispatcher>());
        services.AddScoped<WebhookEndpoints>();
        return services;
    }
}
