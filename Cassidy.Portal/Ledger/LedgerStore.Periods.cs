using Cassidy.Portal.Billing;
using Cassidy.Portal.Data;
using Microsoft.Data.Sqlite;

namespace Cassidy.Portal.Ledger;

/// <summary>
/// Periods, grants and plans: closing every due period (expiring grants, rolling credits over, granting the next
/// allowance), adding grants and adjustments, carrying out and scheduling plan changes.
/// </summary>
internal sealed partial class LedgerStore
{
    /// <summary>
    /// Closes every period that ended by <see cref="Now"/>, month by month, expires grants whose time passed, and stamps
    /// holds whose time passed as expired.
    /// </summary>
    private void Advance(OrganizationBook book)
    {
        while (book.Period.End <= Now)
        {
            ExpireGrants(book, g => g < book.Period.End);
            ClosePeriod(book);
        }
        ExpireGrants(book, g => g <= Now);
        if (book.NextHoldExpiry is { } due && due <= Now)
        {
            _expireHolds.Bind(book.OrganizationId).Bind(Now).Execute();
            book.NextHoldExpiry = NextHoldExpiry(book.OrganizationId);
        }
    }

    private void ExpireGrants(OrganizationBook book, Func<DateTime, bool> due)
    {
        foreach (var grant in book.Grants.Where(g => g.ExpiresAt is { } at && due(at)).ToList())
        {
            var at = grant.ExpiresAt!.Value;
            var amount = book.Expire(grant);
            grant.ExpiredAt = at;
            _expired.Add(grant);
            if (amount > 0)
                Ledger(book, LedgerKinds.Expiry, -amount, at, grant.Id, null, null, $"{GrantKinds.Describe(grant.Kind)} expired");
        }
    }

    /// <summary>
    /// SPEC §3.3: what is left of the period's allowance expires (upgrade top-ups included: every monthly allowance grant
    /// expires at the end of its period); on an Enterprise agreement with rollover up to the cap carries over; a scheduled
    /// plan takes over; the new period's allowance is granted (paying any overdraft first). The allowance's unique
    /// (organization, period start) index makes a second close of the same period fail instead of granting twice.
    /// </summary>
    private void ClosePeriod(OrganizationBook book)
    {
        var closing = book.Period;
        var left = book.Grants.Where(g => g.Kind == GrantKinds.MonthlyAllowance && g.ExpiresAt == closing.End).Sum(g => g.Remaining);
        var closingAllowance = book.Allowance;
        ExpireGrants(book, g => g <= closing.End);

        if (book.ScheduledPlan is { } scheduled && _plans.Find(scheduled) is not null)
        {
            book.Plan = scheduled;
            book.ScheduledPlan = null;
            _setPlan.Bind(scheduled).Bind(book.OrganizationId).Execute();
            book.SettingsVersion = CurrentSettingsVersion(book.OrganizationId);
        }
        var next = BillingPeriods.Period(book.Anchor, closing.Index + 1);
        var isEnterprise = string.Equals(book.Plan, PlanCatalog.Enterprise, StringComparison.OrdinalIgnoreCase);
        book.LastClosedPeriodStart = closing.Start;
        book.StartPeriod(next, AllowanceOf(book));
        if (isEnterprise && book.RolloverCapPercent is > 0 and var percent && left > 0)
        {
            var carry = Math.Min(left, closingAllowance * percent / 100);
            if (carry > 0)
                AddGrant(book, GrantKinds.Rollover, carry, closing.End, next.End, null,
                    $"Rollover of unused allowance (up to {percent}%)", null, LedgerKinds.Rollover, closing.End);
        }
        AddGrant(book, GrantKinds.MonthlyAllowance, book.Allowance, closing.End, next.End, next.Start,
            $"{book.Plan} monthly allowance", null, LedgerKinds.Grant, closing.End);
    }

    private long CurrentSettingsVersion(int organizationId)
    {
        using var rows = _settingsVersion.Bind(organizationId).Query();
        return rows.Read() ? rows.GetInt64(0) : 0;
    }

    /// <summary>
    /// SPEC §3.3, one transaction: an upgrade (or new Enterprise terms) takes effect at once, and a higher allowance tops the
    /// period up by the real difference — compared here, against the plan the admin was quoted from, with the quote's
    /// invoice marked applied in the same transaction so a second confirmation (another tab, another admin) changes nothing.
    /// </summary>
    public PlanChangeOutcome ChangePlan(OrganizationBook book, PlanChange change)
    {
        var org = book.OrganizationId;
        if (change.QuoteId is { } quote)
        {
            using var invoice = _invoiceOfQuote.Bind(org).Bind(quote).Query();
            if (!invoice.Read()) return new(false, "No payment was taken for this quote.");
            if (!invoice.IsNull(1)) return new(true, AlreadyApplied: true);
            if (invoice.GetString(0) != InvoiceStatuses.Issued) return new(false, "The payment for this quote was voided.");
        }
        if (change.ExpectedFromPlan is { } from && !string.Equals(book.Plan, from, StringComparison.OrdinalIgnoreCase))
            return new(false, $"The organization is on the {book.Plan} plan now, not {from}: nothing was changed.");
        if (change.QuoteId is { } applied) _applyInvoice.Bind(Now).Bind(org).Bind(applied).Execute();

        var before = book.Allowance;
        if (change.Agreement is { } terms)
        {
            _setAgreement.Bind(change.ToPlan).Bind(terms.MonthlyCredits).Bind(terms.RolloverCapPercent).Bind(terms.Members)
                .Bind(terms.StorageGb).Bind(terms.MeetingHours).Bind(org).Execute();
            book.EnterpriseMonthlyCredits = terms.MonthlyCredits;
            book.RolloverCapPercent = terms.RolloverCapPercent;
        }
        else
        {
            _setPlan.Bind(change.ToPlan).Bind(org).Execute();
        }
        book.Plan = change.ToPlan;
        book.ScheduledPlan = null;
        book.Allowance = AllowanceOf(book);
        book.SettingsVersion = CurrentSettingsVersion(org);
        var topUp = book.Allowance - before;
        if (topUp > 0)
            AddGrant(book, GrantKinds.MonthlyAllowance, topUp, Now, book.Period.End, null, change.Reason, change.ByUserId, LedgerKinds.Grant, Now);
        return new(true);
    }

    /// <summary>
    /// A downgrade for the next period (null: none), after whatever was due has closed. Returns what is scheduled now: the
    /// writer item's result, which the simulation's reference model takes as committed.
    /// </summary>
    public string? SchedulePlan(OrganizationBook book, string? plan)
    {
        _setScheduledPlan.Bind(plan).Bind(book.OrganizationId).Execute();
        book.ScheduledPlan = plan;
        book.SettingsVersion = CurrentSettingsVersion(book.OrganizationId);
        return plan;
    }

    /// <summary>Adds a grant (positive) or a negative adjustment, with its ledger entry. Returns the grant's id.</summary>
    public long AddGrant(OrganizationBook book, string kind, long amount, DateTime startsAt, DateTime? expiresAt, DateTime? periodStart,
        string? reason, string? createdBy, string ledgerKind, DateTime at)
    {
        var remaining = amount >= 0 ? amount - Math.Min(book.Overdraft, amount) : 0L;
        var id = _insertGrant.Bind(book.OrganizationId).Bind(kind).Bind(amount).Bind(remaining).Bind(startsAt).Bind(expiresAt)
            .Bind(periodStart).Bind(reason).Bind(createdBy).Bind(Now).ExecuteInsert()!.Value;
        _hooks?.At(WriterPoint.Statement);
        if (amount >= 0)
            book.Credit(new GrantState { Id = id, Kind = kind, Amount = amount, StartsAt = startsAt, ExpiresAt = expiresAt, PeriodStart = periodStart });
        else
            book.Debit(-amount, Now); // a negative adjustment takes credits away like usage does (soonest-expiring first, then overdraft)
        Ledger(book, ledgerKind, amount, at, id, null, createdBy, reason);
        return id;
    }
}
