using System.Text.Json;
using System.Text.Json.Serialization;
using Cassidy.Portal.Data;
using Cassidy.Portal.Limits;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Webhooks;

/// <summary>A member an event is about.</summary>
public sealed record WebhookMember(string Id, string Name, string Email, decimal Used, decimal? Limit);

/// <summary>
/// What an event says: the sentence people read (title, text, a link into the portal) and the figures tools read, in credits
/// (millicredits / 1000, like the internal API).
/// </summary>
public sealed record WebhookEventData(
    string Title, string Text, string Url, string? Rule, long? Threshold,
    decimal Balance, decimal Allowance, decimal Used, DateTime PeriodStart, DateTime PeriodEnd, WebhookMember? Member, string? Reason = null);

/// <summary>The organization an event belongs to.</summary>
public sealed record WebhookOrganization(int Id, string Slug, string Name);

/// <summary>The JSON body of a webhook delivery.</summary>
public sealed record WebhookEvent(string Id, string Type, DateTime OccurredAt, WebhookOrganization Organization, WebhookEventData Data);

/// <summary>
/// The events an alert channel can subscribe to, and how an event becomes a delivery: written into the caller's
/// <see cref="PortalDbContext"/> for every enabled, subscribed endpoint of the organization, so it commits (or not) with
/// whatever caused it — the alert firing, the change of credit state — and the <see cref="WebhookDispatcher"/> sends it.
/// </summary>
public static class WebhookEvents
{
    public const string AlertFired = "alert.fired";
    public const string CreditsExhausted = "credits.exhausted";
    public const string CreditsReplenished = "credits.replenished";
    public const string MemberLimitReached = "member.limit_reached";
    public const string Test = "webhook.test";

    /// <summary>The subscription keys: <c>alert.fired</c> once per rule kind, then the credit-state events.</summary>
    public static readonly IReadOnlyList<string> All =
    [
        .. AlertKinds.All.Select(AlertSubscription),
        CreditsExhausted, CreditsReplenished, MemberLimitReached,
    ];

    public static string AlertSubscription(string ruleKind) => $"{AlertFired}:{ruleKind}";

    public static string Describe(string subscription) => subscription switch
    {
        CreditsExhausted => "Credits exhausted (AI paused)",
        CreditsReplenished => "Credits available again (new period, upgrade or package)",
        MemberLimitReached => "A member reached their credit limit",
        _ when subscription.StartsWith(AlertFired + ":", StringComparison.Ordinal) =>
            "Alert fired: " + AlertRules.Describe(subscription[(AlertFired.Length + 1)..]),
        _ => subscription,
    };

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public static string NewEventId() => "evt_" + Guid.CreateVersion7().ToString("N");

    public static string Serialize(WebhookEvent e) => JsonSerializer.Serialize(e, Json);

    /// <summary>
    /// Adds a delivery of the event to every enabled endpoint of the organization subscribed to <paramref name="subscription"/>;
    /// returns how many. The caller saves and commits, then wakes the dispatcher.
    /// </summary>
    public static async Task<int> EnqueueAsync(PortalDbContext db, string subscription, WebhookEvent e, CancellationToken ct)
    {
        var endpoints = await db.WebhookEndpoints.AsNoTracking()
            .Where(x => x.OrganizationId == e.Organization.Id && x.Enabled).ToListAsync(ct);
        var count = 0;
        foreach (var endpoint in endpoints.Where(x => x.EventList().Contains(subscription)))
        {
            db.WebhookDeliveries.Add(NewDelivery(endpoint, e));
            count++;
        }
        return count;
    }

    public static WebhookDelivery NewDelivery(WebhookEndpoint endpoint, WebhookEvent e) => new()
    {
        EndpointId = endpoint.Id, OrganizationId = endpoint.OrganizationId, EventId = e.Id, EventType = e.Type,
        Payload = endpoint.Kind == ChannelKinds.Slack ? SlackMessage(e) : Serialize(e),
        CreatedAt = e.OccurredAt, RetryingSince = e.OccurredAt, NextAttemptAt = e.OccurredAt,
    };

    /// <summary>
    /// A Slack incoming-webhook message: the title as a header and the text as plain text (names are people's words, never
    /// markup), then a link into the portal; <c>text</c> is the notification fallback, with Slack's three escapes.
    /// </summary>
    public static string SlackMessage(WebhookEvent e)
    {
        static string Escape(string s) => s.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal)
            .Replace(">", "&gt;", StringComparison.Ordinal);
        var message = new
        {
            text = Escape(Text.Shorten(e.Data.Title, 300)),
            blocks = new object[]
            {
                new { type = "header", text = new { type = "plain_text", text = Text.Shorten(e.Data.Title, 150), emoji = false } },
                new { type = "section", text = new { type = "plain_text", text = Text.Shorten(e.Data.Text, 2900), emoji = false } },
                new { type = "context", elements = new object[] { new { type = "mrkdwn", text = $"<{e.Data.Url}|Open in Cassidy> · {Escape(e.Organization.Name)}" } } },
            },
        };
        return JsonSerializer.Serialize(message, Json);
    }
}
