using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Cassidy.Portal.Data;
using Cassidy.Portal.Pricing;

namespace Cassidy.Portal.Ledger;

/// <summary>One usage event as the AI runtime (or the demo) reports it; fields are unchecked until recorded.</summary>
public sealed record UsageEventInput
{
    public string? Id { get; init; }
    public string? Type { get; init; }
    public string? Organization { get; init; }
    public string? User { get; init; }
    public DateTimeOffset? OccurredAt { get; init; }
    public string? Feature { get; init; }
    public string? Model { get; init; }
    public long? InputTokens { get; init; }
    public long? KnowledgeTokens { get; init; }
    public long? OutputTokens { get; init; }
    public IReadOnlyList<string>? Capabilities { get; init; }
    public string? AgentId { get; init; }
    public string? WorkflowId { get; init; }
    public string? RunId { get; init; }
    public string? HoldId { get; init; }
    public double? Minutes { get; init; }
    public long? Bytes { get; init; }

    /// <summary>Set by a parser when a field could not even be read (wrong JSON type, unparsable date).</summary>
    public string? InvalidField { get; init; }
}

public static class UsageStatuses
{
    public const string Recorded = "recorded";
    public const string Duplicate = "duplicate";
    public const string Rejected = "rejected";
}

public static class UsageErrors
{
    public const string Validation = "validation";
    public const string UnknownModel = PricingErrors.UnknownModel;
    public const string UnknownCapability = PricingErrors.UnknownCapability;
    public const string UnknownOrganization = "unknown_organization";
    public const string UnknownMember = "unknown_member";
    public const string Conflict = "conflict";
}

/// <summary>What became of one event, in request order. Credits are the recorded (or original) millicredits.</summary>
public sealed record UsageResult(string? Id, string Status, long? CreditsMillicredits, string? Error, string? Field = null)
{
    public static UsageResult Rejected(string? id, string error, string? field = null) => new(id, UsageStatuses.Rejected, null, error, field);
}

/// <summary>A validated event with its defaults filled in, its content hash and its price (or pricing error).</summary>
public sealed class PreparedUsage
{
    public required string Id { get; init; }
    public required string Type { get; init; }
    public required string Organization { get; init; }
    /// <summary>Upper-invariant email, as Identity normalizes it; null only for storage without a user.</summary>
    public string? NormalizedUser { get; init; }
    public required DateTime OccurredAt { get; init; }
    public string? Feature { get; init; }
    public string? Model { get; init; }
    public long InputTokens { get; init; }
    public long KnowledgeTokens { get; init; }
    public long OutputTokens { get; init; }
    public IReadOnlyList<string> Capabilities { get; init; } = [];
    public string? AgentId { get; init; }
    public string? WorkflowId { get; init; }
    public string? RunId { get; init; }
    public string? HoldId { get; init; }
    public double? Minutes { get; init; }
    public long? Bytes { get; init; }
    public byte[] ContentHash { get; set; } = [];
    public Price Price { get; set; }

    public const int MaxIdLength = 128;
    public const long MaxTokens = 1_000_000_000;
    private static readonly TimeSpan FutureTolerance = TimeSpan.FromMinutes(5);

    /// <summary>Checks the event's fields (SPEC §4) and prices it. Returns the rejection instead when it is invalid.</summary>
    public static (PreparedUsage? Event, UsageResult? Rejection) Prepare(UsageEventInput e, PriceTable prices, DateTime now)
    {
        UsageResult Invalid(string field) => UsageResult.Rejected(e.Id, UsageErrors.Validation, field);

        if (string.IsNullOrEmpty(e.Id) || e.Id.Length > MaxIdLength) return (null, Invalid("id"));
        if (e.InvalidField is { } bad) return (null, Invalid(bad));
        var type = e.Type ?? UsageTypes.ModelCall;
        if (type is not (UsageTypes.ModelCall or UsageTypes.Meeting or UsageTypes.Storage)) return (null, Invalid("type"));
        if (string.IsNullOrWhiteSpace(e.Organization) || e.Organization.Length > 64) return (null, Invalid("organization"));
        if (type != UsageTypes.Storage && string.IsNullOrWhiteSpace(e.User)) return (null, Invalid("user"));
        if (e.User is { Length: > 256 }) return (null, Invalid("user"));
        if (e.OccurredAt is not { } occurred) return (null, Invalid("occurredAt"));
        var occurredUtc = occurred.UtcDateTime;
        if (occurredUtc > now + FutureTolerance) return (null, Invalid("occurredAt"));
        foreach (var (name, value) in new[] { ("agentId", e.AgentId), ("workflowId", e.WorkflowId), ("runId", e.RunId), ("holdId", e.HoldId) })
            if (value is { Length: 0 or > 128 }) return (null, Invalid(name));

        PreparedUsage? ready;
        string? invalidField = null;
        switch (type)
        {
            case UsageTypes.ModelCall:
                ready = PrepareModelCall(e, occurredUtc, out invalidField);
                break;
            case UsageTypes.Meeting:
                ready = e.Minutes is > 0 and < 100_000 ? Base(e, type, occurredUtc) : null;
                if (ready is null) invalidField = "minutes";
                break;
            default:
                ready = e.Bytes is >= 0 ? Base(e, type, occurredUtc) : null;
                if (ready is null) invalidField = "bytes";
                break;
        }
        if (ready is null) return (null, Invalid(invalidField ?? "type"));
        ready.Price = type == UsageTypes.ModelCall
            ? prices.Price(ready.Model!, ready.InputTokens, ready.KnowledgeTokens, ready.OutputTokens, ready.Capabilities, ready.Feature!)
            : new Price(0, null);
        ready.ContentHash = HashOf(ready);
        return (ready, null);
    }

    private static PreparedUsage Base(UsageEventInput e, string type, DateTime occurredUtc) => new()
    {
        Id = e.Id!,
        Type = type,
        Organization = e.Organization!,
        NormalizedUser = string.IsNullOrWhiteSpace(e.User) ? null : e.User.Trim().Normalize().ToUpperInvariant(),
        OccurredAt = occurredUtc,
        AgentId = e.AgentId,
        WorkflowId = e.WorkflowId,
        RunId = e.RunId,
        HoldId = e.HoldId,
        Minutes = type == UsageTypes.Meeting ? e.Minutes : null,
        Bytes = type == UsageTypes.Storage ? e.Bytes : null,
    };

    private static PreparedUsage? PrepareModelCall(UsageEventInput e, DateTime occurredUtc, out string? field)
    {
        field = null;
        if (e.Feature is not (Features.AgentChat or Features.WorkflowRun)) { field = "feature"; return null; }
        if (string.IsNullOrWhiteSpace(e.Model) || e.Model.Length > 64) { field = "model"; return null; }
        if (e.InputTokens is not (>= 0 and <= MaxTokens)) { field = "inputTokens"; return null; }
        if (e.KnowledgeTokens is < 0 or > MaxTokens) { field = "knowledgeTokens"; return null; }
        if (e.OutputTokens is not (>= 0 and <= MaxTokens)) { field = "outputTokens"; return null; }
        var capabilities = e.Capabilities ?? [];
        if (capabilities.Count > 32 || capabilities.Any(c => string.IsNullOrEmpty(c) || c.Length > 64)) { field = "capabilities"; return null; }
        return new PreparedUsage
        {
            Id = e.Id!,
            Type = UsageTypes.ModelCall,
            Organization = e.Organization!,
            NormalizedUser = e.User!.Trim().Normalize().ToUpperInvariant(),
            OccurredAt = occurredUtc,
            Feature = e.Feature,
            Model = e.Model,
            InputTokens = e.InputTokens!.Value,
            KnowledgeTokens = e.KnowledgeTokens ?? 0,
            OutputTokens = e.OutputTokens!.Value,
            Capabilities = capabilities,
            AgentId = e.AgentId,
            WorkflowId = e.WorkflowId,
            RunId = e.RunId,
            HoldId = e.HoldId,
        };
    }

    /// <summary>SHA-256 of the canonical fields (defaults filled in), so a replay of the same call hashes the same.</summary>
    public static byte[] HashOf(PreparedUsage e)
    {
        var inv = CultureInfo.InvariantCulture;
        var canonical = string.Join('\u001f',
            e.Type, e.Organization, e.NormalizedUser ?? "", e.OccurredAt.Ticks.ToString(inv), e.Feature ?? "", e.Model ?? "",
            e.InputTokens.ToString(inv), e.KnowledgeTokens.ToString(inv), e.OutputTokens.ToString(inv),
            string.Join('\u001e', e.Capabilities.Order(StringComparer.Ordinal)),
            e.AgentId ?? "", e.WorkflowId ?? "", e.RunId ?? "", e.HoldId ?? "",
            e.Minutes?.ToString("R", inv) ?? "", e.Bytes?.ToString(inv) ?? "");
        return SHA256.HashData(Encoding.UTF8.GetBytes(canonical));
    }
}
