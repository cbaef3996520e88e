using Cassidy.Portal.Data;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Notifications;
using Cassidy.Portal.Security;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Organizations;

/// <summary>
/// The ledger check in the background (LEDGER.md, "The ledger check"): every few minutes the incremental check of every
/// organization (so the Overview's own check has little to read), and once a day the full check of every entry and rollup,
/// whose time and result the Overview shows. A mismatch is an alert to staff — a bell notification and an e-mail to every
/// staff account, once per organization and problem — and an error in the log, never a slow page.
/// </summary>
public sealed class LedgerAudit(CreditLedger ledger, IDbContextFactory<PortalDbContext> dbFactory, NotificationCenter notifications,
    TimeProvider clock, IConfiguration configuration, ILogger<LedgerAudit> logger) : BackgroundService
{
    private TimeSpan Interval => TimeSpan.FromMinutes(Math.Max(0.01, configuration.GetValue("LedgerCheck:VerifyMinutes", 5.0)));
    private TimeSpan FullEvery => TimeSpan.FromHours(Math.Max(0.01, configuration.GetValue("LedgerCheck:FullHours", 24.0)));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try { await RunOnceAsync(stoppingToken); }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogError(ex, "The background ledger check failed; retrying at the next tick.");
            }
            try { await Task.Delay(Interval, clock, stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    /// <summary>One round: each organization checked incrementally, or in full when its last full check is a day old or its days were re-keyed.</summary>
    public async Task RunOnceAsync(CancellationToken ct = default)
    {
        List<(int Id, bool FullDue)> organizations;
        var dueBefore = clock.GetUtcNow().UtcDateTime - FullEvery;
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
            // Full when none ran for a day, or the daily rollups were re-keyed in another zone since the last good point (or
            // are being rebuilt: the full check compares what has been folded in so far).
            organizations = (await db.CreditAccounts.AsNoTracking()
                    .GroupJoin(db.LedgerCheckpoints.AsNoTracking(), a => a.OrganizationId, c => c.OrganizationId, (a, c) => new { a, c })
                    .SelectMany(x => x.c.DefaultIfEmpty(), (x, c) => new
                    {
                        x.a.OrganizationId,
                        FullDue = c == null || c.FullCheckedAt == null || c.FullCheckedAt <= dueBefore || c.RollupTimeZone != (x.a.DailyRollupsBuiltBefore == null ? x.a.RollupTimeZone : null),
                    })
                    .ToListAsync(ct))
                .Select(o => (o.OrganizationId, o.FullDue)).ToList();
        foreach (var (id, fullDue) in organizations)
        {
            ct.ThrowIfCancellationRequested();
            string? problem;
            if (fullDue)
            {
                var full = await ledger.FullCheckAsync(id);
                problem = full.Problem;
            }
            else problem = (await ledger.VerifyAsync(id)).Problem;
            await ReportAsync(id, problem, ct);
        }
    }

    /// <summary>Tells staff about a problem the first time it is seen (and again if it changes); forgets it once the books add up.</summary>
    private async Task ReportAsync(int organizationId, string? problem, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var checkpoint = await db.LedgerCheckpoints.SingleOrDefaultAsync(c => c.OrganizationId == organizationId, ct);
        if (checkpoint is null || checkpoint.ReportedProblem == problem) return;
        checkpoint.ReportedProblem = problem;
        IReadOnlyList<string> told = [];
        if (problem is not null)
        {
            var organization = await db.Organizations.AsNoTracking().Where(o => o.Id == organizationId).Select(o => new { o.Name, o.Slug }).SingleAsync(ct);
            logger.LogError("The books of organization {OrganizationId} ({Slug}) do not add up: {Problem}.", organizationId, organization.Slug, problem);
            var staff = await db.UserRoles.Join(db.Roles.Where(r => r.Name == OrgPolicies.Staff), ur => ur.RoleId, r => r.Id, (ur, _) => ur.UserId)
                .Join(db.Users, id => id, u => u.Id, (_, u) => new Recipient(u.Id, u.Email ?? "", u.DisplayName)).ToListAsync(ct);
            told = notifications.Tell(db, staff, null, new Message($"Ledger check failed: {organization.Name}",
                    $"The books of {organization.Name} ({organization.Slug}) do not add up: {problem}. Nothing was changed; look into it before the next invoice.",
                    "/staff"),
                "ledger-check", $"ledger-check:{organizationId}:{problem}");
        }
        await db.SaveChangesAsync(ct);
        notifications.Delivered(told);
    }
}
