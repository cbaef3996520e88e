
namespace Cassidy.Portal.Pricing;

/// <summary>Error codes of a usage event that cannot be priced (SPEC §4).</summary>
public static class PricingErrors
{
    public const string UnknownModel = "unknown_model";
    public const string UnknownCapability = "unknown_capability";
}

/// <summary>
/// The result of pricing one call: millicredits, or an error code — never a silent zero. <paramref name="OnLighterModel"/>
/// is what the same call would have cost on the lighter model of its family (tokens re-priced, fees kept; the same
/// millicredits when the model has no lighter alternative): the "where credits go" advice adds it up per agent.
/// </summary>
public readonly record struct Price(long Millicredits, string? Error, long OnLighterModel = 0)
{
    public bool Ok => Error is null;
}

/// <summary>
/// Turns one model call into millicredits (SPEC §3.1): exact decimal arithmetic, rounded up to a whole millicredit.
/// </summary>
public sealed class PriceTable(MeteringOptions options)
{
    public MeteringOptions Options { get; } = options;


    public Price Price(string model, long inputTokens, long knowledgeTokens, long outputTokens,
        IReadOnlyList<string> capabilities, string feature)
    {
        if (!Options.Models.TryGetValue(model, out var price)) return new(0, PricingErrors.UnknownModel);
        var fees = 0m;
        foreach (var capability in capabilities)
        {
            if (!Options.Capabilities.TryGetValue(capability, out var fee)) return new(0, PricingErrors.UnknownCapability);
            fees += fee;
        }
        if (feature == Data.Features.WorkflowRun) fees += Options.WorkflowActionFee;
        var millicredits = Millicredits(TokenCredits(price, inputTokens, knowledgeTokens, outputTokens) + fees);
        var lighter = price.LighterAlternative is { } name && Options.Models.TryGetValue(name, out var light)
            ? Millicredits(TokenCredits(light, inputTokens, knowledgeTokens, outputTokens) + fees)
            : millicredits;
        return new(millicredits, null, lighter);
    }

    /// <summary>Millicredits of these tokens at a model's prices, fees left out; 0 for a model not in the table.</summary>
    public long TokenMillicredits(string model, long inputTokens, long knowledgeTokens, long outputTokens) =>
        Options.Models.TryGetValue(model, out var price) ? Millicredits(TokenCredits(price, inputTokens, knowledgeTokens, outputTokens)) : 0;

    private static decimal TokenCredits(ModelPrice price, long inputTokens, long knowledgeTokens, long outputTokens) =>
        (inputTokens + (decimal)knowledgeTokens) * price.Input / 1000m + outputTokens * price.Output / 1000m;

    private static long Millicredits(decimal credits) => Credits.MillisRoundedUp(credits);

    /// <summary>The most a call with these ceilings can cost (no knowledge or capabilities known ahead): a hold's size.</summary>
    public Price Estimate(string model, long maxInputTokens, long maxOutputTokens, string feature) =>
        Price(model, maxInputTokens, 0, maxOutputTokens, [], feature);
}
