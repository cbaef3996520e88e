namespace Cassidy.Portal.Components.Shared;

public static class Formatting
{
    /// <summary>1 → "1st", 22 → "22nd", 13 → "13th".</summary>
    public static string ToOrdinal(this int n) => (n % 100) switch
    {
        11 or 12 or 13 => $"{n}th",
        _ => (n % 10) switch { 1 => $"{n}st", 2 => $"{n}nd", 3 => $"{n}rd", _ => $"{n}th" },
    };
}
