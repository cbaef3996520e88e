using Cassidy.Portal.Ledger;

namespace Cassidy.Portal.Billing;

/// <summary>
/// Once a minute: closes due billing periods of every organization, expires due grants and stamps expired holds, and voids
/// payments whose plan change never happened. Nothing depends on it having run for the money: every read or write for an
/// organization closes its due periods first.
/// </summary>
public sealed class PeriodCloser(CreditLedger ledger, IServiceScopeFactory scopes, TimeProvider clock, IConfiguration configuration,
    ILogger<PeriodCloser> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromSeconds(Math.Max(1, configuration.GetValue("Metering:CloseIntervalSeconds", 60)));
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var closed = await ledger.CloseAllDuePeriodsAsync();
                if (closed > 0) logger.LogInformation("Closed due billing periods of {Count} organizations.", closed);
                await using var scope = scopes.CreateAsyncScope();
                var plans = scope.ServiceProvider.GetRequiredService<PlanChanges>();
                var voided = await plans.VoidAbandonedPaymentsAsync(stoppingToken);
                if (voided > 0) logger.LogWarning("Voided {Count} payments whose plan change never happened.", voided);
                var invoiced = await plans.IssuePeriodInvoicesAsync(stoppingToken);
                if (invoiced > 0) logger.LogInformation("Issued {Count} invoices for new billing periods.", invoiced);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogError(ex, "Closing due billing periods failed; retrying at the next tick.");
            }
            try { await Task.Delay(interval, clock, stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }
}
