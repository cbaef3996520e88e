namespace Cassidy.Portal.Pricing;

/// <summary>The model tiers of the price table (<c>Metering:Models:{model}:Tier</c>).</summary>
public static class ModelTiers
{
    public const string Standard = "standard";
    public const string Light = "light";
}
