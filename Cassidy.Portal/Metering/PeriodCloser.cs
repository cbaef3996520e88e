namespace Cassidy.Portal.Metering;

/// <summary>
/// Closes due billing periods (and expires due grants) of every organization, once a minute. Nothing depends on it
/// having run: every read or write for an organization closes its due periods first.
/// </summary>
public sealed class PeriodCloser(CreditLedger ledger, TimeProvider clock, IConfiguration configuration, ILogger<PeriodCloser> logger)
    : BackgroundService
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
