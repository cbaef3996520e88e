using System.Buffers;
using System.Text;
using Cassidy.Portal.Api;
using Cassidy.Portal.Ledger;

namespace Cassidy.Portal.Tests.Api;

/// <summary>The one-pass reader of usage-event bodies: what refuses a batch, what marks one event invalid.</summary>
public sealed class UsageEventsBodyTests
{
    private const string Good = """{"id":"e1","organization":"acme","user":"a@acme.test","occurredAt":"2026-01-01T10:00:00Z","feature":"agent_chat","model":"gpt-4.1","inputTokens":5,"outputTokens":1}""";

    private static UsageEventsBatch Parse(string json) => UsageEventsBody.Parse(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(json)));

    private static UsageEventInput One(string eventJson)
    {
        var batch = Parse($$"""{"events":[{{eventJson}}]}""");
        Assert.Null(batch.InvalidField);
        return Assert.Single(batch.Events);
    }

    [Theory]
    [InlineData("", "body")]
    [InlineData("   ", "body")]
    [InlineData("not json at all", "body")]
    [InlineData("{\"events\": [", "body")]
    [InlineData("{\"events\": [{\"id\": }]}", "body")]
    [InlineData("{\"events\": []} {}", "body")]
    [InlineData("{\"events\": [1]} x", "body")]
    [InlineData("{}", "events")]
    [InlineData("{\"other\": [1, {\"events\": [1]}]}", "events")]
    [InlineData("{\"events\": null}", "events")]
    [InlineData("{\"events\": {}}", "events")]
    [InlineData("{\"events\": {\"a\": [1]}}", "events")]
    [InlineData("{\"events\": \"many\"}", "events")]
    [InlineData("{\"events\": []}", "events")]
    [InlineData("{\"events\": [1], \"events\": null}", "events")]
    [InlineData("[1,2]", "events")]
    [InlineData("42", "events")]
    public void A_body_that_is_not_a_batch_is_refused_naming_the_field(string json, string field)
    {
        var batch = Parse(json);
        Assert.Equal(field, batch.InvalidField);
        Assert.Empty(batch.Events);
    }

    [Fact]
    public void A_string_that_is_not_UTF8_refuses_the_body()
    {
        var bytes = Encoding.UTF8.GetBytes("{\"events\":[{\"id\":\"ab\"}]}");
        bytes[Array.IndexOf(bytes, (byte)'a')] = 0xC3; // a lead byte without its continuation
        Assert.Equal("body", UsageEventsBody.Parse(new ReadOnlySequence<byte>(bytes)).InvalidField);
    }

    [Fact]
    public void Up_to_1000_events_are_read_and_1001_are_refused_with_the_count()
    {
        string Events(int n) => "{\"events\":[" + string.Join(',', Enumerable.Repeat(Good, n)) + "]}";
        Assert.Equal(1000, Parse(Events(1000)).Events.Count);
        var refused = Parse(Events(1001));
        Assert.Equal("events", refused.InvalidField);
        Assert.Contains("got 1001", refused.Message);
    }

    [Fact]
    public void Every_field_is_read_and_a_body_split_across_segments_reads_the_same()
    {
        const string json = """
            {"ignored": {"deep": [1, {"x": null}]}, "events": [{"id":"e1","type":"model_call","organization":"acme","user":"a@acme.test",
             "occurredAt":"2026-01-01T10:00:00.5+02:00","feature":"workflow_run","model":"gpt-4.1","inputTokens":5,"knowledgeTokens":6,
             "outputTokens":7,"capabilities":["web_search","code"],"agentId":"A","workflowId":"W","runId":"R","holdId":"H",
             "minutes":45.5,"bytes":123,"extra":{"nested":[1,2]}}, {"\u0069d":"e2", "minutes": null}]}
            """;
        var bytes = Encoding.UTF8.GetBytes(json);
        var whole = UsageEventsBody.Parse(new ReadOnlySequence<byte>(bytes));
        var split = UsageEventsBody.Parse(Segments(bytes, 7));

        foreach (var batch in new[] { whole, split })
        {
            Assert.Null(batch.InvalidField);
            Assert.Equal(2, batch.Events.Count);
            var e = batch.Events[0];
            Assert.Equal(("e1", "model_call", "acme", "a@acme.test", "workflow_run", "gpt-4.1"), (e.Id, e.Type, e.Organization, e.User, e.Feature, e.Model));
            Assert.Equal(new DateTimeOffset(2026, 1, 1, 10, 0, 0, 500, TimeSpan.FromHours(2)), e.OccurredAt);
            Assert.Equal((5L, 6L, 7L, 45.5, 123L), (e.InputTokens, e.KnowledgeTokens, e.OutputTokens, e.Minutes, e.Bytes));
            Assert.Equal(["web_search", "code"], e.Capabilities!);
            Assert.Equal(("A", "W", "R", "H"), (e.AgentId, e.WorkflowId, e.RunId, e.HoldId));
            Assert.Null(e.InvalidField);
            Assert.Equal("e2", batch.Events[1].Id);
            Assert.Null(batch.Events[1].Minutes);
        }
    }

    [Theory]
    [InlineData("\"id\":5", "id")]
    [InlineData("\"type\":[\"meeting\"]", "type")]
    [InlineData("\"organization\":{\"slug\":\"acme\"}", "organization")]
    [InlineData("\"user\":true", "user")]
    [InlineData("\"feature\":1", "feature")]
    [InlineData("\"model\":false", "model")]
    [InlineData("\"inputTokens\":\"many\"", "inputTokens")]
    [InlineData("\"inputTokens\":1.5", "inputTokens")]
    [InlineData("\"knowledgeTokens\":1e3", "knowledgeTokens")]
    [InlineData("\"outputTokens\":99999999999999999999", "outputTokens")]
    [InlineData("\"capabilities\":\"web_search\"", "capabilities")]
    [InlineData("\"capabilities\":[\"web_search\",1]", "capabilities")]
    [InlineData("\"capabilities\":[[\"web_search\"]]", "capabilities")]
    [InlineData("\"agentId\":7", "agentId")]
    [InlineData("\"workflowId\":{}", "workflowId")]
    [InlineData("\"runId\":[]", "runId")]
    [InlineData("\"holdId\":1", "holdId")]
    [InlineData("\"minutes\":\"45\"", "minutes")]
    [InlineData("\"bytes\":-1.5", "bytes")]
    [InlineData("\"occurredAt\":20260101", "occurredAt")]
    [InlineData("\"occurredAt\":\"2026-01-01T10:00:00\"", "occurredAt")]
    [InlineData("\"occurredAt\":\"2026-13-01T10:00:00Z\"", "occurredAt")]
    [InlineData("\"occurredAt\":\"yesterday\"", "occurredAt")]
    [InlineData("\"bytes\":\"x\",\"minutes\":\"y\",\"inputTokens\":\"z\"", "inputTokens")]
    [InlineData("\"holdId\":1,\"id\":2", "id")]
    [InlineData("\"capabilities\":1,\"occurredAt\":1", "occurredAt")]
    public void A_field_of_the_wrong_type_marks_only_its_event_invalid_naming_the_first_such_field(string fields, string field)
    {
        var batch = Parse($$"""{"events":[{"type":"model_call",{{fields}},"ignored":[{"x":1}]}, {{Good}}]}""");
        Assert.Null(batch.InvalidField);
        Assert.Equal(field, batch.Events[0].InvalidField);
        // Reading went on past the bad value: the next event is whole.
        Assert.Equal(("e1", "gpt-4.1", null), (batch.Events[1].Id, batch.Events[1].Model, batch.Events[1].InvalidField));
    }

    [Fact]
    public void Null_is_an_absent_field_the_last_duplicate_wins_and_a_non_object_event_is_invalid()
    {
        var nulls = One("""{"id":"n","type":null,"user":null,"capabilities":null,"inputTokens":null,"occurredAt":null}""");
        Assert.Null(nulls.InvalidField);
        Assert.Null(nulls.Type);
        Assert.Null(nulls.Capabilities);
        Assert.Null(nulls.OccurredAt);

        var duplicates = One("""{"id":"d","inputTokens":"many","inputTokens":5,"model":"a","model":"b"}""");
        Assert.Null(duplicates.InvalidField);
        Assert.Equal((5L, "b"), (duplicates.InputTokens, duplicates.Model));
        Assert.Equal("inputTokens", One("""{"id":"d","inputTokens":5,"inputTokens":"many"}""").InvalidField);

        var batch = Parse($$"""{"events":[5, "x", [1, {"id":"e"}], null, {{Good}}]}""");
        Assert.Equal(["event", "event", "event", "event", null], batch.Events.Select(e => e.InvalidField));
        Assert.All(batch.Events.Take(4), e => Assert.Null(e.Id));
    }

    private static ReadOnlySequence<byte> Segments(byte[] bytes, int size)
    {
        Segment? first = null, last = null;
        for (var i = 0; i < bytes.Length; i += size)
        {
            var segment = new Segment(bytes.AsMemory(i, Math.Min(size, bytes.Length - i)), last);
            first ??= segment;
            last = segment;
        }
        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, Segment? previous)
        {
            Memory = memory;
            if (previous is null) return;
            RunningIndex = previous.RunningIndex + previous.Memory.Length;
            previous.Next = this;
        }
    }
}
