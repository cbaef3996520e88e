namespace Cassidy.Portal.Pricing;

/// <summary>Configuration section <c>Metering</c>: the price table and hold lifetime.</summary>
public sealed class MeteringOptions
{
    public const string Section = "Metering";

    public Dictionary<string, ModelPrice> Models { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Credits per use of each capability.</summary>
    public Dictionary<string, decimal> Capabilities { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Credits added to every model call of a workflow run.</summary>
    public decimal WorkflowActionFee { get; set; }

    public int HoldSeconds { get; set; } = 300;
}

/// <summary>Credits per 1,000 tokens.</summary>
public sealed class ModelPrice
{
    public string Tier { get; set; } = ModelTiers.Standard;
    public decimal Input { get; set; }
    public decimal Output { get; set; }
    public string? LighterAlternative { get; set; }
}
