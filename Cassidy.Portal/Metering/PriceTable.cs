namespace Cassidy.Portal.Metering;

/// <summary>Error codes of a usage event that cannot be priced (SPEC §4).</summary>
public static class PricingErrors
{
    public const string UnknownModel = "unknown_model";
    public const string UnknownCapability = "unknown_capability";
}

/// <summary>The result of pricing one call: millicredits, or an error code — never a silent zero.</summary>
public readonly record struct Price(long Millicredits, string? Error)
{
    public bool Ok => Error is null;
}

/// <summary>
/// Turns one model call into millicredits (SPEC §3.1): exact decimal arithmetic, rounded up to a whole millicredit.
/// </summary>
public sealed class PriceTable(MeteringOptions options)
{
    public MeteringOptions Options { get; } = options;

    public bool IsKnownModel(string model) => Options.Models.ContainsKey(model);

    public Price Price(string model, long inputTokens, long knowledgeTokens, long outputTokens,
        IReadOnlyList<string> capabilities, string feature)
    {
        if (!Options.Models.TryGetValue(model, out var price)) return new(0, PricingErrors.UnknownModel);
        decimal credits = (inputTokens + (decimal)knowledgeTokens) * price.Input / 1000m
                          + outputTokens * price.Output / 1000m;
        foreach (var capability in capabilities)
        {
            if (!Options.Capabilities.TryGetValue(capability, out var fee)) return new(0, PricingErrors.UnknownCapability);
            credits += fee;
        }
        if (feature == Data.Features.WorkflowRun) credits += Options.WorkflowActionFee;
        return new((long)decimal.Ceiling(credits * 1000m), null);
    }

    /// <summary>The most a call with these ceilings can cost (no knowledge or capabilities known ahead): a hold's size.</summary>
    public Price Estimate(string model, long maxInputTokens, long maxOutputTokens, string feature) =>
        Price(model, maxInputTokens, 0, maxOutputTokens, [], feature);
}
