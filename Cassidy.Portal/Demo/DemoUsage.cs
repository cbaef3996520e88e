using Cassidy.Portal.Data;
using Cassidy.Portal.Billing;
using Cassidy.Portal.Ledger;

namespace Cassidy.Portal.Demo;

/// <summary>How one demo member uses AI: credits per working day, favourite models, cap.</summary>
public sealed record DemoMember(string Email, double CreditsPerDay, string[] Models, MemberCapMode CapMode = MemberCapMode.Default, long? CapCredits = null);

/// <summary>
/// Generates 90 days of varied usage for a demo organization and records it THROUGH THE ENGINE, in time order, on a
/// clock that walks from the billing anchor to now: each day is recorded when it happened, so periods close, allowances
/// expire and caps bite as they would have. Members the runtime would have refused (at their cap) get no more calls
/// that period, as authorize would have said no.
/// </summary>
public sealed class DemoUsage(CreditLedger ledger, DemoClock clock, PlanCatalog plans, int seed)
{
    private static readonly string[] Agents = ["Support Triage", "Sales Assistant", "Research Helper", "Onboarding Buddy"];
    private static readonly string[] Workflows = ["Weekly Report", "Invoice Reconciliation", "Lead Enrichment"];
    private readonly Random _random = new(seed);

    public async Task<int> RecordAsync(Organization org, IReadOnlyList<DemoMember> members, long? defaultCapCredits, DateTime until)
    {
        var allowance = plans.MonthlyAllowanceMillicredits(org.Plan, org.EnterpriseMonthlyCredits);
        var used = new Dictionary<string, long>();
        var period = BillingPeriods.Containing(org.BillingAnchor, org.BillingAnchor);
        long orgUsed = 0;
        var recorded = 0;
        var storageBytes = 1_800_000_000L;
        var sequence = 0;

        for (var day = org.BillingAnchor.Date; day < until; day = day.AddDays(1))
        {
            var events = new List<(UsageEventInput Event, long Credits, string? Member)>();
            var weekend = day.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday;
            foreach (var member in members)
            {
                var target = member.CreditsPerDay * (weekend ? 0.15 : 1.0) * (0.6 + _random.NextDouble() * 0.8) * Credits.PerCredit;
                for (double spent = 0; spent < target;)
                {
                    var e = ModelCall(org.Slug, member, day, ref sequence);
                    var price = ledger.Prices.Price(e.Model!, e.InputTokens!.Value, e.KnowledgeTokens ?? 0, e.OutputTokens!.Value,
                        e.Capabilities ?? [], e.Feature!);
                    spent += price.Millicredits;
                    events.Add((e, price.Millicredits, member.Email));
                }
                if (!weekend && _random.NextDouble() < 0.12)
                    events.Add((new UsageEventInput
                    {
                        Id = $"demo-meet-{++sequence}", Type = UsageTypes.Meeting, Organization = org.Slug, User = member.Email,
                        OccurredAt = At(day, 10 + _random.Next(7)), Minutes = 15 + _random.Next(4) * 15,
                    }, 0, null));
            }
            if (day.DayOfWeek == DayOfWeek.Monday)
            {
                storageBytes += 150_000_000L + _random.Next(200_000_000);
                events.Add((new UsageEventInput
                {
                    Id = $"demo-storage-{day:yyyyMMdd}", Type = UsageTypes.Storage, Organization = org.Slug, OccurredAt = At(day, 2), Bytes = storageBytes,
                }, 0, null));
            }

            // In time order, split where a billing period ends, each part recorded when its last event happened.
            var ordered = events.Where(e => e.Event.OccurredAt!.Value.UtcDateTime < until).OrderBy(e => e.Event.OccurredAt).ToList();
            var chunk = new List<UsageEventInput>();
            foreach (var (e, credits, memberEmail) in ordered)
            {
                var at = e.OccurredAt!.Value.UtcDateTime;
                if (!period.Contains(at))
                {
                    recorded += await FlushAsync(chunk);
                    period = BillingPeriods.Containing(org.BillingAnchor, at);
                    used.Clear();
                    orgUsed = 0;
                }
                if (memberEmail is not null)
                {
                    var member = members.First(m => m.Email == memberEmail);
                    long? cap = member.CapMode switch
                    {
                        MemberCapMode.Custom => Credits.Millis(member.CapCredits),
                        MemberCapMode.Unlimited => null,
                        _ => Credits.Millis(defaultCapCredits),
                    };
                    var before = used.GetValueOrDefault(memberEmail);
                    if (cap is { } c && before >= c) continue;   // authorize: member_limit_reached
                    if (orgUsed >= allowance) continue;          // authorize: organization_out_of_credits
                    used[memberEmail] = before + credits;
                    orgUsed += credits;
                }
                chunk.Add(e);
            }
            recorded += await FlushAsync(chunk);
        }
        clock.Set(until);
        await ledger.CloseDuePeriodsAsync(org.Id);
        return recorded;
    }

    private async Task<int> FlushAsync(List<UsageEventInput> chunk)
    {
        if (chunk.Count == 0) return 0;
        clock.Set(chunk[^1].OccurredAt!.Value.UtcDateTime.AddSeconds(1));
        var results = await ledger.RecordUsageAsync(chunk);
        var bad = results.FirstOrDefault(r => r.Status != UsageStatuses.Recorded);
        if (bad is not null) throw new InvalidOperationException($"Demo event {bad.Id} was {bad.Status}: {bad.Error} {bad.Field}");
        chunk.Clear();
        return results.Count;
    }

    private UsageEventInput ModelCall(string org, DemoMember member, DateTime day, ref int sequence)
    {
        var workflow = _random.NextDouble() < 0.3;
        var model = member.Models[_random.Next(member.Models.Length)];
        var capabilities = new List<string>();
        if (_random.NextDouble() < 0.15) capabilities.Add("web_search");
        if (_random.NextDouble() < 0.07) capabilities.Add("code_execution");
        if (_random.NextDouble() < 0.02) capabilities.Add("image_generation");
        var id = ++sequence;
        return new UsageEventInput
        {
            Id = $"demo-{id}",
            Organization = org,
            User = member.Email,
            OccurredAt = At(day, 8 + _random.Next(10)),
            Feature = workflow ? Features.WorkflowRun : Features.AgentChat,
            Model = model,
            InputTokens = 300 + _random.Next(3500),
            KnowledgeTokens = _random.NextDouble() < 0.4 ? 200 + _random.Next(3000) : 0,
            OutputTokens = 80 + _random.Next(1200),
            Capabilities = capabilities,
            AgentId = workflow ? null : Agents[_random.Next(Agents.Length)],
            WorkflowId = workflow ? Workflows[_random.Next(Workflows.Length)] : null,
            RunId = workflow ? $"run-{day:yyyyMMdd}-{member.Email[..member.Email.IndexOf('@')]}-{_random.Next(3)}" : null,
        };
    }

    private DateTimeOffset At(DateTime day, int hour) =>
        new(DateTime.SpecifyKind(day.Date.AddHours(hour).AddMinutes(_random.Next(60)).AddSeconds(_random.Next(60)), DateTimeKind.Utc));
}

/// <summary>The demo's clock: it walks through the past so the engine records each day when it happened.</summary>
public sealed class DemoClock(DateTime start) : TimeProvider
{
    private DateTimeOffset _now = new(DateTime.SpecifyKind(start, DateTimeKind.Utc));

    public void Set(DateTime utc)
    {
        var next = new DateTimeOffset(DateTime.SpecifyKind(utc, DateTimeKind.Utc));
        if (next > _now) _now = next;
    }

    public override DateTimeOffset GetUtcNow() => _now;
}
