using Cassidy.Portal.Data;

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

/// <summary>The one place millicredits become text.</summary>
public static class Credits
{
    /// <summary>12345678 → "12,345.678"; 20000000 → "20,000".</summary>
    public static string Format(long millicredits) => (millicredits / 1000m).ToString("#,##0.###", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>For files: no grouping, up to 3 decimals, invariant: 12345678 → "12345.678".</summary>
    public static string Plain(long millicredits) => (millicredits / 1000m).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Rounded to whole credits, for headline figures: 12345678 → "12,346".</summary>
    public static string Whole(long millicredits) => Math.Round(millicredits / 1000m, MidpointRounding.AwayFromZero).ToString("#,##0", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A grant or ledger-entry kind in words.</summary>
    public static string Kind(string kind) => kind switch
    {
        LedgerKinds.Grant => "Grant",
        LedgerKinds.Expiry => "Expiry",
        LedgerKinds.Usage => "Usage",
        _ => GrantKinds.Describe(kind),
    };

    /// <summary>An instant in the organization's time zone, e.g. "1 Dec 2026, 09:00 (Europe/Paris)".</summary>
    public static string InZone(DateTime utc, TimeZoneInfo zone, bool withTime = true) =>
        TimeZoneInfo.ConvertTimeFromUtc(utc, zone).ToString(withTime ? "d MMM yyyy, HH:mm" : "d MMM yyyy", System.Globalization.CultureInfo.InvariantCulture)
        + (withTime ? $" ({zone.Id})" : "");

    public static TimeZoneInfo Zone(string id) => TimeZoneInfo.TryFindSystemTimeZoneById(id, out var zone) ? zone : TimeZoneInfo.Utc;
}
