namespace Cassidy.Portal.Billing;

/// <summary>One billing period: [Start, End), both UTC.</summary>
public readonly record struct BillingPeriod(int Index, DateTime Start, DateTime End)
{
    public bool Contains(DateTime instant) => instant >= Start && instant < End;
}

/// <summary>
/// Billing periods are calendar months from the organization's anchor (SPEC §3.3). Period N starts at the anchor's
/// month + N with the day clamped to that month's length (a 31st anchor starts on 30 April, 28/29 February), and the
/// time of day of the anchor. Each start is computed from the anchor, never from the previous start, so clamping
/// never accumulates (31 Jan → 29 Feb → 31 Mar).
/// </summary>
public static class BillingPeriods
{
    public static DateTime StartOf(DateTime anchor, int index)
    {
        anchor = DateTime.SpecifyKind(anchor, DateTimeKind.Utc);
        var month = new DateTime(anchor.Year, anchor.Month, 1, 0, 0, 0, DateTimeKind.Utc).AddMonths(index);
        var day = Math.Min(anchor.Day, DateTime.DaysInMonth(month.Year, month.Month));
        return month.AddDays(day - 1) + anchor.TimeOfDay;
    }

    public static BillingPeriod Period(DateTime anchor, int index) => new(index, StartOf(anchor, index), StartOf(anchor, index + 1));

    /// <summary>The period containing <paramref name="instant"/> (index may be negative before the anchor).</summary>
    public static BillingPeriod Containing(DateTime anchor, DateTime instant)
    {
        var index = (instant.Year - anchor.Year) * 12 + instant.Month - anchor.Month;
        while (StartOf(anchor, index) > instant) index--;
        while (StartOf(anchor, index + 1) <= instant) index++;
        return Period(anchor, index);
    }

    /// <summary>The period that starts exactly at <paramref name="start"/> (a stored period start).</summary>
    public static BillingPeriod Starting(DateTime anchor, DateTime start) => Containing(anchor, start);
}
