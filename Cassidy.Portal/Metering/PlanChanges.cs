using Cassidy.Portal.Data;
using Cassidy.Portal.Organizations;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Metering;

/// <summary>What an upgrade would do, shown before the admin confirms it.</summary>
public sealed record UpgradeQuote(string FromPlan, string ToPlan, long CreditsAddedNow, long ChargeCents, DateTime PeriodStart, DateTime ResetsAt);

/// <summary>A plan change offered on the Plan &amp; billing page, or why it isn't.</summary>
public sealed record PlanOption(PlanDefinition Plan, bool IsCurrent, bool IsScheduled, string? Action, string? Unavailable);

/// <summary>An Enterprise agreement as staff set it.</summary>
public sealed record EnterpriseAgreement(long MonthlyCredits, int RolloverCapPercent, int Members, int StorageGb, int MeetingHours);

/// <summary>
/// Plans and the money side of credits (SPEC §3.3): upgrades take effect at once (the difference in monthly credits
/// granted for the rest of the period, the prorated price difference invoiced); downgrades wait for the next period
/// and can be cancelled until then; Enterprise is set by staff only, as are credit packages and adjustments.
/// Every change is audited.
/// </summary>
public sealed class PlanChanges(
    CreditLedger ledger,
    PlanCatalog plans,
    IPaymentCapture payments,
    IDbContextFactory<PortalDbContext> dbFactory,
    TimeProvider clock)
{
    public const string UpgradeAction = "upgrade";
    public const string DowngradeAction = "downgrade";
    public static readonly TimeSpan DefaultPackageLifetime = TimeSpan.FromDays(365);

    private DateTime Now => clock.GetUtcNow().UtcDateTime;

    public async Task<IReadOnlyList<PlanOption>> OptionsAsync(int organizationId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var org = await db.Organizations.AsNoTracking().SingleAsync(o => o.Id == organizationId, ct);
        var members = await db.Memberships.CountAsync(m => m.OrganizationId == organizationId, ct);
        var current = plans.Get(org.Plan);
        return plans.All.Select(p =>
        {
            if (p.Name == current.Name) return new PlanOption(p, true, false, null, null);
            if (!p.SelfServe) return new PlanOption(p, false, false, null, "Set up with our team: contact sales.");
            if (p.MonthlyCredits > current.MonthlyCredits && current.SelfServe) return new PlanOption(p, false, false, UpgradeAction, null);
            if (!current.SelfServe) return new PlanOption(p, false, false, null, "Your Enterprise agreement is managed by your account manager.");
            var scheduled = string.Equals(org.ScheduledPlan, p.Name, StringComparison.OrdinalIgnoreCase);
            var tooMany = members > p.Members ? $"{org.Name} has {members} members; {p.Name} allows {p.Members}." : null;
            return new PlanOption(p, false, scheduled, tooMany is null ? DowngradeAction : null, tooMany);
        }).ToList();
    }

    public async Task<UpgradeQuote?> QuoteUpgradeAsync(int organizationId, string toPlan, CancellationToken ct = default)
    {
        var balance = await ledger.GetBalanceAsync(organizationId);
        var target = plans.Find(toPlan);
        if (balance is null || target is null) return null;
        var from = plans.Get(balance.Plan);
        var now = Now;
        var credits = Math.Max(0, target.MonthlyMillicredits - plans.MonthlyAllowanceMillicredits(from.Name, null));
        return new UpgradeQuote(from.Name, target.Name, credits, ProratedCents(from, target, balance.PeriodStart, balance.PeriodEnd, now),
            balance.PeriodStart, balance.PeriodEnd);
    }

    /// <summary>The price difference for the rest of the period, to the cent (rounded half away from zero).</summary>
    public static long ProratedCents(PlanDefinition from, PlanDefinition to, DateTime periodStart, DateTime periodEnd, DateTime now)
    {
        var left = (decimal)(periodEnd - now).Ticks / (periodEnd - periodStart).Ticks;
        var cents = (to.PricePerMonthUsd - from.PricePerMonthUsd) * 100m * Math.Clamp(left, 0m, 1m);
        return (long)Math.Round(Math.Max(0m, cents), MidpointRounding.AwayFromZero);
    }

    public async Task<(ChangeResult Result, UpgradeQuote? Quote)> UpgradeAsync(int organizationId, AuditActor actor, string toPlan, CancellationToken ct = default)
    {
        var options = await OptionsAsync(organizationId, ct);
        var option = options.FirstOrDefault(o => string.Equals(o.Plan.Name, toPlan, StringComparison.OrdinalIgnoreCase));
        if (option?.Action != UpgradeAction)
            return (ChangeResult.Refused(option?.Unavailable ?? $"{toPlan} is not an upgrade from your current plan."), null);
        var quote = await QuoteUpgradeAsync(organizationId, option.Plan.Name, ct);
        if (quote is null) return (ChangeResult.Refused("The organization no longer exists."), null);

        var invoice = await payments.CaptureAsync(organizationId, $"Upgrade from {quote.FromPlan} to {quote.ToPlan} (prorated to {quote.ResetsAt:d MMM yyyy})",
            quote.ChargeCents, Now, quote.ResetsAt, ct);
        try
        {
            await ledger.UpgradeNowAsync(organizationId, quote.ToPlan, actor.UserId);
        }
        catch
        {
            await payments.VoidAsync(invoice.Id, CancellationToken.None);
            throw;
        }
        await AuditAsync(organizationId, actor, "plan.upgraded", "Plan", quote.FromPlan, quote.ToPlan, ct);
        return (ChangeResult.Ok, quote);
    }

    public async Task<ChangeResult> ScheduleDowngradeAsync(int organizationId, AuditActor actor, string toPlan, CancellationToken ct = default)
    {
        var option = (await OptionsAsync(organizationId, ct)).FirstOrDefault(o => string.Equals(o.Plan.Name, toPlan, StringComparison.OrdinalIgnoreCase));
        if (option?.Action != DowngradeAction)
            return ChangeResult.Refused(option?.Unavailable ?? $"{toPlan} is not a downgrade from your current plan.");
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
        {
            var org = await db.Organizations.SingleAsync(o => o.Id == organizationId, ct);
            var before = org.ScheduledPlan;
            org.ScheduledPlan = option.Plan.Name;
            AuditLog.Record(db, organizationId, actor, "plan.downgrade_scheduled", "Plan", before ?? org.Plan, option.Plan.Name, Now);
            await db.SaveChangesAsync(ct);
        }
        await ledger.ReloadAsync(organizationId);
        return ChangeResult.Ok;
    }

    public async Task<ChangeResult> CancelDowngradeAsync(int organizationId, AuditActor actor, CancellationToken ct = default)
    {
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
        {
            var org = await db.Organizations.SingleAsync(o => o.Id == organizationId, ct);
            if (org.ScheduledPlan is null) return ChangeResult.Refused("No downgrade is scheduled.");
            AuditLog.Record(db, organizationId, actor, "plan.downgrade_cancelled", "Plan", org.ScheduledPlan, org.Plan, Now);
            org.ScheduledPlan = null;
            await db.SaveChangesAsync(ct);
        }
        await ledger.ReloadAsync(organizationId);
        return ChangeResult.Ok;
    }

    public async Task<string?> ScheduledPlanAsync(int organizationId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Organizations.Where(o => o.Id == organizationId).Select(o => o.ScheduledPlan).SingleAsync(ct);
    }

    public async Task<IReadOnlyList<Invoice>> InvoicesAsync(int organizationId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Invoices.AsNoTracking().Where(i => i.OrganizationId == organizationId)
            .OrderByDescending(i => i.IssuedAt).ThenByDescending(i => i.Id).ToListAsync(ct);
    }

    // ---- staff -----------------------------------------------------------------------------------------------------

    public async Task<ChangeResult> GrantPackageAsync(int organizationId, AuditActor staff, decimal credits, DateTime? expiresAt, string reason,
        CancellationToken ct = default)
    {
        if (credits <= 0 || credits > 100_000_000) return ChangeResult.Refused("Enter a number of credits between 0.001 and 100,000,000.", "credits");
        if (decimal.Round(credits, 3) != credits) return ChangeResult.Refused("Credits have at most 3 decimals.", "credits");
        if (string.IsNullOrWhiteSpace(reason)) return ChangeResult.Refused("Say why the package is granted (it is shown to the organization's admins).", "reason");
        var expiry = expiresAt ?? Now + DefaultPackageLifetime;
        if (expiry <= Now) return ChangeResult.Refused("The expiry must be in the future.", "expiresAt");
        await ledger.GrantAsync(organizationId, GrantKinds.CreditPackage, (long)(credits * 1000), expiry, reason.Trim(), staff.UserId);
        await AuditAsync(organizationId, staff, "staff.credit_package_granted", "Credits", null, $"+{credits:0.###} credits, expires {expiry:yyyy-MM-dd} ({reason.Trim()})", ct);
        return ChangeResult.Ok;
    }

    public async Task<ChangeResult> AdjustAsync(int organizationId, AuditActor staff, decimal credits, string reason, CancellationToken ct = default)
    {
        if (credits == 0 || Math.Abs(credits) > 100_000_000) return ChangeResult.Refused("Enter a non-zero number of credits (negative to take credits away).", "credits");
        if (decimal.Round(credits, 3) != credits) return ChangeResult.Refused("Credits have at most 3 decimals.", "credits");
        if (string.IsNullOrWhiteSpace(reason)) return ChangeResult.Refused("Say why the balance is corrected.", "reason");
        await ledger.GrantAsync(organizationId, GrantKinds.Adjustment, (long)(credits * 1000), null, reason.Trim(), staff.UserId);
        await AuditAsync(organizationId, staff, "staff.adjustment", "Credits", null, $"{credits:+0.###;-0.###} credits ({reason.Trim()})", ct);
        return ChangeResult.Ok;
    }

    /// <summary>Puts the organization on an Enterprise agreement at once; more monthly credits than before are granted for the rest of the period.</summary>
    public async Task<ChangeResult> SetEnterpriseAsync(int organizationId, AuditActor staff, EnterpriseAgreement agreement, CancellationToken ct = default)
    {
        if (agreement.MonthlyCredits is <= 0 or > 100_000_000) return ChangeResult.Refused("Monthly credits must be between 1 and 100,000,000.", "monthlyCredits");
        if (agreement.RolloverCapPercent is < 0 or > 100) return ChangeResult.Refused("Rollover cap is a percentage from 0 to 100.", "rolloverCapPercent");
        if (agreement.Members < 1 || agreement.StorageGb < 0 || agreement.MeetingHours < 0) return ChangeResult.Refused("Limits must be positive numbers.", "members");
        string before;
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
        {
            var org = await db.Organizations.SingleAsync(o => o.Id == organizationId, ct);
            var members = await db.Memberships.CountAsync(m => m.OrganizationId == organizationId, ct);
            if (members > agreement.Members) return ChangeResult.Refused($"{org.Name} already has {members} members.", "members");
            before = org.Plan == PlanCatalog.Enterprise
                ? $"Enterprise {org.EnterpriseMonthlyCredits:N0} credits, rollover {org.RolloverCapPercent ?? 0}%"
                : org.Plan;
            org.EnterpriseMonthlyCredits = agreement.MonthlyCredits;
            org.RolloverCapPercent = agreement.RolloverCapPercent;
            org.EnterpriseMembers = agreement.Members;
            org.EnterpriseStorageGb = agreement.StorageGb;
            org.EnterpriseMeetingHours = agreement.MeetingHours;
            await db.SaveChangesAsync(ct);
        }
        await ledger.ReloadAsync(organizationId);
        await ledger.UpgradeNowAsync(organizationId, PlanCatalog.Enterprise, staff.UserId);
        await AuditAsync(organizationId, staff, "staff.enterprise_agreement", "Plan", before,
            $"Enterprise {agreement.MonthlyCredits:N0} credits, rollover {agreement.RolloverCapPercent}%, {agreement.Members} members, {agreement.StorageGb} GB, {agreement.MeetingHours} h", ct);
        return ChangeResult.Ok;
    }

    private async Task AuditAsync(int organizationId, AuditActor actor, string action, string target, string? before, string? after, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        AuditLog.Record(db, organizationId, actor, action, target, before, after, Now);
        await db.SaveChangesAsync(ct);
    }
}
