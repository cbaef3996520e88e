using System.Globalization;

namespace Cassidy.Portal;

/// <summary>
/// Credits as people type them — "1500", "1,500", "12.5", "-250" — read one way everywhere money is entered (limits,
/// packages, adjustments, agreements): to millicredits, or a message for the field that says what to type instead.
/// </summary>
public static class CreditInput
{
    public const string Example = "Enter a number of credits, like 1500 or 12.5.";

    /// <summary>
    /// Reads <paramref name="text"/> as credits between <paramref name="min"/> and <paramref name="max"/> (in credits), with at
    /// most three decimals and optional thousands separators; <paramref name="outOfRange"/> is the message when it is outside.
    /// </summary>
    public static (long? Millicredits, string? Error) Parse(string? text, decimal min, decimal max, string outOfRange, bool allowZero = true)
    {
        var value = (text ?? "").Trim().Replace(" ", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal)
            .Replace('\u2212', '-'); // a typographic minus, as the pages print it
        if (value.Length == 0 || !IsGrouped(value)
            || !decimal.TryParse(value.Replace(",", "", StringComparison.Ordinal), NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign,
                CultureInfo.InvariantCulture, out var credits))
            return (null, Example);
        if (credits < min || credits > max || (!allowZero && credits == 0)) return (null, outOfRange);
        var millicredits = credits * Credits.PerCredit;
        if (millicredits != decimal.Truncate(millicredits)) return (null, "Use at most 3 decimals (1 credit = 1000 millicredits).");
        return ((long)millicredits, null);
    }

    /// <summary>Commas, when there are any, group the whole part by thousands ("12,000", not "12,00" or "1,2").</summary>
    private static bool IsGrouped(string value)
    {
        if (!value.Contains(',', StringComparison.Ordinal)) return true;
        var whole = value.TrimStart('-', '+').Split('.')[0].Split(',');
        return whole[0].Length is >= 1 and <= 3 && whole.Skip(1).All(g => g.Length == 3);
    }
}
