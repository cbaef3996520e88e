using Cassidy.Portal.Data;
using Cassidy.Portal.Ledger;

namespace Cassidy.Portal.Tests.Ledger;

/// <summary>Consumption order and overdraft, on the pure in-memory book.</summary>
public sealed class OrganizationBookTests
{
    private static readonly DateTime Now = new(2026, 3, 1, 0, 0, 0, DateTimeKind.Utc);

    private static GrantState Grant(long id, long amount, DateTime? expires, DateTime? starts = null, string kind = GrantKinds.CreditPackage) =>
        new() { Id = id, Kind = kind, Amount = amount, StartsAt = starts ?? Now.AddDays(-10), ExpiresAt = expires };

    [Fact]
    public void Usage_draws_from_the_soonest_expiring_grant_first_and_no_expiry_last()
    {
        var book = new OrganizationBook();
        var never = Grant(1, 1000, null);
        var late = Grant(2, 1000, Now.AddDays(60));
        var soon = Grant(3, 1000, Now.AddDays(5));
        foreach (var g in new[] { never, late, soon }) book.Credit(g);

        var draws = book.Debit(1500, Now);

        Assert.Equal([(3L, 1000L), (2L, 500L)], draws.Select(d => (d.Grant!.Id, d.Amount)));
        Assert.Equal((0, 500, 1000), (soon.Remaining, late.Remaining, never.Remaining));
        Assert.Equal(1500, book.Balance);
    }

    [Fact]
    public void Ties_on_expiry_go_to_the_oldest_grant_and_future_grants_are_not_touched()
    {
        var book = new OrganizationBook();
        var expiry = Now.AddDays(30);
        var newer = Grant(2, 100, expiry, starts: Now.AddDays(-1));
        var older = Grant(1, 100, expiry, starts: Now.AddDays(-5));
        var future = Grant(3, 100, Now.AddDays(1), starts: Now.AddHours(1));
        book.Credit(newer);
        book.Credit(older);
        book.Credit(future);

        var draws = book.Debit(150, Now);

        Assert.Equal([1L, 2L], draws.Select(d => d.Grant!.Id));
        Assert.Equal(100, future.Remaining);
    }

    [Fact]
    public void Nothing_left_means_overdraft_and_the_next_grant_pays_it_first()
    {
        var book = new OrganizationBook();
        book.Credit(Grant(1, 1000, Now.AddDays(5)));

        var draws = book.Debit(1600, Now);
        Assert.Equal(2, draws.Count);
        Assert.Equal((1L, 1000L), (draws[0].Grant!.Id, draws[0].Amount));
        Assert.Equal(600, draws[1].Amount);
        Assert.Null(draws[1].Grant);
        Assert.Equal(-600, book.Balance);
        Assert.Equal(600, book.Overdraft);

        var next = Grant(2, 1000, null);
        var paid = book.Credit(next);
        Assert.Equal(600, paid);
        Assert.Equal(400, next.Remaining);
        Assert.Equal(0, book.Overdraft);
        Assert.Equal(400, book.Balance);
        Assert.Equal(book.Balance, book.GrantsRemaining - book.Overdraft);
    }

    [Fact]
    public void A_grant_smaller_than_the_overdraft_only_reduces_it()
    {
        var book = new OrganizationBook();
        book.Debit(1000, Now);
        var small = Grant(1, 300, null);
        book.Credit(small);
        Assert.Equal((0L, 700L, -700L), (small.Remaining, book.Overdraft, book.Balance));
        Assert.Equal([((long?)null, 50L)], book.Debit(50, Now).Select(d => (d.Grant?.Id, d.Amount)));
    }
}
