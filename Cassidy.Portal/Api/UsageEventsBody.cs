using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cassidy.Portal.Ledger;

namespace Cassidy.Portal.Api;

/// <summary>The body of <c>POST /internal/v1/usage-events</c>: its events, or why the whole batch is refused (400).</summary>
public sealed record UsageEventsBatch(IReadOnlyList<UsageEventInput> Events, string? InvalidField = null, string? Message = null)
{
    public static UsageEventsBatch Refused(string field, string message) => new([], field, message);
}

/// <summary>
/// Reads a usage-events body in one pass with <see cref="Utf8JsonReader"/>. A JsonDocument plus a property lookup per
/// field was the largest cost of ingest outside SQLite (each lookup scans the event's properties). The rules are the
/// document's: a body that is not JSON is refused as <c>body</c>; an object without an array <c>events</c> as
/// <c>events</c>; the last of duplicate properties wins; a field of the wrong JSON type (or an unparsable date) marks
/// only its event invalid, naming the first such field in <see cref="FieldOrder"/>.
/// </summary>
public static partial class UsageEventsBody
{
    /// <summary>Buffers the whole body (it is validated as a whole before any event is recorded), then parses it.</summary>
    public static async Task<UsageEventsBatch> ReadAsync(PipeReader body, CancellationToken ct)
    {
        while (true)
        {
            var read = await body.ReadAsync(ct);
            if (read.IsCompleted || read.IsCanceled)
            {
                try { return Parse(read.Buffer); }
                finally { body.AdvanceTo(read.Buffer.End); }
            }
            body.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }
    }

    /// <summary>
    /// Parses a whole body. Kestrel hands it over in segments of a few KB; a reader over one contiguous span is much
    /// faster than over a sequence (measured: the multi-segment path was a third of the parsing), so a body in several
    /// segments is first copied into one pooled buffer.
    /// </summary>
    public static UsageEventsBatch Parse(ReadOnlySequence<byte> json)
    {
        if (json.IsSingleSegment) return Parse(json.FirstSpan);
        var length = checked((int)json.Length);
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            json.CopyTo(buffer);
            return Parse(buffer.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static UsageEventsBatch Parse(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        try
        {
            if (!reader.Read()) return NotJson();
            var events = new List<UsageEventInput>();
            int? count = null;
            string? problem = "The events field is required.";
            if (reader.TokenType == JsonTokenType.StartObject)
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var isEvents = reader.ValueTextEquals("events"u8);
                    reader.Read();
                    if (!isEvents)
                    {
                        reader.Skip();
                        continue;
                    }
                    events.Clear();
                    (count, problem) = reader.TokenType switch
                    {
                        JsonTokenType.Null => ((int?)null, "The events field is required."),
                        JsonTokenType.StartArray => (ReadEvents(ref reader, events), (string?)null),
                        _ => (null, "events must be an array."),
                    };
                    reader.Skip(); // past an object given as events; a no-op on the array's end or a value
                }
            }
            else
            {
                reader.Skip();
            }
            if (reader.Read()) return NotJson(); // a second value after the first (the reader throws on most)
            if (problem is not null) return UsageEventsBatch.Refused("events", problem);
            if (count is 0 or > UsageEventsApi.MaxEvents)
                return UsageEventsBatch.Refused("events", $"Send 1 to {UsageEventsApi.MaxEvents} events per request (got {count}).");
            return new UsageEventsBatch(events);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return NotJson(); // InvalidOperationException: a string that is not valid UTF-8
        }
    }

    private static UsageEventsBatch NotJson() => UsageEventsBatch.Refused("body", "The body must be a JSON object: {\"events\": [...]}.");

    /// <summary>Reads the array's elements (keeping at most the allowed number, but counting all); returns the count.</summary>
    private static int ReadEvents(ref Utf8JsonReader reader, List<UsageEventInput> events)
    {
        var count = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            count++;
            if (count <= UsageEventsApi.MaxEvents) events.Add(ReadEvent(ref reader));
            else reader.Skip();
        }
        return count;
    }

    /// <summary>The order in which a wrong-typed field is named when an event has several.</summary>
    [Flags]
    private enum Field
    {
        None = 0,
        Id = 1 << 0, OccurredAt = 1 << 1, Capabilities = 1 << 2, Type = 1 << 3, Organization = 1 << 4, User = 1 << 5,
        Feature = 1 << 6, Model = 1 << 7, InputTokens = 1 << 8, KnowledgeTokens = 1 << 9, OutputTokens = 1 << 10,
        AgentId = 1 << 11, WorkflowId = 1 << 12, RunId = 1 << 13, HoldId = 1 << 14, Minutes = 1 << 15, Bytes = 1 << 16,
    }

    private static readonly string[] FieldOrder =
    [
        "id", "occurredAt", "capabilities", "type", "organization", "user", "feature", "model", "inputTokens",
        "knowledgeTokens", "outputTokens", "agentId", "workflowId", "runId", "holdId", "minutes", "bytes",
    ];

    /// <summary>Reads one event (the reader on its first token, left on its last).</summary>
    private static UsageEventInput ReadEvent(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return new UsageEventInput { InvalidField = "event" };
        }
        var invalid = Field.None;
        string? id = null, type = null, organization = null, user = null, feature = null, model = null;
        string? agentId = null, workflowId = null, runId = null, holdId = null;
        long? inputTokens = null, knowledgeTokens = null, outputTokens = null, bytes = null;
        double? minutes = null;
        DateTimeOffset? occurredAt = null;
        List<string>? capabilities = null;

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var field = Named(ref reader);
            reader.Read();
            invalid &= ~field; // the last of duplicate properties wins, as with JsonDocument
            switch (field)
            {
                case Field.Id: id = Text(ref reader, field, ref invalid); break;
                case Field.Type: type = Text(ref reader, field, ref invalid); break;
                case Field.Organization: organization = Text(ref reader, field, ref invalid); break;
                case Field.User: user = Text(ref reader, field, ref invalid); break;
                case Field.Feature: feature = Text(ref reader, field, ref invalid); break;
                case Field.Model: model = Text(ref reader, field, ref invalid); break;
                case Field.AgentId: agentId = Text(ref reader, field, ref invalid); break;
                case Field.WorkflowId: workflowId = Text(ref reader, field, ref invalid); break;
                case Field.RunId: runId = Text(ref reader, field, ref invalid); break;
                case Field.HoldId: holdId = Text(ref reader, field, ref invalid); break;
                case Field.InputTokens: inputTokens = Integer(ref reader, field, ref invalid); break;
                case Field.KnowledgeTokens: knowledgeTokens = Integer(ref reader, field, ref invalid); break;
                case Field.OutputTokens: outputTokens = Integer(ref reader, field, ref invalid); break;
                case Field.Bytes: bytes = Integer(ref reader, field, ref invalid); break;
                case Field.Minutes: minutes = Number(ref reader, field, ref invalid); break;
                case Field.OccurredAt:
                    occurredAt = null;
                    if (Text(ref reader, field, ref invalid) is { } at)
                    {
                        if (WithOffset().IsMatch(at) && DateTimeOffset.TryParse(at, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed))
                            occurredAt = parsed;
                        else invalid |= field;
                    }
                    break;
                case Field.Capabilities: capabilities = Strings(ref reader, field, ref invalid); break;
                default: reader.Skip(); break;
            }
        }

        return new UsageEventInput
        {
            Id = id, Type = type, Organization = organization, User = user, OccurredAt = occurredAt, Feature = feature,
            Model = model, InputTokens = inputTokens, KnowledgeTokens = knowledgeTokens, OutputTokens = outputTokens,
            Capabilities = capabilities, AgentId = agentId, WorkflowId = workflowId, RunId = runId, HoldId = holdId,
            Minutes = minutes, Bytes = bytes,
            InvalidField = invalid == Field.None ? null : FieldOrder[System.Numerics.BitOperations.TrailingZeroCount((uint)invalid)],
        };
    }

    /// <summary>The field a property name denotes; names are told apart by length first (a few comparisons, not 17).</summary>
    private static Field Named(ref Utf8JsonReader reader)
    {
        if (reader.ValueIsEscaped)
        {
            for (var i = 0; i < FieldOrder.Length; i++)
                if (reader.ValueTextEquals(FieldOrder[i])) return (Field)(1 << i);
            return Field.None;
        }
        var name = reader.ValueSpan;
        return name.Length switch
        {
            2 when name.SequenceEqual("id"u8) => Field.Id,
            4 when name.SequenceEqual("type"u8) => Field.Type,
            4 when name.SequenceEqual("user"u8) => Field.User,
            5 when name.SequenceEqual("model"u8) => Field.Model,
            5 when name.SequenceEqual("bytes"u8) => Field.Bytes,
            5 when name.SequenceEqual("runId"u8) => Field.RunId,
            6 when name.SequenceEqual("holdId"u8) => Field.HoldId,
            7 when name.SequenceEqual("feature"u8) => Field.Feature,
            7 when name.SequenceEqual("agentId"u8) => Field.AgentId,
            7 when name.SequenceEqual("minutes"u8) => Field.Minutes,
            10 when name.SequenceEqual("occurredAt"u8) => Field.OccurredAt,
            10 when name.SequenceEqual("workflowId"u8) => Field.WorkflowId,
            11 when name.SequenceEqual("inputTokens"u8) => Field.InputTokens,
            12 when name.SequenceEqual("organization"u8) => Field.Organization,
            12 when name.SequenceEqual("capabilities"u8) => Field.Capabilities,
            12 when name.SequenceEqual("outputTokens"u8) => Field.OutputTokens,
            15 when name.SequenceEqual("knowledgeTokens"u8) => Field.KnowledgeTokens,
            _ => Field.None,
        };
    }

    private static string? Text(ref Utf8JsonReader reader, Field field, ref Field invalid)
    {
        if (reader.TokenType == JsonTokenType.String) return reader.GetString();
        MarkWrong(ref reader, field, ref invalid);
        return null;
    }

    private static long? Integer(ref Utf8JsonReader reader, Field field, ref Field invalid)
    {
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var n)) return n;
        MarkWrong(ref reader, field, ref invalid);
        return null;
    }

    private static double? Number(ref Utf8JsonReader reader, Field field, ref Field invalid)
    {
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out var n) && double.IsFinite(n)) return n;
        MarkWrong(ref reader, field, ref invalid);
        return null;
    }

    private static List<string>? Strings(ref Utf8JsonReader reader, Field field, ref Field invalid)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            MarkWrong(ref reader, field, ref invalid);
            return null;
        }
        var strings = new List<string>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType == JsonTokenType.String) strings.Add(reader.GetString()!);
            else MarkWrong(ref reader, field, ref invalid);
        }
        return (invalid & field) == 0 ? strings : null;
    }

    /// <summary>JSON null is an absent field; any other value of the wrong type marks the field invalid.</summary>
    private static void MarkWrong(ref Utf8JsonReader reader, Field field, ref Field invalid)
    {
        if (reader.TokenType != JsonTokenType.Null) invalid |= field;
        reader.Skip();
    }

    /// <summary>ISO-8601 date and time with an explicit offset (Z or ±hh:mm).</summary>
    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})$", RegexOptions.IgnoreCase)]
    private static partial Regex WithOffset();
}
