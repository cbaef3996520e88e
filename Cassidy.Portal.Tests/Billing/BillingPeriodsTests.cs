using Cassidy.Portal.Billing;

namespace Cassidy.Portal.Tests.Billing;

public sealed class BillingPeriodsTests
{
    private static DateTime Utc(int y, int m, int d, int h = 0) => new(y, m, d, h, 0, 0, DateTimeKind.Utc);

    [Fact]
    public void A_31st_anchor_falls_on_the_last_day_of_shorter_months_without_drifting()
    {
        var anchor = Utc(2024, 1, 31, 10);
        var starts = Enumerable.Range(0, 14).Select(i => BillingPeriods.StartOf(anchor, i)).ToList();
        Assert.Equal(
        [
            Utc(2024, 1, 31, 10), Utc(2024, 2, 29, 10), Utc(2024, 3, 31, 10), Utc(2024, 4, 30, 10), Utc(2024, 5, 31, 10),
            Utc(2024, 6, 30, 10), Utc(2024, 7, 31, 10), Utc(2024, 8, 31, 10), Utc(2024, 9, 30, 10), Utc(2024, 10, 31, 10),
            Utc(2024, 11, 30, 10), Utc(2024, 12, 31, 10), Utc(2025, 1, 31, 10), Utc(2025, 2, 28, 10),
        ], starts);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(31)]
    public void Periods_are_contiguous_and_every_instant_is_in_exactly_one(int day)
    {
        var anchor = Utc(2023, day == 31 ? 12 : 11, day, 13);
        for (var i = 0; i < 14; i++)
        {
            var period = BillingPeriods.Period(anchor, i);
            Assert.Equal(BillingPeriods.StartOf(anchor, i + 1), period.End);
            Assert.Equal(period, BillingPeriods.Containing(anchor, period.Start));
            Assert.Equal(period, BillingPeriods.Containing(anchor, period.End.AddTicks(-1)));
            Assert.Equal(i, BillingPeriods.Containing(anchor, period.Start.AddDays(3)).Index);
            Assert.InRange((period.End - period.Start).TotalDays, 28, 31);
        }
    }

    [Fact]
    public void The_15th_anchor_keeps_the_15th_and_the_time_of_day()
    {
        var anchor = Utc(2024, 1, 15, 9);
        Assert.Equal(Utc(2024, 2, 15, 9), BillingPeriods.StartOf(anchor, 1));
        Assert.Equal(Utc(2025, 3, 15, 9), BillingPeriods.StartOf(anchor, 14));
        Assert.Equal(-1, BillingPeriods.Containing(anchor, Utc(2024, 1, 1)).Index);
    }

    [Fact]
    public void A_29_february_anchor_clamps_in_common_years()
    {
        var anchor = Utc(2024, 2, 29);
        Assert.Equal(Utc(2024, 3, 29), BillingPeriods.StartOf(anchor, 1));
        Assert.Equal(Utc(2025, 2, 28), BillingPeriods.StartOf(anchor, 12));
        Assert.Equal(Utc(2028, 2, 29), BillingPeriods.StartOf(anchor, 48));
    }
}
