using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Cassidy.Portal.Data;

/// <summary>
/// An email waiting to be sent, or already sent. Written in the same transaction as whatever caused it,
/// then delivered by the outbox dispatcher; kept afterwards as the record of what was sent.
/// </summary>
public class OutboxMessage
{
    public long Id { get; set; }

    /// <summary>What sort of message this is, e.g. <c>alert</c>; for reading the table, not for logic.</summary>
    public string? Kind { get; set; }

    /// <summary>
    /// Names the logical message, e.g. <c>alert:123:admin@example.com</c>. Unique when set, so the same
    /// message cannot be enqueued twice, however many requests race to do it.
    /// </summary>
    public string? CorrelationKey { get; set; }

    /// <summary>One recipient address per message.</summary>
    public string To { get; set; } = "";

    public string Subject { get; set; } = "";
    /// <summary>The body; where it carries a link that opens an account (<see cref="Secret"/>) it says <c>{{secret-link}}</c>.</summary>
    public string TextBody { get; set; } = "";
    public string HtmlBody { get; set; } = "";

    /// <summary>
    /// The link only its recipient may know (an invitation, a password reset, an e-mail confirmation), encrypted with the
    /// data-protection keys and put into the body only as the message is sent; cleared once it is sent. Null: none.
    /// </summary>
    public string? Secret { get; set; }

    /// <summary>UTC.</summary>
    public DateTime CreatedAt { get; set; }

    /// <summary>Delivery attempts so far, the successful one included.</summary>
    public int Attempts { get; set; }

    /// <summary>UTC instant from which the dispatcher may try (again).</summary>
    public DateTime NextAttemptAt { get; set; }

    /// <summary>UTC instant the mail server (or pickup directory) accepted the message; null while pending.</summary>
    public DateTime? SentAt { get; set; }

    /// <summary>Why the last attempt failed; kept after a later success for the record.</summary>
    public string? LastError { get; set; }
}

public sealed class OutboxMessageConfiguration : IEntityTypeConfiguration<OutboxMessage>
{
    public void Configure(EntityTypeBuilder<OutboxMessage> builder)
    {
        builder.Property(m => m.Kind).HasMaxLength(32);
        builder.Property(m => m.CorrelationKey).HasMaxLength(200);
        builder.Property(m => m.To).HasMaxLength(320);
        builder.Property(m => m.Subject).HasMaxLength(300);
        builder.Property(m => m.LastError).HasMaxLength(1000);
        builder.HasIndex(m => m.CorrelationKey).IsUnique().HasFilter("\"CorrelationKey\" IS NOT NULL");
        // The dispatcher's query: unsent (SentAt IS NULL) and due (NextAttemptAt <= now).
        builder.HasIndex(m => new { m.SentAt, m.NextAttemptAt });
    }
}
