namespace Cassidy.Portal;

/// <summary>
/// Local days of an organization's time zone, from hourly UTC buckets. Exact for zones with whole-hour offsets (DST
/// included: each hour is converted on its own). In zones offset by :30 or :45 an hour belongs to the day its start
/// falls on, the finest split hourly buckets allow.
/// </summary>
public static class LocalDays
{
    /// <summary>
    /// The first UTC hour of a local day: the hour its midnight (or, when DST skips midnight, its first valid time) falls
    /// in — or the next one in zones offset by :30 or :45, where <see cref="Of"/> counts the hour holding midnight in the
    /// day before. So a day's hours are exactly those from its start to the next day's start.
    /// </summary>
    public static DateTime StartUtc(DateOnly day, TimeZoneInfo zone)
    {
        var local = day.ToDateTime(TimeOnly.MinValue, DateTimeKind.Unspecified);
        while (zone.IsInvalidTime(local)) local = local.AddMinutes(15);
        var hour = FloorHour(TimeZoneInfo.ConvertTimeToUtc(local, zone));
        return Of(hour, zone) < day ? hour.AddHours(1) : hour;
    }

    /// <summary>The local day an hourly bucket belongs to: each hour is converted on its own, so DST days have 23 or 25 hours.</summary>
    public static DateOnly Of(DateTime hourUtc, TimeZoneInfo zone) =>
        DateOnly.FromDateTime(TimeZoneInfo.ConvertTimeFromUtc(DateTime.SpecifyKind(hourUtc, DateTimeKind.Utc), zone));

    public static DateTime FloorHour(DateTime utc) =>
        new(utc.Ticks - utc.Ticks % TimeSpan.TicksPerHour, DateTimeKind.Utc);
}
