using System.Globalization;
using Cassidy.Portal.Data;
using Cassidy.Portal.Ledger;

namespace Cassidy.Portal.Benchmarks;

/// <summary>
/// Model calls for the benchmarks that need real volume recorded through the engine's own write path: call number
/// <c>n</c> is always the same call (member, model, tokens, agent or workflow and run spread by multiplicative hashing), and
/// they are recorded in batches of 1,000 by four callers at once, as the AI runtime would send them.
/// </summary>
internal static class SyntheticUsage
{
    public static UsageEventInput Call(long n, string organization, IReadOnlyList<string> users, IReadOnlyList<string> models, DateTime at) => new()
    {
        Id = "bench-" + n.ToString(CultureInfo.InvariantCulture), Organization = organization, User = users[(int)(n * 7 % users.Count)],
        OccurredAt = new DateTimeOffset(DateTime.SpecifyKind(at, DateTimeKind.Utc)),
        Feature = n % 4 == 0 ? Features.WorkflowRun : Features.AgentChat, Model = models[(int)(n / 3 % models.Count)],
        InputTokens = 200 + n * 31 % 1800, KnowledgeTokens = n % 3 * 500, OutputTokens = 50 + n * 17 % 600,
        AgentId = n % 4 == 0 ? null : $"Agent {n / 11 % 8}", WorkflowId = n % 4 == 0 ? $"Workflow {n / 13 % 4}" : null,
        RunId = n % 4 == 0 ? $"run-{n / 16}" : null,
    };

    /// <summary>A moment in the <paramref name="days"/> before <paramref name="now"/>, spread evenly by <paramref name="n"/>.</summary>
    public static DateTime Spread(long n, DateTime now, int days) =>
        now.AddDays(-days).AddTicks(n * 2654435761L % TimeSpan.FromDays(days).Ticks);

    /// <summary>Records calls <paramref name="first"/> … <paramref name="first"/> + <paramref name="count"/> − 1; every one must be recorded.</summary>
    public static Task RecordAsync(CreditLedger ledger, long first, long count, Func<long, UsageEventInput> call)
    {
        var next = first - 1000;
        return Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            long start;
            while ((start = Interlocked.Add(ref next, 1000)) < first + count)
            {
                var batch = new List<UsageEventInput>(1000);
                for (var n = start; n < Math.Min(start + 1000, first + count); n++) batch.Add(call(n));
                var refused = (await ledger.RecordUsageAsync(batch)).FirstOrDefault(r => r.Status != UsageStatuses.Recorded);
                if (refused is not null) throw new InvalidOperationException($"A benchmark call was not recorded: {refused}");
            }
        })));
    }
}
