namespace Cassidy.Portal;

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
