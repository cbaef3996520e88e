namespace Cassidy.Portal.Api;

/// <summary>Configuration section <c>Ingest</c>.</summary>
public sealed class IngestOptions
{
    public const string Section = "Ingest";
    public List<string> ApiKeys { get; set; } = [];
    public int RateLimitPerSecond { get; set; } = 10_000;
}
