using System.Net;
using Cassidy.Portal.Data;
using Microsoft.AspNetCore.DataProtection;
using MimeKit;

namespace Cassidy.Portal.Notifications;

/// <summary>
/// An email to one recipient. <paramref name="CorrelationKey"/> makes a second enqueue of the same message fail.
/// <paramref name="SecretLink"/>: a link that opens an account, written <see cref="EmailOutbox.SecretLinkPlaceholder"/> in
/// the bodies, and stored encrypted until the message is sent.
/// </summary>
public sealed record EmailMessage(
    string To,
    string Subject,
    string TextBody,
    string HtmlBody,
    string? CorrelationKey = null,
    string? Kind = null,
    string? SecretLink = null);

/// <summary>
/// Puts emails into the outbox table. The message is added to the caller's <see cref="PortalDbContext"/>,
/// so it commits or rolls back together with whatever caused it; <see cref="OutboxDispatcher"/> sends it later.
/// </summary>
public sealed class EmailOutbox(TimeProvider time, IDataProtectionProvider protection)
{
    /// <summary>Where a message's secret link goes in its bodies (see <see cref="EmailMessage.SecretLink"/>).</summary>
    public const string SecretLinkPlaceholder = "{{secret-link}}";

    private readonly IDataProtector _secrets = protection.CreateProtector("Cassidy.Portal.Notifications.OutboxSecret");

    private readonly WakeSignal _wake = new(time);

    /// <summary>Adds the message to <paramref name="db"/>; it is stored when the caller saves (and commits).</summary>
    /// <exception cref="ArgumentException">The recipient is not a single email address.</exception>
    public OutboxMessage Enqueue(PortalDbContext db, EmailMessage message)
    {
        if (!MailboxAddress.TryParse(message.To, out var mailbox) || !mailbox.Address.Contains('@', StringComparison.Ordinal))
            throw new ArgumentException($"'{message.To}' is not a single email address.", nameof(message));

        var now = time.GetUtcNow().UtcDateTime;
        var row = new OutboxMessage
        {
            Kind = message.Kind,
            CorrelationKey = message.CorrelationKey,
            To = message.To,
            Subject = message.Subject,
            TextBody = message.TextBody,
            HtmlBody = message.HtmlBody,
            Secret = message.SecretLink is null ? null : _secrets.Protect(message.SecretLink),
            CreatedAt = now,
            NextAttemptAt = now,
        };
        db.OutboxMessages.Add(row);
        return row;
    }

    /// <summary>The bodies as they are sent: the secret link in its place (HTML-encoded in the HTML body).</summary>
    internal (string Text, string Html) Reveal(OutboxMessage message)
    {
        if (message.Secret is null) return (message.TextBody, message.HtmlBody);
        var link = _secrets.Unprotect(message.Secret);
        return (message.TextBody.Replace(SecretLinkPlaceholder, link, StringComparison.Ordinal),
            message.HtmlBody.Replace(SecretLinkPlaceholder, WebUtility.HtmlEncode(link), StringComparison.Ordinal));
    }

    /// <summary>Asks the dispatcher to look now rather than at its next poll. Call after committing.</summary>
    public void Wake() => _wake.Wake();

    /// <summary>Returns when woken, after <paramref name="timeout"/>, or throws when <paramref name="ct"/> is cancelled.</summary>
    internal Task WaitForWakeAsync(TimeSpan timeout, CancellationToken ct) => _wake.WaitAsync(timeout, ct);
}
