using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Cassidy.Portal.Data;

/// <summary>What an alert channel is: a signed JSON webhook, or a Slack incoming webhook (a readable message).</summary>
public static class ChannelKinds
{
    public const string Webhook = "webhook";
    public const string Slack = "slack";
}

/// <summary>
/// Where an organization's alerts go besides the bell and e-mail: an http(s) URL that receives the events it subscribed to.
/// A webhook's deliveries are signed with <see cref="Secret"/> (Standard Webhooks); a Slack channel's are messages.
/// </summary>
public class WebhookEndpoint
{
    public int Id { get; set; }
    public int OrganizationId { get; set; }
    public string Kind { get; set; } = ChannelKinds.Webhook;
    public string Url { get; set; } = "";
    /// <summary>What the admin calls it, e.g. "PagerDuty bridge".</summary>
    public string Description { get; set; } = "";
    /// <summary>The subscribed events, comma-separated (see <c>WebhookEvents.All</c>).</summary>
    public string Events { get; set; } = "";
    public bool Enabled { get; set; } = true;
    /// <summary>The signing secret (<c>whsec_…</c>), encrypted with the data-protection keys; empty for Slack.</summary>
    public string Secret { get; set; } = "";
    public DateTime CreatedAt { get; set; }
    /// <summary>Since when every delivery attempt has failed (null after a success); 24 h of it disables the endpoint.</summary>
    public DateTime? FailingSince { get; set; }
    public DateTime? DisabledAt { get; set; }
    /// <summary>Why it was disabled by the portal (null when an admin turned it off or it is on).</summary>
    public string? DisabledReason { get; set; }

    public IReadOnlyList<string> EventList() => Events.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

/// <summary>
/// One event for one endpoint: the exact body to POST, delivered at least once (retried with back-off for 24 h). The
/// unique (endpoint, event id) pair makes a second enqueue of the same event impossible; receivers de-duplicate on the id.
/// </summary>
public class WebhookDelivery
{
    public long Id { get; set; }
    public int EndpointId { get; set; }
    public int OrganizationId { get; set; }
    /// <summary>Stable across retries and resends: the <c>webhook-id</c> header.</summary>
    public string EventId { get; set; } = "";
    public string EventType { get; set; } = "";
    /// <summary>The request body (JSON), exactly as sent.</summary>
    public string Payload { get; set; } = "";
    public DateTime CreatedAt { get; set; }
    /// <summary>Start of the 24 h retry window: creation, or the last resend.</summary>
    public DateTime RetryingSince { get; set; }
    public int Attempts { get; set; }
    public DateTime NextAttemptAt { get; set; }
    public DateTime? DeliveredAt { get; set; }
    /// <summary>Given up: 24 h of failures, or the endpoint was disabled or deleted.</summary>
    public DateTime? FailedAt { get; set; }
    public int? LastStatusCode { get; set; }
    public string? LastError { get; set; }
}

/// <summary>One POST of a delivery: what came back and how long it took.</summary>
public class WebhookAttempt
{
    public long Id { get; set; }
    public long DeliveryId { get; set; }
    public DateTime At { get; set; }
    /// <summary>The HTTP status; null when no response came (refused address, timeout, dropped connection).</summary>
    public int? StatusCode { get; set; }
    public int LatencyMs { get; set; }
    /// <summary>The first characters of the response body, or what went wrong.</summary>
    public string Excerpt { get; set; } = "";
}

/// <summary>
/// Whether a subject (the organization, or a member by user id) was last seen out of credits (at its limit), for the
/// edge-triggered events <c>credits.exhausted</c> / <c>credits.replenished</c> / <c>member.limit_reached</c>: only the
/// UPDATE that flips <see cref="Exhausted"/> enqueues an event, so each change is announced once, whoever races.
/// </summary>
public class CreditState
{
    public int OrganizationId { get; set; }
    public string Subject { get; set; } = AlertFiring.OrganizationSubject;
    public bool Exhausted { get; set; }
    public DateTime PeriodStart { get; set; }
    public DateTime ChangedAt { get; set; }
}

public sealed class WebhookEndpointConfiguration : IEntityTypeConfiguration<WebhookEndpoint>
{
    public void Configure(EntityTypeBuilder<WebhookEndpoint> builder)
    {
        builder.ToTable("WebhookEndpoints");
        builder.Property(e => e.Kind).HasMaxLength(16);
        builder.Property(e => e.Url).HasMaxLength(2000);
        builder.Property(e => e.Description).HasMaxLength(100);
        builder.Property(e => e.Events).HasMaxLength(500);
        builder.Property(e => e.Secret).HasMaxLength(1000);
        builder.Property(e => e.DisabledReason).HasMaxLength(300);
        builder.HasIndex(e => e.OrganizationId);
        builder.HasOne<Organization>().WithMany().HasForeignKey(e => e.OrganizationId).OnDelete(DeleteBehavior.Cascade);
    }
}

public sealed class WebhookDeliveryConfiguration : IEntityTypeConfiguration<WebhookDelivery>
{
    public void Configure(EntityTypeBuilder<WebhookDelivery> builder)
    {
        builder.ToTable("WebhookDeliveries");
        builder.Property(d => d.EventId).HasMaxLength(64);
        builder.Property(d => d.EventType).HasMaxLength(64);
        builder.Property(d => d.LastError).HasMaxLength(500);
        // Once per event per endpoint, however many evaluations race to enqueue it.
        builder.HasIndex(d => new { d.EndpointId, d.EventId }).IsUnique();
        // The dispatcher's query: pending and due.
        builder.HasIndex(d => new { d.DeliveredAt, d.FailedAt, d.NextAttemptAt });
        builder.HasOne<WebhookEndpoint>().WithMany().HasForeignKey(d => d.EndpointId).OnDelete(DeleteBehavior.Cascade);
    }
}

public sealed class WebhookAttemptConfiguration : IEntityTypeConfiguration<WebhookAttempt>
{
    public void Configure(EntityTypeBuilder<WebhookAttempt> builder)
    {
        builder.ToTable("WebhookAttempts");
        builder.Property(a => a.Excerpt).HasMaxLength(500);
        builder.HasIndex(a => a.DeliveryId);
        builder.HasOne<WebhookDelivery>().WithMany().HasForeignKey(a => a.DeliveryId).OnDelete(DeleteBehavior.Cascade);
    }
}

public sealed class CreditStateConfiguration : IEntityTypeConfiguration<CreditState>
{
    public void Configure(EntityTypeBuilder<CreditState> builder)
    {
        builder.ToTable("CreditStates");
        builder.HasKey(s => new { s.OrganizationId, s.Subject });
        builder.Property(s => s.Subject).HasMaxLength(64);
        builder.HasOne<Organization>().WithMany().HasForeignKey(s => s.OrganizationId).OnDelete(DeleteBehavior.Cascade);
    }
}
