using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Cassidy.Portal.Data;
using Cassidy.Portal.Notifications;
using Cassidy.Portal.Organizations;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Webhooks;

/// <summary>What one attempt came to, for the page that asked for it (send test event, resend).</summary>
public sealed record AttemptOutcome(bool Delivered, int? StatusCode, int LatencyMs, string Excerpt);

/// <summary>
/// Sends due webhook and Slack deliveries, several at a time, each with a timeout of <c>Webhooks:TimeoutSeconds</c>
/// (5): a slow receiver delays only its own deliveries, never ingest or authorize, which do not wait for this. A failed
/// attempt is retried with back-off for 24 h from the event (or its resend); every attempt is logged. An endpoint whose
/// attempts have all failed for 24 h is disabled, its pending deliveries given up, and its organization's admins told in
/// the bell and by e-mail. A delivery is marked delivered right after the 2xx, so a restart resends only what was not
/// acknowledged (at least once: receivers de-duplicate on <c>webhook-id</c>).
/// </summary>
public sealed class WebhookDispatcher : BackgroundService
{
    public const int BatchSize = 20;
    public static readonly TimeSpan RetryWindow = TimeSpan.FromHours(24);

    private static readonly TimeSpan[] Backoff =
    [
        TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(30),
        TimeSpan.FromHours(1), TimeSpan.FromHours(2), TimeSpan.FromHours(4),
    ];

    private readonly IDbContextFactory<PortalDbContext> _dbFactory;
    private readonly TimeProvider _clock;
    private readonly NotificationCenter _notifications;
    private readonly ILogger _logger;
    private readonly IDataProtector _secrets;
    private readonly HttpClient _http;
    private readonly TimeSpan _timeout;
    private readonly TimeSpan _poll;
    private readonly ConcurrentDictionary<long, byte> _inFlight = new();
    private readonly WakeSignal _wake;

    public WebhookDispatcher(IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock, NotificationCenter notifications,
        IDataProtectionProvider protection, WebhookAddress address, IConfiguration configuration, ILogger<WebhookDispatcher> logger)
    {
        _dbFactory = dbFactory;
        _clock = clock;
        _wake = new WakeSignal(clock);
        _notifications = notifications;
        _logger = logger;
        _secrets = WebhookEndpoints.SecretProtector(protection);
        _http = new HttpClient(address.CreateHandler()) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("Cassidy-Portal-Webhooks/1.0");
        _timeout = TimeSpan.FromSeconds(Math.Clamp(configuration.GetValue("Webhooks:TimeoutSeconds", 5.0), 0.5, 30));
        _poll = TimeSpan.FromSeconds(Math.Max(0.05, configuration.GetValue("Webhooks:PollSeconds", 5.0)));
    }

    /// <summary>Time to wait after the <paramref name="failedAttempts"/>-th failure; at most four hours.</summary>
    public static TimeSpan BackoffAfter(int failedAttempts) => Backoff[Math.Clamp(failedAttempts, 1, Backoff.Length) - 1];

    /// <summary>Asks for a round now rather than at the next poll. Call after committing deliveries.</summary>
    public void Wake() => _wake.Wake();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var loaded = 0;
            try
            {
                loaded = await DispatchDueAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                _logger.LogError(ex, "Webhook round failed");
            }
            if (loaded == BatchSize) continue;
            try { await _wake.WaitAsync(_poll, stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    /// <summary>Attempts every due delivery (up to a batch), four at a time; returns how many were due.</summary>
    public async Task<int> DispatchDueAsync(CancellationToken ct)
    {
        var now = _clock.GetUtcNow().UtcDateTime;
        List<long> due;
        await using (var db = await _dbFactory.CreateDbContextAsync(ct))
            due = await db.WebhookDeliveries.Where(d => d.DeliveredAt == null && d.FailedAt == null && d.NextAttemptAt <= now)
                .OrderBy(d => d.NextAttemptAt).ThenBy(d => d.Id).Select(d => d.Id).Take(BatchSize).ToListAsync(ct);
        await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = ct },
            async (id, token) => await AttemptAsync(id, token));
        return due.Count;
    }

    /// <summary>One attempt of a pending delivery, logged; null when it is not pending or another attempt is under way.</summary>
    public async Task<AttemptOutcome?> AttemptAsync(long deliveryId, CancellationToken ct = default)
    {
        if (!_inFlight.TryAdd(deliveryId, 0)) return null;
        try
        {
            return await AttemptOnceAsync(deliveryId, ct);
        }
        finally
        {
            _inFlight.TryRemove(deliveryId, out _);
        }
    }

    private async Task<AttemptOutcome?> AttemptOnceAsync(long deliveryId, CancellationToken ct)
    {
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        var delivery = await db.WebhookDeliveries.SingleOrDefaultAsync(d => d.Id == deliveryId, ct);
        if (delivery is null || delivery.DeliveredAt is not null || delivery.FailedAt is not null) return null;
        var endpoint = await db.WebhookEndpoints.AsNoTracking().SingleOrDefaultAsync(e => e.Id == delivery.EndpointId, ct);
        if (endpoint is not { Enabled: true })
        {
            delivery.FailedAt = _clock.GetUtcNow().UtcDateTime;
            delivery.LastError = "Not sent: the endpoint is disabled.";
            await db.SaveChangesAsync(CancellationToken.None);
            return null;
        }

        var (status, excerpt, latency) = await PostAsync(endpoint, delivery, ct);
        var now = _clock.GetUtcNow().UtcDateTime;
        var delivered = status is >= 200 and < 300;
        delivery.Attempts++;
        delivery.LastStatusCode = status;
        delivery.LastError = delivered ? null : Text.Shorten(excerpt, 500);
        db.WebhookAttempts.Add(new WebhookAttempt { DeliveryId = delivery.Id, At = now, StatusCode = status, LatencyMs = latency, Excerpt = Text.Shorten(excerpt, 500) });
        if (delivered)
        {
            delivery.DeliveredAt = now;
        }
        else if (now - delivery.RetryingSince >= RetryWindow)
        {
            delivery.FailedAt = now;
        }
        else
        {
            var next = now + BackoffAfter(delivery.Attempts);
            var last = delivery.RetryingSince + RetryWindow; // one last attempt as the window closes
            delivery.NextAttemptAt = next < last ? next : last;
        }
        // Not cancellable: once the receiver acknowledged, DeliveredAt must stick.
        await db.SaveChangesAsync(CancellationToken.None);

        if (delivered)
            await db.WebhookEndpoints.Where(e => e.Id == endpoint.Id && e.FailingSince != null)
                .ExecuteUpdateAsync(s => s.SetProperty(e => e.FailingSince, (DateTime?)null), CancellationToken.None);
        else
            await FailedAsync(endpoint, now, delivery.FailedAt is not null ? delivery.RetryingSince : null);
        if (!delivered)
            _logger.LogWarning("Webhook delivery {Delivery} ({EventType} {EventId}) to endpoint {Endpoint} failed (attempt {Attempts}): {Status} {Excerpt}",
                delivery.Id, delivery.EventType, delivery.EventId, endpoint.Id, delivery.Attempts, status?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no response", Text.Shorten(excerpt, 200));
        return new AttemptOutcome(delivered, status, latency, excerpt);
    }

    private async Task<(int? Status, string Excerpt, int LatencyMs)> PostAsync(WebhookEndpoint endpoint, WebhookDelivery delivery, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        int Latency() => (int)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_timeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, endpoint.Url)
            {
                Content = new StringContent(delivery.Payload, Encoding.UTF8, "application/json"),
            };
            if (endpoint.Kind == ChannelKinds.Webhook)
            {
                var timestamp = _clock.GetUtcNow().ToUnixTimeSeconds();
                request.Headers.Add("webhook-id", delivery.EventId);
                request.Headers.Add("webhook-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
                request.Headers.Add("webhook-signature", WebhookSignature.Sign(_secrets.Unprotect(endpoint.Secret), delivery.EventId, timestamp, delivery.Payload));
            }
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var excerpt = await ReadExcerptAsync(response, timeout.Token);
            var status = (int)response.StatusCode;
            if (status is >= 300 and < 400) excerpt = $"Redirects are not followed ({response.Headers.Location}). " + excerpt;
            return (status, excerpt, Latency());
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return (null, $"No response within {_timeout.TotalSeconds:0.#} s.", Latency());
        }
        catch (HttpRequestException ex)
        {
            var error = ex.HttpRequestError != HttpRequestError.Unknown ? ex.HttpRequestError
                : ex.InnerException is HttpIOException io ? io.HttpRequestError
                : ex.InnerException is IOException { InnerException: System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionReset } }
                    ? HttpRequestError.ResponseEnded
                : HttpRequestError.Unknown;
            var reason = ex.InnerException is WebhookRefusedException refused ? refused.Message
                : error switch
                {
                    HttpRequestError.NameResolutionError => $"The host {new Uri(endpoint.Url).Host} could not be found.",
                    HttpRequestError.ConnectionError => "The connection was refused or could not be made.",
                    HttpRequestError.ResponseEnded => "The receiver closed the connection without answering.",
                    HttpRequestError.SecureConnectionError => "The TLS handshake failed (certificate not trusted or expired?).",
                    _ => ex.InnerException is { } inner ? $"{ex.Message} {inner.Message}" : ex.Message,
                };
            return (null, reason, Latency());
        }
    }

    private static async Task<string> ReadExcerptAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(ct);
            var buffer = new byte[2048];
            var read = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, ct);
            return Encoding.UTF8.GetString(buffer, 0, read).Trim();
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            return "";
        }
    }

    /// <summary>
    /// Notes the endpoint failing. It is disabled (once: the UPDATE decides) when nothing reached it for 24 h: its attempts
    /// have failed since 24 h ago, or a delivery just gave up (<paramref name="gaveUpSince"/>: its window's start) and
    /// nothing was delivered to the endpoint since that window opened.
    /// </summary>
    private async Task FailedAsync(WebhookEndpoint endpoint, DateTime now, DateTime? gaveUpSince)
    {
        await using var db = await _dbFactory.CreateDbContextAsync();
        await db.WebhookEndpoints.Where(e => e.Id == endpoint.Id && e.FailingSince == null)
            .ExecuteUpdateAsync(s => s.SetProperty(e => e.FailingSince, now));
        var since = gaveUpSince ?? now - RetryWindow;
        await using var transaction = await db.Database.BeginTransactionAsync();
        if (await db.WebhookDeliveries.AnyAsync(d => d.EndpointId == endpoint.Id && d.DeliveredAt >= since)) return;
        var reason = $"Disabled by the portal on {now:d MMM yyyy, HH:mm} UTC: every delivery failed for 24 hours.";
        var disabled = await db.WebhookEndpoints
            .Where(e => e.Id == endpoint.Id && e.Enabled && (gaveUpSince != null || e.FailingSince <= since))
            .ExecuteUpdateAsync(s => s.SetProperty(e => e.Enabled, false).SetProperty(e => e.DisabledAt, now).SetProperty(e => e.DisabledReason, reason));
        if (disabled == 0) return;
        await db.WebhookDeliveries.Where(d => d.EndpointId == endpoint.Id && d.DeliveredAt == null && d.FailedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.FailedAt, now).SetProperty(d => d.LastError, "Not sent: the endpoint was disabled after 24 hours of failures."));

        var org = await db.Organizations.AsNoTracking().SingleAsync(o => o.Id == endpoint.OrganizationId);
        var name = WebhookEndpoints.Label(endpoint);
        var told = _notifications.Tell(db, await NotificationCenter.AdminsAsync(db, org.Id), org.Id, new Message($"Alert channel disabled: {name}",
                $"Every delivery to {name} in {org.Name} failed for 24 hours, so the portal disabled it. Alerts no longer go there " +
                "until an admin fixes the receiver and turns the channel back on under Settings → Limits & alerts.",
                WebhookEndpoints.Page(org.Slug, endpoint.Id)),
            "channel", $"channel-disabled:{endpoint.Id}:{now.Ticks}");
        AuditLog.Record(db, org.Id, AuditActor.System, AuditActions.ChannelDisabled, name, "on", "off (24 h of failed deliveries)", now);
        await db.SaveChangesAsync();
        await transaction.CommitAsync();
        _notifications.Delivered(told);
        _logger.LogWarning("Webhook endpoint {Endpoint} of organization {Organization} disabled after 24 h of failed deliveries.", endpoint.Id, org.Id);
    }

    public override void Dispose()
    {
        _http.Dispose();
        base.Dispose();
    }
}
