using Cassidy.Portal.Data;
using Microsoft.EntityFrameworkCore;
using Cassidy.Portal.Ledger;

namespace Cassidy.Portal.Usage;

/// <summary>A grant as the Overview lists it: what the balance is made of.</summary>
public sealed record GrantLine(long Id, string Kind, long Amount, long Remaining, DateTime StartsAt, DateTime? ExpiresAt, string? Reason);

/// <summary>A line of recent ledger activity: a grant, expiry, rollover or adjustment, or one day's usage total.</summary>
public sealed record ActivityLine(DateTime At, string Kind, string Description, long Amount, bool IsDailyUsage);

/// <summary>When the balance runs out at the recent burn rate; null date = it lasts beyond the reset.</summary>
public sealed record RunOutProjection(long DailyBurn, DateTime? RunsOutAt, bool LastsBeyondReset);

/// <param name="RolloverPercent">Enterprise agreements: the share of the allowance that unused credits may carry into the next period.</param>
public sealed record CreditSummary(BalanceSnapshot Balance, IReadOnlyList<GrantLine> Grants, RunOutProjection Projection, int? RolloverPercent = null)
{
    public long Available => Balance.Available;
    public bool OutOfCredits => Balance.OutOfCredits;
}

/// <summary>
/// The read side of the Overview page and the settings header: balance, grants, projection and recent activity.
/// Usage totals come from the hourly rollups, never from the raw events.
/// </summary>
public sealed class OverviewReport(CreditLedger ledger, IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock)
{
    /// <summary>Days of usage the run-out projection averages over.</summary>
    public const int BurnWindowDays = 7;

    public async Task<CreditSummary?> SummaryAsync(int organizationId, CancellationToken ct = default)
    {
        var balance = await ledger.GetBalanceAsync(organizationId);
        if (balance is null) return null;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var now = clock.GetUtcNow().UtcDateTime;
        var grants = await db.CreditGrants.AsNoTracking()
            .Where(g => g.OrganizationId == organizationId && g.RemainingMillicredits != 0 && g.ExpiredAt == null)
            .OrderBy(g => g.ExpiresAt == null).ThenBy(g => g.ExpiresAt).ThenBy(g => g.Id)
            .Select(g => new GrantLine(g.Id, g.Kind, g.AmountMillicredits, g.RemainingMillicredits, g.StartsAt, g.ExpiresAt, g.Reason))
            .ToListAsync(ct);

        var rollover = await db.Organizations.Where(o => o.Id == organizationId).Select(o => o.RolloverCapPercent).SingleOrDefaultAsync(ct);
        return new CreditSummary(balance, grants, Project(balance.Available, await DailyBurnAsync(db, organizationId, now, ct), now, balance.PeriodEnd),
            rollover);
    }

    /// <summary>Millicredits used per day on average over the last <see cref="BurnWindowDays"/> days (from the hourly rollups).</summary>
    public static async Task<long> DailyBurnAsync(PortalDbContext db, int organizationId, DateTime now, CancellationToken ct)
    {
        var since = now.AddDays(-BurnWindowDays);
        var burned = await db.UsageRollups.Where(r => r.OrganizationId == organizationId && r.HourStart >= since)
            .SumAsync(r => r.CreditsMillicredits, ct);
        return burned / BurnWindowDays;
    }

    /// <summary>Pure projection: at <paramref name="dailyBurn"/> a day, when does <paramref name="available"/> reach zero?</summary>
    public static RunOutProjection Project(long available, long dailyBurn, DateTime now, DateTime periodEnd)
    {
        if (available <= 0) return new RunOutProjection(dailyBurn, now, false);
        if (dailyBurn <= 0) return new RunOutProjection(0, null, true);
        var runsOut = now.AddDays((double)available / dailyBurn);
        return runsOut >= periodEnd ? new RunOutProjection(dailyBurn, null, true) : new RunOutProjection(dailyBurn, runsOut, false);
    }

    /// <summary>
    /// Recent activity, newest first: every non-usage ledger entry (by their own partial index), and usage folded into one
    /// line per day (days in the organization's time zone, from the daily rollups).
    /// </summary>
    public async Task<IReadOnlyList<ActivityLine>> ActivityAsync(int organizationId, TimeZoneInfo zone, int days, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var since = clock.GetUtcNow().UtcDateTime.AddDays(-days);
        var entries = await db.LedgerEntries.AsNoTracking()
            .Where(e => e.OrganizationId == organizationId && e.Kind != LedgerKinds.Usage && e.OccurredAt >= since)
            .Select(e => new ActivityLine(e.OccurredAt, e.Kind, e.Description ?? e.Kind, e.AmountMillicredits, false))
            .ToListAsync(ct);
        // One line per local day: from the daily rollups when they are keyed in this zone (a row per day, model and
        // feature), else from the hourly ones (while a time-zone change is being applied).
        var keyedIn = await db.CreditAccounts.Where(a => a.OrganizationId == organizationId)
            .Select(a => a.DailyRollupsBuiltBefore == null ? a.RollupTimeZone : null).SingleOrDefaultAsync(ct);
        IEnumerable<(DateTime Day, long Credits, long Calls)> perDay;
        if (keyedIn == zone.Id)
        {
            var firstDay = DateOnly.FromDateTime(TimeZoneInfo.ConvertTimeFromUtc(since, zone));
            perDay = (await db.DailyModelRollups.AsNoTracking()
                    .Where(r => r.OrganizationId == organizationId && r.Day >= firstDay)
                    .GroupBy(r => r.Day).Select(g => new { g.Key, Credits = g.Sum(r => r.CreditsMillicredits), Calls = g.Sum(r => r.Calls) })
                    .ToListAsync(ct))
                .Select(d => (d.Key.ToDateTime(TimeOnly.MinValue), d.Credits, d.Calls));
        }
        else
        {
            var hours = await db.UsageRollups.AsNoTracking()
                .Where(r => r.OrganizationId == organizationId && r.HourStart >= since)
                .GroupBy(r => r.HourStart).Select(g => new { Hour = g.Key, Credits = g.Sum(r => r.CreditsMillicredits), Calls = g.Sum(r => r.Calls) })
                .ToListAsync(ct);
            perDay = hours.GroupBy(h => TimeZoneInfo.ConvertTimeFromUtc(h.Hour, zone).Date)
                .Select(g => (g.Key, g.Sum(h => h.Credits), g.Sum(h => h.Calls)));
        }
        var daily = perDay.Select(d => new ActivityLine(TimeZoneInfo.ConvertTimeToUtc(DateTime.SpecifyKind(d.Day, DateTimeKind.Unspecified), zone), LedgerKinds.Usage,
            $"Usage: {d.Calls:N0} AI calls", -d.Credits, true));
        return entries.Concat(daily).OrderByDescending(a => a.At).ToList();
    }
}
