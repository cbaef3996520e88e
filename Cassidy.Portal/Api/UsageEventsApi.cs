using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cassidy.Portal.Metering;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Cassidy.Portal.Api;

/// <summary><c>POST /internal/v1/usage-events</c>: a thin adapter from JSON to <see cref="CreditLedger.RecordUsageAsync"/>.</summary>
public static partial class UsageEventsApi
{
    public const int MaxEvents = 1000;

    public static RouteGroupBuilder MapUsageEventsApi(this RouteGroupBuilder group)
    {
        group.MapPost("/usage-events", RecordAsync)
            .WithName("RecordUsageEvents")
            .WithSummary("Record usage events (1–1000). Each is recorded once per organization and id; a 200 means committed.")
            .JsonBody<UsageEventsRequest>();
        return group;
    }

    public static async Task<Results<Ok<UsageEventsResponse>, ValidationProblem>> RecordAsync(HttpRequest request, CreditLedger ledger)
    {
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, default, request.HttpContext.RequestAborted);
        }
        catch (JsonException)
        {
            return Invalid("body", "The body must be a JSON object: {\"events\": [...]}.");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("events", out var events) || events.ValueKind == JsonValueKind.Null)
                return Invalid("events", "The events field is required.");
            if (events.ValueKind != JsonValueKind.Array) return Invalid("events", "events must be an array.");
            var count = events.GetArrayLength();
            if (count is 0 or > MaxEvents) return Invalid("events", $"Send 1 to {MaxEvents} events per request (got {count}).");

            var inputs = new List<UsageEventInput>(count);
            foreach (var element in events.EnumerateArray()) inputs.Add(Read(element));
            var results = await ledger.RecordUsageAsync(inputs);

            var dtos = new UsageEventResultDto[results.Count];
            int recorded = 0, duplicates = 0, rejected = 0;
            for (var i = 0; i < results.Count; i++)
            {
                var r = results[i];
                dtos[i] = new UsageEventResultDto(r.Id, r.Status, Credits.Of(r.CreditsMillicredits), r.Error);
                switch (r.Status)
                {
                    case UsageStatuses.Recorded: recorded++; break;
                    case UsageStatuses.Duplicate: duplicates++; break;
                    default: rejected++; break;
                }
            }
            return TypedResults.Ok(new UsageEventsResponse(dtos, recorded, duplicates, rejected));
        }
    }

    private static ValidationProblem Invalid(string field, string message) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] },
            title: "The request body is not a valid batch of usage events.");

    /// <summary>Reads one event; a field of the wrong JSON type marks the event invalid (rejected, not the batch).</summary>
    internal static UsageEventInput Read(JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object) return new UsageEventInput { InvalidField = "event" };
        string? invalid = null;

        string? Text(string name)
        {
            if (!e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
            if (v.ValueKind == JsonValueKind.String) return v.GetString();
            invalid ??= name;
            return null;
        }
        long? Integer(string name)
        {
            if (!e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
            if (v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n)) return n;
            invalid ??= name;
            return null;
        }
        double? Number(string name)
        {
            if (!e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
            if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var n) && double.IsFinite(n)) return n;
            invalid ??= name;
            return null;
        }

        var id = Text("id");
        DateTimeOffset? occurredAt = null;
        if (Text("occurredAt") is { } at)
        {
            if (WithOffset().IsMatch(at) && DateTimeOffset.TryParse(at, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed))
                occurredAt = parsed;
            else invalid ??= "occurredAt";
        }
        List<string>? capabilities = null;
        if (e.TryGetProperty("capabilities", out var caps) && caps.ValueKind != JsonValueKind.Null)
        {
            if (caps.ValueKind == JsonValueKind.Array && caps.EnumerateArray().All(c => c.ValueKind == JsonValueKind.String))
                capabilities = caps.EnumerateArray().Select(c => c.GetString()!).ToList();
            else invalid ??= "capabilities";
        }
        var input = new UsageEventInput
        {
            Id = id,
            Type = Text("type"),
            Organization = Text("organization"),
            User = Text("user"),
            OccurredAt = occurredAt,
            Feature = Text("feature"),
            Model = Text("model"),
            InputTokens = Integer("inputTokens"),
            KnowledgeTokens = Integer("knowledgeTokens"),
            OutputTokens = Integer("outputTokens"),
            Capabilities = capabilities,
            AgentId = Text("agentId"),
            WorkflowId = Text("workflowId"),
            RunId = Text("runId"),
            HoldId = Text("holdId"),
            Minutes = Number("minutes"),
            Bytes = Integer("bytes"),
        };
        return invalid is null ? input : input with { InvalidField = invalid };
    }

    /// <summary>ISO-8601 date and time with an explicit offset (Z or ±hh:mm).</summary>
    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})$", RegexOptions.IgnoreCase)]
    private static partial Regex WithOffset();
}
