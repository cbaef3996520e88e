using Cassidy.Portal.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using MimeKit;

namespace Cassidy.Portal.Notifications;

/// <summary>
/// Sends due outbox messages, oldest first, and retries failures with backoff: a failing mail server delays
/// mail, it loses none. Each message is marked sent (and saved) right after the transport accepted it, so a
/// restart never resends a message whose success was recorded.
/// </summary>
/// <remarks>
/// The one accepted at-least-once window: a crash after the server accepted a message but before its SentAt
/// was committed resends it on the next start. The resend carries the same Message-Id
/// (<c>outbox-{id}@cassidy.portal</c>), so mail clients and the pickup directory treat it as the same message.
/// One dispatcher per database: two portal processes on one database file could both send a due message.
/// </remarks>
public sealed class OutboxDispatcher(
    IDbContextFactory<PortalDbContext> dbFactory,
    IEmailTransport transport,
    EmailOutbox outbox,
    IOptions<EmailOptions> options,
    TimeProvider time,
    ILogger<OutboxDispatcher> logger) : BackgroundService
{
    public const int BatchSize = 20;
    public const string MessageIdDomain = "cassidy.portal";

    private static readonly TimeSpan[] Backoff =
    [
        TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(10), TimeSpan.FromHours(1),
    ];

    // Rounds never overlap, also when a test or an admin action calls DispatchDueAsync beside the loop.
    private readonly SemaphoreSlim _round = new(1, 1);
    private DateTime _nextPurge = DateTime.MinValue;

    /// <summary>Time to wait before attempt number <paramref name="failedAttempts"/> + 1; capped at one hour.</summary>
    public static TimeSpan BackoffAfter(int failedAttempts) => Backoff[Math.Clamp(failedAttempts, 1, Backoff.Length) - 1];

    /// <summary>Sends one batch of due messages; returns how many were sent.</summary>
    public async Task<int> DispatchDueAsync(CancellationToken ct) => (await RunRoundAsync(ct)).Sent;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var poll = TimeSpan.FromSeconds(Math.Max(options.Value.PollSeconds, 0.01));
        while (!stoppingToken.IsCancellationRequested)
        {
            var loaded = 0;
            try
            {
                (loaded, _) = await RunRoundAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // E.g. the database is busy or not migrated yet; the next round tries again.
                logger.LogError(ex, "Outbox round failed");
            }
            // A full batch means more may be due right now.
            if (loaded == BatchSize) continue;
            try
            {
                await outbox.WaitForWakeAsync(poll, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task<(int Loaded, int Sent)> RunRoundAsync(CancellationToken ct)
    {
        await _round.WaitAsync(ct);
        try
        {
            var from = MailboxAddress.Parse(options.Value.From);
            var now = time.GetUtcNow().UtcDateTime;
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            var due = await db.OutboxMessages
                .Where(m => m.SentAt == null && m.NextAttemptAt <= now)
                .OrderBy(m => m.Id)
                .Take(BatchSize)
                .ToListAsync(ct);

            var sent = 0;
            foreach (var message in due)
            {
                ct.ThrowIfCancellationRequested();
                message.Attempts++;
                try
                {
                    await transport.SendAsync(Compose(message, from, outbox.Reveal(message)), ct);
                    message.SentAt = time.GetUtcNow().UtcDateTime;
                    message.Secret = null; // delivered: the link lives in the recipient's mailbox only
                    sent++;
                }
                catch (Exception ex) when (!ct.IsCancellationRequested)
                {
                    message.LastError = Truncate($"{ex.GetType().Name}: {ex.Message}", 1000);
                    message.NextAttemptAt = time.GetUtcNow().UtcDateTime + BackoffAfter(message.Attempts);
                    logger.LogWarning(ex, "Email {OutboxId} to {To} failed (attempt {Attempts}); next attempt at {NextAttemptAt:O}",
                        message.Id, message.To, message.Attempts, message.NextAttemptAt);
                }
                // Saved per message and not cancellable: once the server has the message, SentAt must stick.
                await db.SaveChangesAsync(CancellationToken.None);
            }
            // What was sent is kept as a record for a while (Email:KeepSentDays), then its bodies are cleared: looked at
            // hourly, not on every round (a round runs for every e-mail enqueued).
            if (now >= _nextPurge)
            {
                var purgeBefore = now - TimeSpan.FromDays(Math.Max(1, options.Value.KeepSentDays));
                await db.OutboxMessages.Where(m => m.SentAt != null && m.SentAt < purgeBefore && m.TextBody != "")
                    .ExecuteUpdateAsync(s => s.SetProperty(m => m.TextBody, "").SetProperty(m => m.HtmlBody, "").SetProperty(m => m.Secret, (string?)null), ct);
                _nextPurge = now + TimeSpan.FromHours(1);
            }
            return (due.Count, sent);
        }
        finally
        {
            _round.Release();
        }
    }

    /// <summary>The MIME message for an outbox row: plain and HTML alternatives, and a Message-Id derived from the row id.</summary>
    public static MimeMessage Compose(OutboxMessage message, MailboxAddress from) => Compose(message, from, (message.TextBody, message.HtmlBody));

    private static MimeMessage Compose(OutboxMessage message, MailboxAddress from, (string Text, string Html) bodies)
    {
        var mime = new MimeMessage
        {
            MessageId = $"outbox-{message.Id}@{MessageIdDomain}",
            Date = new DateTimeOffset(message.CreatedAt, TimeSpan.Zero),
            Subject = message.Subject,
            Body = new BodyBuilder { TextBody = bodies.Text, HtmlBody = bodies.Html }.ToMessageBody(),
        };
        mime.From.Add(from);
        mime.To.Add(MailboxAddress.Parse(message.To));
        return mime;
    }

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..length];

    public override void Dispose()
    {
        _round.Dispose();
        base.Dispose();
    }
}
