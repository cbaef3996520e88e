using Cassidy.Portal.Data;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Billing;

/// <summary>Where a charge is taken. The one seam a card processor would plug into.</summary>
public interface IPaymentCapture
{
    /// <summary>
    /// Charges the organization for a quote and returns its invoice. Idempotent per quote: capturing the same quote again
    /// (a double click, a retry) returns the first invoice and charges nothing more.
    /// </summary>
    Task<Invoice> CaptureAsync(int organizationId, string quoteId, string description, long amountCents, DateTime periodStart, DateTime periodEnd,
        CancellationToken ct = default);

    /// <summary>Cancels a charge whose change was not carried out; an invoice whose change was carried out stays as it is.</summary>
    Task VoidAsync(long invoiceId, CancellationToken ct = default);
}

/// <summary>The shipped payment capture: no card processing, the invoice is recorded as issued.</summary>
public sealed class RecordedInvoices(IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock) : IPaymentCapture
{
    public async Task<Invoice> CaptureAsync(int organizationId, string quoteId, string description, long amountCents, DateTime periodStart,
        DateTime periodEnd, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        if (await FindAsync(db, organizationId, quoteId, ct) is { } captured) return captured;
        var now = clock.GetUtcNow().UtcDateTime;
        var invoice = new Invoice
        {
            OrganizationId = organizationId,
            Number = PlanChanges.InvoiceNumber(now),
            Description = description,
            AmountCents = amountCents,
            Status = InvoiceStatuses.Issued,
            IssuedAt = now,
            PeriodStart = periodStart,
            PeriodEnd = periodEnd,
            QuoteId = quoteId,
        };
        db.Invoices.Add(invoice);
        try
        {
            await db.SaveChangesAsync(ct);
            return invoice;
        }
        catch (DbUpdateException ex) when (ex.InnerException is SqliteException { SqliteErrorCode: 19 })
        {
            // Another confirmation of the same quote captured it a moment ago (the unique index on the quote said so).
            await using var again = await dbFactory.CreateDbContextAsync(ct);
            return await FindAsync(again, organizationId, quoteId, ct) ?? throw new InvalidOperationException("The captured invoice vanished.", ex);
        }
    }

    private static Task<Invoice?> FindAsync(PortalDbContext db, int organizationId, string quoteId, CancellationToken ct) =>
        db.Invoices.AsNoTracking().SingleOrDefaultAsync(i => i.OrganizationId == organizationId && i.QuoteId == quoteId, ct);

    public async Task VoidAsync(long invoiceId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await db.Invoices.Where(i => i.Id == invoiceId && i.AppliedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(i => i.Status, InvoiceStatuses.Void), ct);
    }
}
