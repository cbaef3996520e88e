using Cassidy.Portal.Data;

namespace Cassidy.Portal.Components.Shared;

/// <summary>The one place millicredits become text.</summary>
public static class Credits
{
    /// <summary>12345678 → "12,345.678"; 20000000 → "20,000".</summary>
    public static string Format(long millicredits) => (millicredits / 1000m).ToString("#,##0.###", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>For files: no grouping, up to 3 decimals, invariant: 12345678 → "12345.678".</summary>
    public static string Plain(long millicredits) => (millicredits / 1000m).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// A ledger amount, exact and aligned: always three decimals, a sign, a true minus: 1510080 → "+1,510.080", -305090 →
    /// "−305.090". For the rows where decimals mean something (a ledger entry, one call's cost).
    /// </summary>
    public static string Signed(long millicredits) =>
        (millicredits > 0 ? "+" : millicredits < 0 ? "\u2212" : "") + (Math.Abs(millicredits) / 1000m).ToString("#,##0.000", System.Globalization.CultureInfo.InvariantCulture);

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

}

/// <summary>
/// The one date format ("30 Nov 2026") and the one date-time format ("30 Nov 2026, 09:19 (Europe/Paris)") of the product:
/// pages, e-mails, notifications and the staff console.
/// </summary>
public static class Dates
{
    public const string DayFormat = "d MMM yyyy";

    /// <summary>An instant in the organization's time zone, e.g. "1 Dec 2026, 09:00 (Europe/Paris)"; the day only without time.</summary>
    public static string InZone(DateTime utc, TimeZoneInfo zone, bool withTime = true) =>
        TimeZoneInfo.ConvertTimeFromUtc(DateTime.SpecifyKind(utc, DateTimeKind.Utc), zone)
            .ToString(withTime ? DayFormat + ", HH:mm" : DayFormat, System.Globalization.CultureInfo.InvariantCulture)
        + (withTime ? $" ({zone.Id})" : "");

    /// <summary>An instant for people without an organization's zone (staff, the bell): in UTC, said so.</summary>
    public static string Utc(DateTime utc) => InZone(utc, TimeZoneInfo.Utc);

    /// <summary>A calendar day, e.g. "30 Nov 2026".</summary>
    public static string Day(DateOnly day) => day.ToString(DayFormat, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The day of an instant, in UTC.</summary>
    public static string Day(DateTime utc) => utc.ToString(DayFormat, System.Globalization.CultureInfo.InvariantCulture);

    public static TimeZoneInfo Zone(string id) => TimeZoneInfo.TryFindSystemTimeZoneById(id, out var zone) ? zone : TimeZoneInfo.Utc;
}
