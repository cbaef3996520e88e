using Cassidy.Portal.Data;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Ledger;

/// <summary>
/// Rebuilds an organization's daily rollups after its time zone changed (LEDGER.md, "A time-zone change"), outside the
/// writer's critical path: one small writer step at a time (<see cref="CreditLedger.RebuildDailyRollupsStepAsync"/>), so
/// every other organization's ingest waits at most one step, never the whole rebuild. Until it is done the pages read the
/// hourly rollups for that organization, which are exact in any zone. Looks for unfinished rebuilds every second, so one
/// interrupted by a restart carries on where the database says it stopped.
/// </summary>
public sealed class DailyRollupRebuilder(CreditLedger ledger, IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock,
    ILogger<DailyRollupRebuilder> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try { await RunOnceAsync(ct: stoppingToken); }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogError(ex, "Rebuilding daily rollups failed; retrying in a second.");
            }
            try { await Task.Delay(TimeSpan.FromSeconds(1), clock, stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    /// <summary>
    /// Finishes every rebuild the database says is under way; returns how many organizations it finished. Steps are sized
    /// by time (<see cref="CreditLedger.RebuildStepTime"/>) unless <paramref name="maxRows"/> fixes them (the simulation,
    /// whose runs must not depend on the machine's speed).
    /// </summary>
    public async Task<int> RunOnceAsync(int? maxRows = null, CancellationToken ct = default)
    {
        List<int> rebuilding;
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
            rebuilding = await db.CreditAccounts.AsNoTracking().Where(a => a.DailyRollupsBuiltBefore != null)
                .Select(a => a.OrganizationId).ToListAsync(ct);
        foreach (var organizationId in rebuilding)
        {
            var started = clock.GetTimestamp();
            var steps = await ledger.RebuildDailyRollupsAsync(organizationId, maxRows, ct);
            logger.LogInformation("Daily rollups of organization {OrganizationId} rebuilt for its new time zone in {Steps} steps, {Seconds:0.0} s.",
                organizationId, steps, clock.GetElapsedTime(started).TotalSeconds);
        }
        return rebuilding.Count;
    }
}
