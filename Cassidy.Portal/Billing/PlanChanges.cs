using System.Security.Cryptography;
using Cassidy.Portal.Data;
using Cassidy.Portal.Notifications;
using Cassidy.Portal.Organizations;
using Microsoft.EntityFrameworkCore;
using Cassidy.Portal.Ledger;

namespace Cassidy.Portal.Billing;

/// <summary>
/// What an upgrade would do, shown before the admin confirms it. Its id makes the payment idempotent and the change
/// happen once however often (or by however many admins) it is confirmed; it is good for <see cref="PlanChanges.QuoteLifetime"/>.
/// </summary>
public sealed record UpgradeQuote(string Id, string FromPlan, string ToPlan, long CreditsAddedNow, long ChargeCents, DateTime PeriodStart,
    DateTime ResetsAt, DateTime QuotedAt);

/// <summary>A plan change offered on the Plan &amp; billing page, or why it isn't.</summary>
public sealed record PlanOption(PlanDefinition Plan, bool IsCurrent, bool IsScheduled, string? Action, string? Unavailable);

/// <summary>An Enterprise agreement as staff set it.</summary>
public sealed record EnterpriseAgreement(long MonthlyCredits, int RolloverCapPercent, int Members, int StorageGb, int MeetingHours);

/// <summary>
/// Plans and the money side of credits (SPEC §3.3): upgrades take effect at once (the difference in monthly credits
/// granted for the rest of the period, the prorated price difference invoiced); downgrades wait for the next period
/// and can be cancelled until then; Enterprise is set by staff only, as are credit packages and adjustments.
/// Every change to the plan is one writer operation (<see cref="CreditLedger.ChangePlanAsync"/>), and every change is audited.
/// </summary>
public sealed class PlanChanges(
    CreditLedger ledger,
    PlanCatalog plans,
    IPaymentCapture payments,
    IDbContextFactory<PortalDbContext> dbFactory,
    NotificationCenter notifications,
    TimeProvider clock)
{
    public const string UpgradeAction = "upgrade";
    public const string DowngradeAction = "downgrade";
    public static readonly TimeSpan DefaultPackageLifetime = TimeSpan.FromDays(365);
    /// <summary>How long a quote can be confirmed; a payment taken for a quote whose change never happened is voided after it.</summary>
    public static readonly TimeSpan QuoteLifetime = TimeSpan.FromMinutes(10);

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
        return new UpgradeQuote("quote_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12)), from.Name, target.Name, credits,
            ProratedCents(from, target, balance.PeriodStart, balance.PeriodEnd, now), balance.PeriodStart, balance.PeriodEnd, now);
    }

    /// <summary>The price difference for the rest of the period, to the cent (rounded half away from zero).</summary>
    public static long ProratedCents(PlanDefinition from, PlanDefinition to, DateTime periodStart, DateTime periodEnd, DateTime now)
    {
        var left = (decimal)(periodEnd - now).Ticks / (periodEnd - periodStart).Ticks;
        var cents = (to.PricePerMonthUsd - from.PricePerMonthUsd) * 100m * Math.Clamp(left, 0m, 1m);
        return (long)Math.Round(Math.Max(0m, cents), MidpointRounding.AwayFromZero);
    }

    /// <summary>Quotes the upgrade and confirms it at once (scripts, tests): the page confirms the quote the admin saw.</summary>
    public async Task<(ChangeResult Result, UpgradeQuote? Quote)> UpgradeAsync(int organizationId, AuditActor actor, string toPlan, CancellationToken ct = default) =>
        await QuoteUpgradeAsync(organizationId, toPlan, ct) is { } quote
            ? await UpgradeAsync(organizationId, actor, quote, ct)
            : (ChangeResult.Refused($"{toPlan} is not a plan this organization can choose."), null);

    /// <summary>
    /// The admin confirmed <paramref name="quote"/>: the payment is captured (once per quote), then one writer operation
    /// compares the plan quoted with the plan now, carries the upgrade out and marks the payment used — or changes nothing,
    /// and the payment is voided. Two admins confirming at the same moment: one upgrade, one payment.
    /// </summary>
    public async Task<(ChangeResult Result, UpgradeQuote? Quote)> UpgradeAsync(int organizationId, AuditActor actor, UpgradeQuote quote,
        CancellationToken ct = default)
    {
        var options = await OptionsAsync(organizationId, ct);
        var option = options.FirstOrDefault(o => string.Equals(o.Plan.Name, quote.ToPlan, StringComparison.OrdinalIgnoreCase));
        if (option?.Action != UpgradeAction)
            return (ChangeResult.Refused(option?.Unavailable ?? $"{quote.ToPlan} is not an upgrade from your current plan."), null);
        if (Now - quote.QuotedAt > QuoteLifetime)
            return (ChangeResult.Refused("This price was quoted more than 10 minutes ago. Close this window and review the current price."), null);

        var invoice = await payments.CaptureAsync(organizationId, quote.Id,
            $"Upgrade from {quote.FromPlan} to {quote.ToPlan} (prorated to {quote.ResetsAt:d MMM yyyy})", quote.ChargeCents, Now, quote.ResetsAt, ct);
        PlanChangeOutcome outcome;
        try
        {
            outcome = await ledger.ChangePlanAsync(organizationId, new PlanChange(quote.ToPlan, quote.FromPlan, quote.Id, null, actor.UserId,
                $"Upgrade to {quote.ToPlan}: extra monthly credits for the rest of this period"));
        }
        catch
        {
            await payments.VoidAsync(invoice.Id, CancellationToken.None); // nothing changed: nothing is charged
            throw;
        }
        if (!outcome.Applied)
        {
            await payments.VoidAsync(invoice.Id, CancellationToken.None);
            return (ChangeResult.Refused($"{outcome.Refusal} You were not charged."), null);
        }
        if (!outcome.AlreadyApplied) await AuditAsync(organizationId, actor, AuditActions.PlanUpgraded, "Plan", quote.FromPlan, quote.ToPlan, ct);
        return (ChangeResult.Ok, quote);
    }

    /// <summary>
    /// Payments taken for quotes whose plan change never happened (the process stopped between the two): voided once the
    /// quote can no longer be confirmed. Run by the background closer. Returns how many.
    /// </summary>
    public async Task<int> VoidAbandonedPaymentsAsync(CancellationToken ct = default)
    {
        var cutoff = Now - QuoteLifetime;
        List<long> abandoned;
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
            abandoned = await db.Invoices.Where(i => i.Status == InvoiceStatuses.Issued && i.QuoteId != null && i.AppliedAt == null && i.IssuedAt <= cutoff)
                .Select(i => i.Id).ToListAsync(ct);
        foreach (var id in abandoned) await payments.VoidAsync(id, ct);
        return abandoned.Count;
    }

    public async Task<ChangeResult> ScheduleDowngradeAsync(int organizationId, AuditActor actor, string toPlan, CancellationToken ct = default)
    {
        var option = (await OptionsAsync(organizationId, ct)).FirstOrDefault(o => string.Equals(o.Plan.Name, toPlan, StringComparison.OrdinalIgnoreCase));
        if (option?.Action != DowngradeAction)
            return ChangeResult.Refused(option?.Unavailable ?? $"{toPlan} is not a downgrade from your current plan.");
        var before = await ScheduledPlanAsync(organizationId, ct);
        await ledger.SchedulePlanAsync(organizationId, option.Plan.Name);
        await AuditAsync(organizationId, actor, AuditActions.DowngradeScheduled, "Plan", before ?? (await ledger.GetBalanceAsync(organizationId))?.Plan,
            option.Plan.Name, ct);
        return ChangeResult.Ok;
    }

    public async Task<ChangeResult> CancelDowngradeAsync(int organizationId, AuditActor actor, CancellationToken ct = default)
    {
        if (await ScheduledPlanAsync(organizationId, ct) is not { } scheduled) return ChangeResult.Refused("No downgrade is scheduled.");
        await ledger.SchedulePlanAsync(organizationId, null);
        await AuditAsync(organizationId, actor, AuditActions.DowngradeCancelled, "Plan", scheduled, (await ledger.GetBalanceAsync(organizationId))?.Plan, ct);
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

    public async Task<Invoice?> InvoiceAsync(int organizationId, long invoiceId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Invoices.AsNoTracking().SingleOrDefaultAsync(i => i.Id == invoiceId && i.OrganizationId == organizationId, ct);
    }

    /// <summary>
    /// A paid plan is invoiced at the start of each billing period: one invoice per organization and period (its key names both,
    /// so a second run issues nothing), unless the period already has one (an upgrade's prorated charge covers the rest of
    /// the period it happened in). Runs with the period closer; returns how many were issued.
    /// </summary>
    public async Task<int> IssuePeriodInvoicesAsync(CancellationToken ct = default)
    {
        var paid = plans.All.Where(p => p.PricePerMonthUsd > 0).Select(p => p.Name).ToList();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var orgs = await db.Organizations.AsNoTracking().Where(o => paid.Contains(o.Plan))
            .Select(o => new { o.Id, o.Plan, o.BillingAnchor }).ToListAsync(ct);
        // One read of the invoices that can cover a current period (a period is at most a month): not a query per organization.
        var since = Now.AddDays(-32);
        var recent = (await db.Invoices.AsNoTracking().Where(i => i.Status != InvoiceStatuses.Void && i.PeriodEnd > since)
                .Select(i => new { i.OrganizationId, i.PeriodStart, i.PeriodEnd }).ToListAsync(ct))
            .ToLookup(i => i.OrganizationId);
        var issued = 0;
        foreach (var org in orgs)
        {
            var period = BillingPeriods.Containing(org.BillingAnchor, Now);
            if (recent[org.Id].Any(i => i.PeriodEnd > period.Start && i.PeriodStart < period.End)) continue;
            var plan = plans.Get(org.Plan);
            db.Invoices.Add(new Invoice
            {
                OrganizationId = org.Id, Number = InvoiceNumber(Now), AmountCents = (long)(plan.PricePerMonthUsd * 100),
                Description = $"{plan.Name} plan, monthly subscription",
                Status = InvoiceStatuses.Issued, IssuedAt = Now, PeriodStart = period.Start, PeriodEnd = period.End,
                QuoteId = $"period:{period.Start:yyyy-MM-dd}", AppliedAt = Now,
            });
            try
            {
                await db.SaveChangesAsync(ct);
                issued++;
            }
            catch (DbUpdateException ex) when (ex.InnerException is Microsoft.Data.Sqlite.SqliteException { SqliteErrorCode: 19 })
            {
                db.ChangeTracker.Clear(); // issued a moment ago by another run
            }
        }
        return issued;
    }

    /// <summary>INV-2026-1A2B3C4D.</summary>
    public static string InvoiceNumber(DateTime at) => $"INV-{at:yyyy}-{Guid.NewGuid().ToString("N")[..8].ToUpperInvariant()}";

    // ---- staff -----------------------------------------------------------------------------------------------------

    public async Task<ChangeResult> GrantPackageAsync(int organizationId, AuditActor staff, decimal credits, DateTime? expiresAt, string reason,
        CancellationToken ct = default)
    {
        if (credits <= 0 || credits > 100_000_000) return ChangeResult.Refused("Enter a number of credits between 0.001 and 100,000,000.", "credits");
        if (decimal.Round(credits, 3) != credits) return ChangeResult.Refused("Credits have at most 3 decimals.", "credits");
        if (string.IsNullOrWhiteSpace(reason)) return ChangeResult.Refused("Say why the package is granted (it is shown to the organization's admins).", "reason");
        var expiry = expiresAt ?? Now + DefaultPackageLifetime;
        if (expiry <= Now) return ChangeResult.Refused("The expiry must be in the future.", "expiresAt");
        var grantId = await ledger.GrantAsync(organizationId, GrantKinds.CreditPackage, Credits.Millis(credits), expiry, reason.Trim(), staff.UserId);
        await AuditAsync(organizationId, staff, AuditActions.PackageGranted, "Credits", null, $"+{credits:0.###} credits, expires {expiry:yyyy-MM-dd} ({reason.Trim()})", ct,
            org => new Message($"{Amount(credits)} credits added to {org.Name}",
                $"Cassidy support granted {org.Name} a credit package of {Amount(credits)} credits, usable until {expiry:d MMM yyyy}. Reason: {reason.Trim()}",
                $"/orgs/{org.Slug}/settings"), $"package:{grantId}");
        return ChangeResult.Ok;
    }

    public async Task<ChangeResult> AdjustAsync(int organizationId, AuditActor staff, decimal credits, string reason, CancellationToken ct = default)
    {
        if (credits == 0 || Math.Abs(credits) > 100_000_000) return ChangeResult.Refused("Enter a non-zero number of credits (negative to take credits away).", "credits");
        if (decimal.Round(credits, 3) != credits) return ChangeResult.Refused("Credits have at most 3 decimals.", "credits");
        if (string.IsNullOrWhiteSpace(reason)) return ChangeResult.Refused("Say why the balance is corrected.", "reason");
        var grantId = await ledger.GrantAsync(organizationId, GrantKinds.Adjustment, Credits.Millis(credits), null, reason.Trim(), staff.UserId);
        await AuditAsync(organizationId, staff, AuditActions.Adjustment, "Credits", null, $"{credits:+0.###;-0.###} credits ({reason.Trim()})", ct,
            org => new Message(credits > 0 ? $"{Amount(credits)} credits added to {org.Name}" : $"{Amount(-credits)} credits removed from {org.Name}'s balance",
                $"Cassidy support corrected {org.Name}'s credit balance by {(credits > 0 ? "+" : "−")}{Amount(Math.Abs(credits))} credits. Reason: {reason.Trim()}",
                $"/orgs/{org.Slug}/settings"), $"adjustment:{grantId}");
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
            var org = await db.Organizations.AsNoTracking().SingleAsync(o => o.Id == organizationId, ct);
            var members = await db.Memberships.CountAsync(m => m.OrganizationId == organizationId, ct);
            if (members > agreement.Members) return ChangeResult.Refused($"{org.Name} already has {members} members.", "members");
            before = org.Plan == PlanCatalog.Enterprise
                ? $"Enterprise {org.EnterpriseMonthlyCredits:N0} credits, rollover {org.RolloverCapPercent ?? 0}%"
                : org.Plan;
        }
        // The terms and the top-up are one writer operation: the difference is computed against the allowance in force.
        await ledger.ChangePlanAsync(organizationId, new PlanChange(PlanCatalog.Enterprise, null, null, agreement, staff.UserId,
            "Enterprise agreement: extra monthly credits for the rest of this period"));
        await AuditAsync(organizationId, staff, AuditActions.EnterpriseAgreement, "Plan", before,
            $"Enterprise {agreement.MonthlyCredits:N0} credits, rollover {agreement.RolloverCapPercent}%, {agreement.Members} members, {agreement.StorageGb} GB, {agreement.MeetingHours} h", ct);
        return ChangeResult.Ok;
    }

    /// <summary>Records the change; with <paramref name="tell"/>, the organization's admins also learn of it in the bell and by e-mail.</summary>
    private async Task AuditAsync(int organizationId, AuditActor actor, string action, string target, string? before, string? after, CancellationToken ct,
        Func<Organization, Message>? tell = null, string? key = null)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        AuditLog.Record(db, organizationId, actor, action, target, before, after, Now);
        IReadOnlyList<string> told = [];
        if (tell is not null)
        {
            var org = await db.Organizations.AsNoTracking().SingleAsync(o => o.Id == organizationId, ct);
            told = notifications.Tell(db, await NotificationCenter.AdminsAsync(db, organizationId, ct), organizationId, tell(org), "support", key!);
        }
        await db.SaveChangesAsync(ct);
        notifications.Delivered(told);
    }

    /// <summary>1500 → "1,500"; 12.5 → "12.5".</summary>
    private static string Amount(decimal credits) => credits.ToString("#,##0.###", System.Globalization.CultureInfo.InvariantCulture);
}
