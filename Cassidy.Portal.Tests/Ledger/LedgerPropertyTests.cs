using Cassidy.Portal.Data;
using Cassidy.Portal.Ledger;
using Microsoft.EntityFrameworkCore;
using Xunit.Abstractions;

using Cassidy.Portal.Tests.Infrastructure;

namespace Cassidy.Portal.Tests.Ledger;

/// <summary>
/// Random interleavings of ingest, replay, conflicting replay, hold, settle, release, grants, expiry and period ends,
/// from a seed. After every step: balance = ledger sum = grants − overdraft, rollups = usage ledger = event credits,
/// and every event id is charged exactly once. A failure names its seed; replay it with LEDGER_SEED=&lt;seed&gt;.
/// </summary>
public sealed class LedgerPropertyTests(ITestOutputHelper output)
{
    public static TheoryData<int> Seeds()
    {
        var data = new TheoryData<int>();
        if (int.TryParse(Environment.GetEnvironmentVariable("LEDGER_SEED"), out var pinned)) data.Add(pinned);
        else foreach (var seed in new[] { 1, 42, 2026 }) data.Add(seed);
        return data;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task The_books_balance_after_every_step_of_a_random_interleaving(int seed)
    {
        var random = new Random(seed);
        await using var h = await LedgerHarness.CreateAsync("Free", defaultCap: 600_000);
        var sent = new Dictionary<string, UsageEventInput>();
        var charged = new Dictionary<string, long>();
        var holds = new List<string>();
        var step = 0;
        string[] users = ["alice@test.test", "bob@test.test"];
        try
        {
            for (step = 0; step < 120; step++)
            {
                switch (random.Next(10))
                {
                    case 0 or 1 or 2: // a batch of new events, some settling holds
                    {
                        var batch = Enumerable.Range(0, 1 + random.Next(6)).Select(_ =>
                        {
                            var hold = holds.Count > 0 && random.Next(4) == 0 ? holds[random.Next(holds.Count)] : null;
                            if (hold is not null) holds.Remove(hold);
                            return h.Call($"e{sent.Count}-{random.Next(1000)}", users[random.Next(2)], input: random.Next(0, 60_000),
                                output: random.Next(0, 5_000), knowledge: random.Next(0, 3) * 1000, holdId: hold,
                                capabilities: random.Next(5) == 0 ? ["web_search"] : null);
                        }).ToList();
                        foreach (var (e, r) in batch.Zip(await h.Ledger.RecordUsageAsync(batch)))
                        {
                            if (r.Status == UsageStatuses.Recorded) { sent[e.Id!] = e; charged[e.Id!] = r.CreditsMillicredits!.Value; }
                            else // an id drawn twice in one batch: the first was recorded, the second replays or conflicts
                            {
                                Assert.True(sent.ContainsKey(e.Id!));
                                Assert.True(r.Status == UsageStatuses.Duplicate || r.Error == UsageErrors.Conflict, $"{r}");
                            }
                        }
                        break;
                    }
                    case 3 when sent.Count > 0: // replay: duplicate with the original credits
                    {
                        var id = sent.Keys.ElementAt(random.Next(sent.Count));
                        var r = await h.RecordAsync(sent[id]);
                        Assert.Equal((UsageStatuses.Duplicate, charged[id]), (r.Status, r.CreditsMillicredits!.Value));
                        break;
                    }
                    case 4 when sent.Count > 0: // conflicting replay: rejected, nothing charged
                    {
                        var id = sent.Keys.ElementAt(random.Next(sent.Count));
                        var r = await h.RecordAsync(sent[id] with { OutputTokens = sent[id].OutputTokens + 1 });
                        Assert.Equal(UsageErrors.Conflict, r.Error);
                        break;
                    }
                    case 5: // authorize with a hold
                    {
                        var d = (await h.Ledger.AuthorizeAsync(new AuthorizeInput("org", users[random.Next(2)], Features.AgentChat,
                            "claude-haiku-4.5", random.Next(1, 100_000), random.Next(0, 20_000)))).Decision!;
                        if (d.HoldId is { } id) holds.Add(id);
                        var b = await h.BalanceAsync();
                        Assert.True(d.HoldId is null || b.Held <= Math.Max(0, b.Balance), "holds exceed what is left");
                        break;
                    }
                    case 6 when holds.Count > 0: // release
                    {
                        var id = holds[random.Next(holds.Count)];
                        holds.Remove(id);
                        await h.Ledger.ReleaseHoldAsync(id);
                        break;
                    }
                    case 7: // a package, or a signed adjustment; some expiring soon
                    {
                        var package = random.Next(2) == 0;
                        var amount = random.Next(1, 400) * 1000L * (!package && random.Next(3) == 0 ? -1 : 1);
                        await h.Ledger.GrantAsync(h.Org.Id, package ? GrantKinds.CreditPackage : GrantKinds.Adjustment, amount,
                            random.Next(2) == 0 ? h.Now.AddDays(random.Next(1, 20)) : null, "random", null);
                        break;
                    }
                    case 8: // time passes: holds expire, grants expire, periods end
                        h.Clock.Advance(TimeSpan.FromHours(random.Next(1, 24 * 12)));
                        break;
                    default:
                        await h.BalanceAsync();
                        break;
                }
                await AssertInvariantsAsync(h, charged);
            }
        }
        catch (Exception ex)
        {
            output.WriteLine($"Ledger property test failed with seed {seed} at step {step}; replay with LEDGER_SEED={seed}.");
            throw new Xunit.Sdk.XunitException($"seed {seed}, step {step}: {ex.Message}");
        }
    }

    private static async Task AssertInvariantsAsync(LedgerHarness h, Dictionary<string, long> charged)
    {
        var shown = (await h.BalanceAsync()).Balance; // closes whatever is due first
        var check = await h.Ledger.FullCheckAsync(h.Org.Id);
        Assert.True(check.Ok, check.ToString());
        Assert.Equal(charged.Values.Sum(), check.UsageLedgerSum);
        Assert.Equal(check.StoredBalance, shown);
        await using var db = h.Db.CreateContext();
        var perEvent = await db.LedgerEntries.Where(e => e.Kind == LedgerKinds.Usage).GroupBy(e => e.UsageEventId).Select(g => g.Count()).ToListAsync();
        Assert.All(perEvent, n => Assert.Equal(1, n));
        Assert.Equal(charged.Count, perEvent.Count);
        var balances = await db.LedgerEntries.OrderBy(e => e.Id).Select(e => new { e.AmountMillicredits, e.BalanceAfterMillicredits }).ToListAsync();
        long running = 0;
        foreach (var entry in balances)
        {
            running += entry.AmountMillicredits;
            Assert.Equal(running, entry.BalanceAfterMillicredits);
        }
    }
}
