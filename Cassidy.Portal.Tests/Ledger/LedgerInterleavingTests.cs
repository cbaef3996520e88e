using Cassidy.Portal.Data;
using Cassidy.Portal.Billing;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Organizations;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cassidy.Portal.Tests.Ledger;

/// <summary>
/// The defects the ledger simulation found (issue 11, LEDGER.md), each as a plain test with real threads on the real
/// writer: every one of them failed on the engine before it was fixed.
/// </summary>
public sealed class LedgerInterleavingTests : IAsyncLifetime
{
    private LedgerHarness _h = null!;
    private PlanChanges _plans = null!;
    private RecordedInvoices _payments = null!;
    private IDbContextFactory<PortalDbContext> _dbFactory = null!;
    private AuditActor Owner => new(_h.Alice.Id, "Alice");
    private static readonly AuditActor Staff = new("staff-id", "Sasha Staff");

    public async Task InitializeAsync() => await StartAsync("Team");

    private async Task StartAsync(string plan, long? enterpriseCredits = null, int? rolloverPercent = null)
    {
        if (_h is not null) await _h.DisposeAsync();
        _h = await LedgerHarness.CreateAsync(plan, enterpriseCredits: enterpriseCredits, rolloverPercent: rolloverPercent);
        _dbFactory = _h.Db.CreateFactory();
        _payments = new RecordedInvoices(_dbFactory, _h.Clock);
        _plans = new PlanChanges(_h.Ledger, LedgerHarness.Plans(), _payments, _dbFactory, _h.Notifications(), _h.Clock);
    }

    [Fact]
    public async Task Authorizing_strangers_while_batches_commit_keeps_the_stored_balance_equal_to_the_ledger()
    {
        // 16 clients record 1,000 calls of 0.4 credits in batches of 5 while others ask about e-mails that are not members.
        var batches = Enumerable.Range(0, 200).Select(b => Enumerable.Range(0, 5)
            .Select(i => _h.Call($"call-{b}-{i}", b % 2 == 0 ? "alice@test.test" : "bob@test.test", model: "gpt-4.1-mini", input: 1000)).ToList()).ToList();
        var next = -1;
        var clients = Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
        {
            int b;
            while ((b = Interlocked.Increment(ref next)) < batches.Count)
            {
                var results = await _h.Ledger.RecordUsageAsync(batches[b]);
                Assert.All(results, r => Assert.Equal(UsageStatuses.Recorded, r.Status));
            }
        }));
        var strangers = Enumerable.Range(0, 8).Select(c => Task.Run(async () =>
        {
            for (var i = 0; i < 50; i++)
                Assert.Equal("user", (await _h.Ledger.AuthorizeAsync(new AuthorizeInput("org", $"stranger{c}-{i}@test.test", Features.AgentChat))).NotFound);
        }));
        await Task.WhenAll(clients.Concat(strangers));

        var check = await _h.AssertBooksBalanceAsync();
        Assert.Equal(20_000_000 - 1_000 * 400, check.StoredBalance);
        Assert.Equal(1_000, check.UsageEntries);
        Assert.Equal(check.StoredBalance, (await _h.BalanceAsync()).Balance);
        // ... and after a restart, from the database alone.
        await _h.Ledger.DisposeAsync();
        _h.Ledger = LedgerHarness.NewLedger(_h.Db, _h.Clock);
        Assert.Equal(20_000_000 - 1_000 * 400, (await _h.BalanceAsync()).Balance);
    }

    [Fact]
    public async Task Asking_about_an_unknown_email_costs_the_writer_nothing()
    {
        await _h.BalanceAsync();
        var published = 0;
        _h.Ledger.View.Published += _ => Interlocked.Increment(ref published);

        for (var i = 0; i < 20; i++)
            Assert.Equal("user", (await _h.Ledger.AuthorizeAsync(new AuthorizeInput("org", $"nobody{i}@test.test", Features.AgentChat))).NotFound);

        Assert.Equal(0, published); // no reload, no transaction: the view answered
    }

    [Fact]
    public async Task Raising_an_enterprise_agreement_mid_period_grants_the_difference_once()
    {
        Assert.True((await _plans.SetEnterpriseAsync(_h.Org.Id, Staff, new EnterpriseAgreement(300_000, 25, 500, 5000, 2000))).Succeeded);
        var before = await _h.BalanceAsync();
        Assert.Equal(300_000_000, before.Allowance);

        Assert.True((await _plans.SetEnterpriseAsync(_h.Org.Id, Staff, new EnterpriseAgreement(500_000, 25, 500, 5000, 2000))).Succeeded);

        var after = await _h.BalanceAsync();
        Assert.Equal((500_000_000L, 200_000_000L), (after.Allowance, after.Balance - before.Balance));
        await _h.AssertBooksBalanceAsync();
    }

    [Fact]
    public async Task An_upgrade_top_up_counts_toward_enterprise_rollover()
    {
        // Team (20,000) → an agreement of 100,000 with 50% rollover mid-period: 80,000 are topped up, nothing is used.
        Assert.True((await _plans.SetEnterpriseAsync(_h.Org.Id, Staff, new EnterpriseAgreement(100_000, 50, 500, 5000, 2000))).Succeeded);
        _h.Clock.Advance(TimeSpan.FromDays(32));
        Assert.Equal(150_000_000, (await _h.BalanceAsync()).Balance);

        // All 100,000 of the period's allowance was left: 50% of the allowance rolls over, not 50% of its first grant.
        var rollover = (await _h.GrantsAsync()).Single(g => g.Kind == GrantKinds.Rollover);
        Assert.Equal(50_000_000, rollover.AmountMillicredits);
        await _h.AssertBooksBalanceAsync();
    }

    [Fact]
    public async Task Two_admins_confirming_an_upgrade_at_the_same_moment_upgrade_and_pay_once()
    {
        var first = await _plans.QuoteUpgradeAsync(_h.Org.Id, "Business");
        var second = await _plans.QuoteUpgradeAsync(_h.Org.Id, "Business");

        var results = await Task.WhenAll(
            Task.Run(() => _plans.UpgradeAsync(_h.Org.Id, Owner, first!)),
            Task.Run(() => _plans.UpgradeAsync(_h.Org.Id, new AuditActor(_h.Bob.Id, "Bob"), second!)));

        Assert.Single(results, r => r.Result.Succeeded);
        var refused = Assert.Single(results, r => !r.Result.Succeeded);
        var invoices = await _plans.InvoicesAsync(_h.Org.Id);
        Assert.Equal(1, invoices.Count(i => i.Status == InvoiceStatuses.Issued));
        // Both interleavings are right: the second admin's payment was taken and voided (the writer saw the plan had
        // changed), or the upgrade had already happened when they confirmed and nothing was taken.
        var charged = refused.Result.Error!.Contains("You were not charged", StringComparison.Ordinal);
        Assert.True(charged || refused.Result.Error.Contains("is not an upgrade", StringComparison.Ordinal), refused.Result.Error);
        Assert.Equal(charged ? 1 : 0, invoices.Count(i => i.Status == InvoiceStatuses.Void));
        Assert.Equal(100_000_000, (await _h.BalanceAsync()).Balance); // 20,000 + 80,000, once
        await _h.AssertBooksBalanceAsync();
    }

    [Fact]
    public async Task Confirming_the_same_quote_twice_upgrades_and_charges_once()
    {
        var quote = await _plans.QuoteUpgradeAsync(_h.Org.Id, "Business");

        var results = await Task.WhenAll(Task.Run(() => _plans.UpgradeAsync(_h.Org.Id, Owner, quote!)),
            Task.Run(() => _plans.UpgradeAsync(_h.Org.Id, Owner, quote!)));

        Assert.True(results[0].Result.Succeeded || results[1].Result.Succeeded);
        var invoice = Assert.Single(await _plans.InvoicesAsync(_h.Org.Id));
        Assert.Equal((InvoiceStatuses.Issued, quote!.Id), (invoice.Status, invoice.QuoteId));
        Assert.NotNull(invoice.AppliedAt);
        Assert.Equal(100_000_000, (await _h.BalanceAsync()).Balance);
    }

    [Fact]
    public async Task A_payment_whose_plan_change_never_happened_is_voided_when_its_quote_expires()
    {
        // The process stopped between capturing the payment and changing the plan.
        var quote = await _plans.QuoteUpgradeAsync(_h.Org.Id, "Business");
        var orphan = await _payments.CaptureAsync(_h.Org.Id, quote!.Id, "Upgrade", quote.ChargeCents, _h.Now, quote.ResetsAt);

        Assert.Equal(0, await _plans.VoidAbandonedPaymentsAsync()); // it could still be confirmed
        _h.Clock.Advance(PlanChanges.QuoteLifetime + TimeSpan.FromSeconds(1));
        Assert.Equal(1, await _plans.VoidAbandonedPaymentsAsync());

        Assert.Equal(InvoiceStatuses.Void, (await _plans.InvoicesAsync(_h.Org.Id)).Single(i => i.Id == orphan.Id).Status);
        Assert.Equal("Team", (await _h.BalanceAsync()).Plan);
        // The quote can no longer be used either: it expired, and its payment is void.
        Assert.False((await _plans.UpgradeAsync(_h.Org.Id, Owner, quote)).Result.Succeeded);
    }

    [Fact]
    public async Task The_writer_reopens_after_failing_to_open_its_database()
    {
        var folder = Path.Combine(_h.Db.Folder, "later");
        var connectionString = $"Data Source={Path.Combine(folder, "portal.db")}";
        await using var ledger = CreditLedger.Create(connectionString, LedgerHarness.Prices(), LedgerHarness.Plans(), _h.Clock, NullLogger.Instance);

        // The folder isn't there yet: the first call fails...
        await Assert.ThrowsAnyAsync<Exception>(() => ledger.RecordUsageAsync([_h.Call("first")]));
        // ... then the database appears (a volume mounted late, a disk freed), and the writer opens it after its back-off.
        Directory.CreateDirectory(folder);
        await using (var copy = new SqliteConnection(_h.Db.ConnectionString))
        {
            await copy.OpenAsync();
            await using var vacuum = copy.CreateCommand();
            vacuum.CommandText = $"VACUUM INTO '{Path.Combine(folder, "portal.db")}'";
            await vacuum.ExecuteNonQueryAsync();
        }
        IReadOnlyList<UsageResult>? results = null;
        for (var attempt = 0; results is null; attempt++)
        {
            try { results = await ledger.RecordUsageAsync([_h.Call("second")]); }
            catch (SqliteException) when (attempt < 5) { await Task.Delay(200); }
        }
        Assert.Equal(UsageStatuses.Recorded, results[0].Status);
    }

    [Fact]
    public async Task A_failure_after_commit_never_runs_the_work_again()
    {
        await _h.BalanceAsync();
        var failOnce = 1;
        _h.Ledger.View.Published += _ =>
        {
            if (Interlocked.Exchange(ref failOnce, 0) == 1) throw new InvalidOperationException("publishing failed");
        };

        await _h.Ledger.GrantAsync(_h.Org.Id, GrantKinds.CreditPackage, 5_000_000, null, "after-commit failure", null);

        Assert.Single(await _h.GrantsAsync(), g => g.Kind == GrantKinds.CreditPackage);
        Assert.Equal(25_000_000, (await _h.BalanceAsync()).Balance); // and the view was rebuilt from the database
        await _h.AssertBooksBalanceAsync();
    }

    [Fact]
    public async Task A_hold_id_is_answered_only_once_the_hold_is_in_the_database()
    {
        await _h.BalanceAsync();
        // Another connection holds the write lock, so nothing the writer does can commit yet.
        await using var blocker = new SqliteConnection(_h.Db.ConnectionString);
        await blocker.OpenAsync();
        await using (var begin = blocker.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE";
            await begin.ExecuteNonQueryAsync();
        }
        var authorize = _h.Ledger.AuthorizeAsync(new AuthorizeInput("org", "alice@test.test", Features.AgentChat, "gpt-4.1", 1000, 100));

        var answeredEarly = await Task.WhenAny(authorize, Task.Delay(TimeSpan.FromMilliseconds(500))) == authorize;
        await using (var rollback = blocker.CreateCommand())
        {
            rollback.CommandText = "ROLLBACK";
            await rollback.ExecuteNonQueryAsync();
        }
        Assert.False(answeredEarly, "authorize answered with a hold id while its hold could not have been written");
        var decision = (await authorize).Decision!;
        await using var db = _h.Db.CreateContext();
        var hold = await db.CreditHolds.SingleAsync(h => h.Id == decision.HoldId);
        Assert.Equal((HoldStatuses.Active, decision.Held!.Value), (hold.Status, hold.EstimateMillicredits));
    }

    [Fact]
    public async Task An_expired_hold_is_stamped_expired_and_cannot_be_released()
    {
        var decision = (await _h.Ledger.AuthorizeAsync(new AuthorizeInput("org", "alice@test.test", Features.AgentChat, "gpt-4.1", 1000, 100))).Decision!;
        _h.Clock.Advance(TimeSpan.FromSeconds(LedgerHarness.Prices().Options.HoldSeconds + 1));

        Assert.False(await _h.Ledger.ReleaseHoldAsync(decision.HoldId!)); // DELETE answers 404
        await _h.Ledger.CloseAllDuePeriodsAsync(); // the closer's tick

        await using var db = _h.Db.CreateContext();
        var hold = await db.CreditHolds.SingleAsync(h => h.Id == decision.HoldId);
        Assert.Equal(HoldStatuses.Expired, hold.Status);
        Assert.Equal(hold.ExpiresAt, hold.ResolvedAt);
        Assert.Equal(0, (await _h.BalanceAsync()).Held);
    }

    [Fact]
    public async Task The_ledger_is_append_only_in_the_database()
    {
        await _h.RecordAsync(_h.Spend("call", 10));
        await using var db = _h.Db.CreateContext();

        var update = await Assert.ThrowsAsync<SqliteException>(() => db.Database.ExecuteSqlRawAsync("UPDATE LedgerEntries SET AmountMillicredits = 0"));
        var delete = await Assert.ThrowsAsync<SqliteException>(() => db.Database.ExecuteSqlRawAsync("DELETE FROM LedgerEntries"));

        Assert.Contains("append-only", update.Message);
        Assert.Contains("append-only", delete.Message);
        await _h.AssertBooksBalanceAsync();
    }

    public async Task DisposeAsync() => await _h.DisposeAsync();
}
