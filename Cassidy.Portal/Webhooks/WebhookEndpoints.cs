using Cassidy.Portal.Data;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Organizations;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Webhooks;

/// <summary>What an admin submits for an alert channel.</summary>
public sealed record ChannelInput(string Kind, string? Url, string? Description, IReadOnlyCollection<string> Events);

/// <summary>An alert channel as the Limits & alerts page lists it.</summary>
public sealed record ChannelRow(int Id, string Kind, string Label, string DisplayUrl, string Url, string Description, IReadOnlyList<string> Events,
    bool Enabled, DateTime? FailingSince, string? DisabledReason, DateTime? LastDeliveredAt, int Pending, int Failed);

/// <summary>A line of an endpoint's delivery log.</summary>
public sealed record DeliveryRow(long Id, string EventId, string EventType, DateTime CreatedAt, int Attempts, DateTime? DeliveredAt,
    DateTime? FailedAt, DateTime NextAttemptAt, int? LastStatusCode, string? LastError, int? LastLatencyMs)
{
    public string State => DeliveredAt is not null ? "Delivered" : FailedAt is not null ? "Failed" : Attempts == 0 ? "Queued" : "Retrying";
}

/// <summary>A created endpoint or a rotated secret: the secret is shown this once.</summary>
public sealed record ChannelSecret(ChangeResult Result, int? Id = null, string? Secret = null);

/// <summary>
/// The alert channels of an organization (Limits & alerts → "Where alerts go"): validation, audited changes, the signing
/// secret (shown once, stored encrypted), the delivery log, resend and test events. Callers have checked the actor is an admin.
/// </summary>
public sealed class WebhookEndpoints(IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock, IDataProtectionProvider protection,
    WebhookAddress address, WebhookDispatcher dispatcher, IConfiguration configuration)
{
    public const int MaxPerOrganization = 10;

    private readonly IDataProtector _secrets = SecretProtector(protection);

    public static IDataProtector SecretProtector(IDataProtectionProvider protection) => protection.CreateProtector("Cassidy.Portal.Webhooks.Secret");

    public static string Page(string slug, int endpointId) => $"/orgs/{slug}/settings/limits/channels/{endpointId}";

    /// <summary>How people name an endpoint: its description, else its host.</summary>
    public static string Label(WebhookEndpoint e) =>
        e.Description.Length > 0 ? e.Description : (e.Kind == ChannelKinds.Slack ? "Slack" : "Webhook") + " · " + (Uri.TryCreate(e.Url, UriKind.Absolute, out var u) ? u.Host : e.Url);

    /// <summary>The URL as pages show it: a Slack URL is a credential, so only its start.</summary>
    public static string DisplayUrl(WebhookEndpoint e)
    {
        if (e.Kind != ChannelKinds.Slack || !Uri.TryCreate(e.Url, UriKind.Absolute, out var u)) return e.Url;
        var path = u.AbsolutePath.Length > 20 ? u.AbsolutePath[..20] + "…" : u.AbsolutePath;
        return $"{u.Scheme}://{u.Authority}{path}";
    }

    public async Task<IReadOnlyList<ChannelRow>> ListAsync(int organizationId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var endpoints = await db.WebhookEndpoints.AsNoTracking().Where(e => e.OrganizationId == organizationId).OrderBy(e => e.Id).ToListAsync(ct);
        var ids = endpoints.Select(e => e.Id).ToList();
        var stats = await db.WebhookDeliveries.AsNoTracking().Where(d => ids.Contains(d.EndpointId)).GroupBy(d => d.EndpointId)
            .Select(g => new
            {
                g.Key,
                LastDelivered = g.Max(d => d.DeliveredAt),
                Pending = g.Count(d => d.DeliveredAt == null && d.FailedAt == null),
                Failed = g.Count(d => d.FailedAt != null),
            }).ToDictionaryAsync(x => x.Key, ct);
        return endpoints.Select(e =>
        {
            var s = stats.GetValueOrDefault(e.Id);
            return new ChannelRow(e.Id, e.Kind, Label(e), DisplayUrl(e), e.Url, e.Description, e.EventList(), e.Enabled, e.FailingSince, e.DisabledReason,
                s?.LastDelivered, s?.Pending ?? 0, s?.Failed ?? 0);
        }).ToList();
    }

    public async Task<ChannelRow?> FindAsync(int organizationId, int endpointId, CancellationToken ct = default) =>
        (await ListAsync(organizationId, ct)).FirstOrDefault(r => r.Id == endpointId);

    private async Task<(string? Url, string? Description, string? Events, ChangeResult? Refused)> CheckAsync(ChannelInput input, CancellationToken ct)
    {
        if (input.Kind is not (ChannelKinds.Webhook or ChannelKinds.Slack)) return (null, null, null, ChangeResult.Refused("Choose a webhook or Slack.", "kind"));
        if (await address.CheckAsync(input.Url, ct) is { } urlError) return (null, null, null, ChangeResult.Refused(urlError, "url"));
        var description = (input.Description ?? "").Trim();
        if (description.Length > 0 && Names.Problem(description, "a description") is { } descriptionError)
            return (null, null, null, ChangeResult.Refused(descriptionError, "description"));
        var unknown = input.Events.FirstOrDefault(e => !WebhookEvents.All.Contains(e));
        if (unknown is not null) return (null, null, null, ChangeResult.Refused($"“{unknown}” is not an event the portal sends.", "events"));
        if (input.Events.Count == 0) return (null, null, null, ChangeResult.Refused("Choose at least one event to send.", "events"));
        var events = string.Join(",", WebhookEvents.All.Where(input.Events.Contains));
        return (input.Url!.Trim(), description, events, null);
    }

    public async Task<ChannelSecret> CreateAsync(int organizationId, AuditActor actor, ChannelInput input, CancellationToken ct = default)
    {
        var (url, description, events, refused) = await CheckAsync(input, ct);
        if (refused is not null) return new ChannelSecret(refused);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        if (await db.WebhookEndpoints.CountAsync(e => e.OrganizationId == organizationId, ct) >= MaxPerOrganization)
            return new ChannelSecret(ChangeResult.Refused($"An organization can have at most {MaxPerOrganization} alert channels. Delete one first."));
        var secret = input.Kind == ChannelKinds.Webhook ? WebhookSignature.NewSecret() : null;
        var now = clock.GetUtcNow().UtcDateTime;
        var endpoint = new WebhookEndpoint
        {
            OrganizationId = organizationId, Kind = input.Kind, Url = url!, Description = description!, Events = events!, Enabled = true,
            Secret = secret is null ? "" : _secrets.Protect(secret), CreatedAt = now,
        };
        db.WebhookEndpoints.Add(endpoint);
        AuditLog.Record(db, organizationId, actor, AuditActions.ChannelCreated, Label(endpoint), null, Summary(endpoint), now);
        await db.SaveChangesAsync(ct);
        return new ChannelSecret(ChangeResult.Ok, endpoint.Id, secret);
    }

    public async Task<ChangeResult> UpdateAsync(int organizationId, AuditActor actor, int endpointId, ChannelInput input, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var endpoint = await db.WebhookEndpoints.SingleOrDefaultAsync(e => e.Id == endpointId && e.OrganizationId == organizationId, ct);
        if (endpoint is null) return Gone;
        var (url, description, events, refused) = await CheckAsync(input with { Kind = endpoint.Kind }, ct);
        if (refused is not null) return refused;
        var before = Summary(endpoint);
        endpoint.Url = url!;
        endpoint.Description = description!;
        endpoint.Events = events!;
        var after = Summary(endpoint);
        if (before == after) return ChangeResult.Ok;
        AuditLog.Record(db, organizationId, actor, AuditActions.ChannelChanged, Label(endpoint), before, after, clock.GetUtcNow().UtcDateTime);
        await db.SaveChangesAsync(ct);
        return ChangeResult.Ok;
    }

    /// <summary>Turns the channel on or off; turning it on forgets past failures (the 24 h count starts again).</summary>
    public async Task<ChangeResult> SetEnabledAsync(int organizationId, AuditActor actor, int endpointId, bool enabled, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var endpoint = await db.WebhookEndpoints.SingleOrDefaultAsync(e => e.Id == endpointId && e.OrganizationId == organizationId, ct);
        if (endpoint is null) return Gone;
        if (endpoint.Enabled == enabled) return ChangeResult.Ok;
        var now = clock.GetUtcNow().UtcDateTime;
        endpoint.Enabled = enabled;
        endpoint.FailingSince = null;
        endpoint.DisabledAt = enabled ? null : now;
        endpoint.DisabledReason = null;
        AuditLog.Record(db, organizationId, actor, AuditActions.ChannelChanged, Label(endpoint), enabled ? "off" : "on", enabled ? "on" : "off", now);
        await db.SaveChangesAsync(ct);
        return ChangeResult.Ok;
    }

    /// <summary>A new signing secret, effective for the next attempt; the old one stops working at once.</summary>
    public async Task<ChannelSecret> RotateSecretAsync(int organizationId, AuditActor actor, int endpointId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var endpoint = await db.WebhookEndpoints.SingleOrDefaultAsync(e => e.Id == endpointId && e.OrganizationId == organizationId, ct);
        if (endpoint is null) return new ChannelSecret(Gone);
        if (endpoint.Kind != ChannelKinds.Webhook) return new ChannelSecret(ChangeResult.Refused("Slack channels have no signing secret."));
        var secret = WebhookSignature.NewSecret();
        endpoint.Secret = _secrets.Protect(secret);
        AuditLog.Record(db, organizationId, actor, AuditActions.ChannelSecretRotated, Label(endpoint), null, null, clock.GetUtcNow().UtcDateTime);
        await db.SaveChangesAsync(ct);
        return new ChannelSecret(ChangeResult.Ok, endpoint.Id, secret);
    }

    public async Task<ChangeResult> DeleteAsync(int organizationId, AuditActor actor, int endpointId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var endpoint = await db.WebhookEndpoints.SingleOrDefaultAsync(e => e.Id == endpointId && e.OrganizationId == organizationId, ct);
        if (endpoint is null) return Gone;
        db.WebhookEndpoints.Remove(endpoint); // its deliveries and attempts go with it (cascade)
        AuditLog.Record(db, organizationId, actor, AuditActions.ChannelDeleted, Label(endpoint), Summary(endpoint), null, clock.GetUtcNow().UtcDateTime);
        await db.SaveChangesAsync(ct);
        return ChangeResult.Ok;
    }

    public async Task<(IReadOnlyList<DeliveryRow> Rows, int Total)> DeliveriesAsync(int organizationId, int endpointId, int page, int pageSize,
        CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var query = db.WebhookDeliveries.AsNoTracking().Where(d => d.OrganizationId == organizationId && d.EndpointId == endpointId);
        var total = await query.CountAsync(ct);
        var rows = await query.OrderByDescending(d => d.Id).Skip(page * pageSize).Take(pageSize)
            .Select(d => new DeliveryRow(d.Id, d.EventId, d.EventType, d.CreatedAt, d.Attempts, d.DeliveredAt, d.FailedAt, d.NextAttemptAt,
                d.LastStatusCode, d.LastError,
                db.WebhookAttempts.Where(a => a.DeliveryId == d.Id).OrderByDescending(a => a.Id).Select(a => (int?)a.LatencyMs).FirstOrDefault()))
            .ToListAsync(ct);
        return (rows, total);
    }

    public async Task<IReadOnlyList<WebhookAttempt>> AttemptsAsync(int organizationId, long deliveryId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.WebhookAttempts.AsNoTracking()
            .Where(a => a.DeliveryId == deliveryId && db.WebhookDeliveries.Any(d => d.Id == deliveryId && d.OrganizationId == organizationId))
            .OrderByDescending(a => a.Id).ToListAsync(ct);
    }

    /// <summary>Sends a delivery again now — the same event id, so a receiver that got it before can tell — with a fresh 24 h of retries.</summary>
    public async Task<(ChangeResult Result, AttemptOutcome? Outcome)> ResendAsync(int organizationId, long deliveryId, CancellationToken ct = default)
    {
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
        {
            var delivery = await db.WebhookDeliveries.SingleOrDefaultAsync(d => d.Id == deliveryId && d.OrganizationId == organizationId, ct);
            if (delivery is null) return (ChangeResult.Refused("This delivery no longer exists."), null);
            if (!await db.WebhookEndpoints.AnyAsync(e => e.Id == delivery.EndpointId && e.Enabled, ct))
                return (ChangeResult.Refused("Turn the channel on before resending."), null);
            var now = clock.GetUtcNow().UtcDateTime;
            delivery.DeliveredAt = null;
            delivery.FailedAt = null;
            delivery.RetryingSince = now;
            delivery.NextAttemptAt = now;
            await db.SaveChangesAsync(ct);
        }
        return (ChangeResult.Ok, await dispatcher.AttemptAsync(deliveryId, ct));
    }

    /// <summary>A <c>webhook.test</c> event with sample figures of the organization, sent now and logged like any other.</summary>
    public async Task<(ChangeResult Result, AttemptOutcome? Outcome)> SendTestAsync(int organizationId, int endpointId, CreditLedger ledger,
        CancellationToken ct = default)
    {
        long deliveryId;
        await using (var db = await dbFactory.CreateDbContextAsync(ct))
        {
            var endpoint = await db.WebhookEndpoints.AsNoTracking().SingleOrDefaultAsync(e => e.Id == endpointId && e.OrganizationId == organizationId, ct);
            if (endpoint is null) return (Gone, null);
            if (!endpoint.Enabled) return (ChangeResult.Refused("Turn the channel on before sending a test event."), null);
            var org = await db.Organizations.AsNoTracking().SingleAsync(o => o.Id == organizationId, ct);
            var balance = await ledger.GetBalanceAsync(organizationId);
            var now = clock.GetUtcNow().UtcDateTime;
            var e = new WebhookEvent(WebhookEvents.NewEventId(), WebhookEvents.Test, now, new WebhookOrganization(org.Id, org.Slug, org.Name),
                new WebhookEventData($"Test event from Cassidy for {org.Name}",
                    $"This is a test of the alert channel “{Label(endpoint)}”. Real events look like this one, with the figures of the moment.",
                    PortalAddress.Link(configuration, $"/orgs/{org.Slug}/settings/usage"), null, null,
                    Credits.Of(balance?.Balance ?? 0), Credits.Of(balance?.Allowance ?? 0), Credits.Of(balance?.Used ?? 0),
                    balance?.PeriodStart ?? now, balance?.PeriodEnd ?? now, null));
            var delivery = WebhookEvents.NewDelivery(endpoint, e);
            db.WebhookDeliveries.Add(delivery);
            await db.SaveChangesAsync(ct);
            deliveryId = delivery.Id;
        }
        return (ChangeResult.Ok, await dispatcher.AttemptAsync(deliveryId, ct));
    }

    private static readonly ChangeResult Gone = ChangeResult.Refused("This alert channel no longer exists. Reload the page.");

    /// <summary>The channel as the audit log shows it, e.g. "webhook https://x.example/hook; alert.fired:…, credits.exhausted".</summary>
    private static string Summary(WebhookEndpoint e) => $"{e.Kind} {DisplayUrl(e)}; {e.Events}";
}
