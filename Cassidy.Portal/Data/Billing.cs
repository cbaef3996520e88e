namespace Cassidy.Portal.Data;

/// <summary>A charge recorded for an organization (the shipped payment capture records invoices as issued).</summary>
public class Invoice
{
    public long Id { get; set; }
    public int OrganizationId { get; set; }
    /// <summary>Human-facing number, e.g. INV-2026-000042.</summary>
    public string Number { get; set; } = "";
    public string Description { get; set; } = "";
    /// <summary>Amount in US cents.</summary>
    public long AmountCents { get; set; }
    public string Status { get; set; } = InvoiceStatuses.Issued;
    public DateTime IssuedAt { get; set; }
    public DateTime PeriodStart { get; set; }
    public DateTime PeriodEnd { get; set; }
    /// <summary>The upgrade quote it pays for: one invoice per quote, however often the admin confirms it.</summary>
    public string? QuoteId { get; set; }
    /// <summary>When the plan change it paid for was carried out, in the ledger's transaction; null: not (yet), and voided if never.</summary>
    public DateTime? AppliedAt { get; set; }
}

public static class InvoiceStatuses
{
    public const string Issued = "issued";
    public const string Void = "void";
}

public static class SupportCategories
{
    public const string CreditPackage = "custom_credit_package";
    public const string Enterprise = "enterprise";
    public const string Other = "other";
}

/// <summary>"Need more? Contact support": a request an admin filed, answered by staff.</summary>
public class SupportRequest
{
    public long Id { get; set; }
    public int OrganizationId { get; set; }
    public Organization Organization { get; set; } = null!;
    public string Category { get; set; } = SupportCategories.Other;
    public string Message { get; set; } = "";
    public string RequestedByUserId { get; set; } = "";
    public string RequestedByName { get; set; } = "";
    public string RequestedByEmail { get; set; } = "";
    public DateTime CreatedAt { get; set; }
    public DateTime? AnsweredAt { get; set; }
    public string? AnsweredByName { get; set; }
    public string? Answer { get; set; }
}
