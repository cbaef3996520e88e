using Cassidy.Portal.Data;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Metering;

/// <summary>Where a charge is taken. The one seam a card processor would plug into.</summary>
public interface IPaymentCapture
{
    /// <summary>Charges the organization and returns the invoice recorded for it.</summary>
    Task<Invoice> CaptureAsync(int organizationId, string description, long amountCents, DateTime periodStart, DateTime periodEnd, CancellationToken ct = default);

    /// <summary>Cancels a charge whose change could not be carried out.</summary>
    Task VoidAsync(long invoiceId, CancellationToken ct = default);
}

/// <summary>The shipped payment capture: no card processing, the invoice is recorded as issued.</summary>
public sealed class RecordedInvoices(IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock) : IPaymentCapture
{
    public async Task<Invoice> CaptureAsync(int organizationId, string description, long amountCents, DateTime periodStart, DateTime periodEnd,
        CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var now = clock.GetUtcNow().UtcDateTime;
        var invoice = new Invoice
        {
            OrganizationId = organizationId,
            Number = $"INV-{now:yyyy}-{Guid.NewGuid().ToString("N")[..8].ToUpperInvariant()}",
            Description = description,
            AmountCents = amountCents,
            Status = InvoiceStatuses.Issued,
            IssuedAt = now,
            PeriodStart = periodStart,
            PeriodEnd = periodEnd,
        };
        db.Invoices.Add(invoice);
        await db.SaveChangesAsync(ct);
        return invoice;
    }

    public async Task VoidAsync(long invoiceId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await db.Invoices.Where(i => i.Id == invoiceId).ExecuteUpdateAsync(s => s.SetProperty(i => i.Status, InvoiceStatuses.Void), ct);
    }
}
