using Cassidy.Portal.Data;
using Cassidy.Portal.Billing;

namespace Cassidy.Portal.Usage;

/// <summary>[FromUtc, ToUtc): whole UTC hours, because the rollups are hourly buckets.</summary>
public sealed record UsageRange(DateTime FromUtc, DateTime ToUtc)
{
    /// <summary>The longest range a page or an export reads: a custom range of centuries would build a chart point per day.</summary>
    public const int MaxDays = 400;

    /// <summary>Why a custom range can't be read, in words for the person who chose it; null when it can.</summary>
    public static string? Problem(DateTime fromUtc, DateTime toUtc) =>
        toUtc <= fromUtc ? "The end of the range must come after its start."
        : fromUtc.Year < 2000 || toUtc.Year > 2100 ? "Choose dates between the years 2000 and 2100."
        : toUtc - fromUtc > TimeSpan.FromDays(MaxDays + 1) ? $"Choose a range of at most {MaxDays} days."
        : null;

    /// <summary>Local days <paramref name="first"/>..<paramref name="last"/> (inclusive) in <paramref name="zone"/>.</summary>
    public static UsageRange Days(DateOnly first, DateOnly last, TimeZoneInfo zone) =>
        new(LocalDays.StartUtc(first, zone), LocalDays.StartUtc(last.AddDays(1), zone));

    /// <summary>A billing period; an hour is counted in the period its bucket starts in.</summary>
    public static UsageRange Period(BillingPeriod period) => new(LocalDays.FloorHour(period.Start), LocalDays.FloorHour(period.End));

    /// <summary>The last <paramref name="days"/> local days, today included.</summary>
    public static UsageRange LastDays(int days, DateTime nowUtc, TimeZoneInfo zone)
    {
        var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTimeFromUtc(nowUtc, zone));
        return Days(today.AddDays(1 - days), today, zone);
    }

    /// <summary>The local days the range touches, up to <paramref name="nowUtc"/> (no empty future days on charts).</summary>
    public IReadOnlyList<DateOnly> LocalDates(TimeZoneInfo zone, DateTime nowUtc)
    {
        var end = ToUtc < nowUtc ? ToUtc : nowUtc;
        if (end <= FromUtc) end = FromUtc.AddTicks(1);
        var first = DateOnly.FromDateTime(TimeZoneInfo.ConvertTimeFromUtc(FromUtc, zone));
        var last = DateOnly.FromDateTime(TimeZoneInfo.ConvertTimeFromUtc(end.AddTicks(-1), zone));
        var days = new List<DateOnly>();
        for (var d = first; d <= last; d = d.AddDays(1)) days.Add(d);
        return days;
    }
}
