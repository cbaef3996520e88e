using System.Runtime.CompilerServices;
using Cassidy.Portal.Data;
using Microsoft.EntityFrameworkCore;
using Cassidy.Portal.Billing;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Pricing;

namespace Cassidy.Portal.Usage;

/// <summary>
/// The read side of the Usage tab, a member's page, My usage and the usage CSV exports: every figure from the rollups
/// (never the raw events) — whole local days from the daily ones, the hours a range cuts from the hourly ones — so all
/// of them agree.
/// </summary>
public sealed class UsageReport(IDbContextFactory<PortalDbContext> dbFactory, CreditLedger ledger, PlanCatalog plans, TimeProvider clock,
    SharedLoads shared)
{
    public const int TopMembers = 10;

    public DateTime Now => clock.GetUtcNow().UtcDateTime;

    /// <summary>
    /// What the live pages show — the periods, the report and the plan meters — loaded once for every page that asks for the
    /// same in the same moment (<see cref="SharedLoads"/>): 200 tabs watching one organization cost one load. Carries the
    /// <see cref="Version"/> it was loaded at, so a page handed a result from just before new usage asks again at its next poll.
    /// </summary>
    public Task<LiveReport> LiveAsync(UsageScope scope, UsageRange? range, string? meterUserId, TimeZoneInfo zone) =>
        shared.GetAsync(("live", scope, range, meterUserId, zone.Id), async () =>
        {
            var version = Version(scope);
            var periods = await PeriodsAsync(scope.OrganizationId);
            var chosen = range ?? (periods is null ? UsageRange.LastDays(30, Now, zone) : UsageRange.Period(periods.Current));
            return new LiveReport(version, periods, chosen, await LoadAsync(scope, chosen, zone), await MetersAsync(scope.OrganizationId, meterUserId));
        });

    /// <summary>Every figure and chart series of the Usage tab (or My usage when the scope names a member).</summary>
    public async Task<UsageReportData> LoadAsync(UsageScope scope, UsageRange range, TimeZoneInfo zone, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await using var snapshot = await db.ReadSnapshotAsync(ct); // the rollups' state and their rows from one instant
        var rollups = await SourcesAsync(db, scope, range, zone, ct);

        var modelDays = await ModelDaysAsync(rollups, zone, ct);
        var byDay = modelDays.GroupBy(r => r.Day).ToDictionary(g => g.Key, g => (
            Chat: g.Where(r => r.Feature != Features.WorkflowRun).Sum(r => r.CreditsMillicredits),
            Workflow: g.Where(r => r.Feature == Features.WorkflowRun).Sum(r => r.CreditsMillicredits)));
        var days = range.LocalDates(zone, Now).Union(byDay.Keys).Order()
            .Select(d => byDay.TryGetValue(d, out var v) ? new DayUsage(d, v.Chat, v.Workflow) : new DayUsage(d, 0, 0)).ToList();
        var models = modelDays.GroupBy(r => r.Model)
            .Select(g => new ModelUsage(g.Key, Tier(g.Key), g.Sum(r => r.CreditsMillicredits), g.Sum(r => r.Calls),
                g.Sum(r => r.InputTokens), g.Sum(r => r.KnowledgeTokens), g.Sum(r => r.OutputTokens), g.Sum(r => r.LightCreditsMillicredits)))
            .OrderByDescending(m => m.Credits).ToList();

        var totals = await MemberTotalsAsync(rollups, ct);
        var userIds = totals.Keys.ToList();
        var names = await db.Users.AsNoTracking().Where(u => userIds.Contains(u.Id))
            .Select(u => new { u.Id, u.DisplayName }).ToDictionaryAsync(u => u.Id, u => u.DisplayName, ct);
        var members = totals
            .Select(t => new MemberTotal(t.Key, names.GetValueOrDefault(t.Key) ?? "Former member", t.Value.Credits, t.Value.Calls))
            .OrderByDescending(m => m.Credits).ThenBy(m => m.Name, StringComparer.OrdinalIgnoreCase).ToList();

        var agents = await AgentsAsync(rollups, ct);
        var total = models.Sum(m => m.Credits);
        return new UsageReportData(scope, range, total, models.Sum(m => m.Calls), models.Sum(m => m.InputTokens),
            models.Sum(m => m.KnowledgeTokens), models.Sum(m => m.OutputTokens), days, models, members, agents, Insights(models, total));
    }

    /// <summary>The range's usage per local day, model and feature: the whole days as stored, the cut hours summed per hour.</summary>
    private static async Task<List<DailyModelRollup>> ModelDaysAsync(RollupSources rollups, TimeZoneInfo zone, CancellationToken ct)
    {
        var rows = rollups.HasDays ? await rollups.ModelDays.ToListAsync(ct) : [];
        if (rollups.HasHours)
            rows.AddRange((await rollups.Hours.GroupBy(r => new { r.HourStart, r.Model, r.Feature })
                    .Select(g => new
                    {
                        g.Key.HourStart, g.Key.Model, g.Key.Feature, Credits = g.Sum(r => r.CreditsMillicredits), Calls = g.Sum(r => r.Calls),
                        Input = g.Sum(r => r.InputTokens), Knowledge = g.Sum(r => r.KnowledgeTokens), Output = g.Sum(r => r.OutputTokens),
                        Light = g.Sum(r => r.LightCreditsMillicredits),
                    })
                    .ToListAsync(ct))
                .Select(h => new DailyModelRollup
                {
                    Day = LocalDays.Of(h.HourStart, zone), Model = h.Model, Feature = h.Feature, CreditsMillicredits = h.Credits,
                    Calls = h.Calls, InputTokens = h.Input, KnowledgeTokens = h.Knowledge, OutputTokens = h.Output, LightCreditsMillicredits = h.Light,
                }));
        return rows;
    }

    /// <summary>Credits and calls per member in the range (only the scope's member when it names one).</summary>
    private static async Task<Dictionary<string, (long Credits, long Calls)>> MemberTotalsAsync(RollupSources rollups, CancellationToken ct)
    {
        var totals = new Dictionary<string, (long Credits, long Calls)>(StringComparer.Ordinal);
        void Add(string user, long credits, long calls)
        {
            var (c, n) = totals.GetValueOrDefault(user);
            totals[user] = (c + credits, n + calls);
        }
        if (rollups.HasDays)
            foreach (var t in await rollups.MemberDays.GroupBy(r => r.UserId)
                         .Select(g => new { UserId = g.Key, Credits = g.Sum(r => r.CreditsMillicredits), Calls = g.Sum(r => r.Calls) }).ToListAsync(ct))
                Add(t.UserId, t.Credits, t.Calls);
        if (rollups.HasHours)
            foreach (var t in await rollups.Hours.GroupBy(r => r.UserId)
                         .Select(g => new { UserId = g.Key, Credits = g.Sum(r => r.CreditsMillicredits), Calls = g.Sum(r => r.Calls) }).ToListAsync(ct))
                Add(t.UserId, t.Credits, t.Calls);
        return totals;
    }

    /// <summary>An agent's or a workflow's figures from one kind of rollup; the kinds are added up per agent.</summary>
    private sealed record AgentCell(string AgentId, string WorkflowId, long Credits, long Calls, long Light, long Runs, long RunCredits);

    private static async Task<IReadOnlyList<AgentUsage>> AgentsAsync(RollupSources rollups, CancellationToken ct)
    {
        var cells = new List<AgentCell>();
        if (rollups.HasDays)
            cells.AddRange(await rollups.AgentDays.GroupBy(r => new { r.AgentId, r.WorkflowId })
                .Select(g => new AgentCell(g.Key.AgentId, g.Key.WorkflowId, g.Sum(r => r.CreditsMillicredits), g.Sum(r => r.Calls),
                    g.Sum(r => r.LightCreditsMillicredits), g.Sum(r => r.Runs), g.Sum(r => r.RunCreditsMillicredits)))
                .ToListAsync(ct));
        if (rollups.HasHours)
        {
            cells.AddRange(await rollups.AgentHours.GroupBy(r => new { r.AgentId, r.WorkflowId })
                .Select(g => new AgentCell(g.Key.AgentId, g.Key.WorkflowId, g.Sum(r => r.CreditsMillicredits), g.Sum(r => r.Calls),
                    g.Sum(r => r.LightCreditsMillicredits), 0, 0))
                .ToListAsync(ct));
            cells.AddRange(await rollups.RunHours.GroupBy(r => new { r.AgentId, r.WorkflowId })
                .Select(g => new AgentCell(g.Key.AgentId, g.Key.WorkflowId, 0, 0, 0, g.LongCount(), g.Sum(r => r.CreditsMillicredits)))
                .ToListAsync(ct));
        }
        return cells.GroupBy(c => (c.AgentId, c.WorkflowId))
            .Select(g => new AgentUsage(g.Key.AgentId, g.Key.WorkflowId, g.Sum(c => c.Credits), g.Sum(c => c.Calls),
                g.Sum(c => c.Runs), g.Sum(c => c.RunCredits), g.Sum(c => c.Light)))
            .Where(a => a.Calls > 0)
            .OrderByDescending(a => a.Credits).ToList();
    }

    private string Tier(string model) => ledger.Prices.Options.Models.TryGetValue(model, out var p) ? p.Tier : ModelTiers.Standard;

    private CreditInsights Insights(IReadOnlyList<ModelUsage> models, long total)
    {
        long knowledge = 0, standard = 0, light = 0, standardOnLight = 0;
        foreach (var m in models)
        {
            ledger.Prices.Options.Models.TryGetValue(m.Model, out var p);
            knowledge += ledger.Prices.TokenMillicredits(m.Model, 0, m.KnowledgeTokens, 0);
            if (p is { Tier: ModelTiers.Light }) light += m.Credits;
            else
            {
                standard += m.Credits;
                standardOnLight += m.OnLighterModel; // recorded with each call's price, never re-priced
            }
        }
        return new CreditInsights(Math.Min(knowledge, total), standard, light, standardOnLight, total);
    }

    /// <summary>
    /// Where a range's figures are read: its whole local days from the daily rollups (when they are keyed in the zone
    /// asked for), the hours before its first and after its last whole day from the hourly ones. A month is then a few
    /// thousand daily rows however many events it holds; a range with no whole day (or another zone) reads only hours.
    /// </summary>
    private sealed class RollupSources
    {
        /// <summary>The organization's daily rows, or one member's in the same shape.</summary>
        public required IQueryable<DailyModelRollup> ModelDays { get; init; }
        public required IQueryable<DailyMemberRollup> MemberDays { get; init; }
        public required IQueryable<UsageRollup> Hours { get; init; }
        public required IQueryable<DailyAgentRollup> AgentDays { get; init; }
        public required IQueryable<AgentRollup> AgentHours { get; init; }
        public required IQueryable<RunRollup> RunHours { get; init; }
        public bool HasDays { get; init; }
        public bool HasHours { get; init; }
    }

    private static async Task<RollupSources> SourcesAsync(PortalDbContext db, UsageScope scope, UsageRange range, TimeZoneInfo zone,
        CancellationToken ct)
    {
        var org = scope.OrganizationId;
        // Whole days come from the daily rollups when they are keyed in this zone and complete (not being rebuilt after a
        // time-zone change); otherwise every hour is read from the hourly rollups, which are exact whatever the zone.
        var dailyZone = await db.CreditAccounts.Where(a => a.OrganizationId == org)
            .Select(a => a.DailyRollupsBuiltBefore == null ? a.RollupTimeZone : null).FirstOrDefaultAsync(ct);
        DateOnly firstDay = DateOnly.MaxValue, lastDay = DateOnly.MinValue;
        DateTime headFrom = range.FromUtc, headTo = range.ToUtc, tailFrom = range.ToUtc, tailTo = range.ToUtc;
        if (dailyZone == zone.Id && range.ToUtc > range.FromUtc)
        {
            var first = LocalDays.Of(range.FromUtc, zone);
            if (LocalDays.StartUtc(first, zone) < range.FromUtc) first = first.AddDays(1);
            var last = LocalDays.Of(range.ToUtc.AddHours(-1), zone);
            if (LocalDays.StartUtc(last.AddDays(1), zone) > range.ToUtc) last = last.AddDays(-1);
            if (first <= last)
            {
                (firstDay, lastDay) = (first, last);
                (headTo, tailFrom) = (LocalDays.StartUtc(first, zone), LocalDays.StartUtc(last.AddDays(1), zone));
            }
        }

        var user = scope.UserId;
        // The organization's days and members come from their own small rollups; a member's from their rows of the detailed one.
        var memberRows = db.DailyUsageRollups.AsNoTracking()
            .Where(r => r.OrganizationId == org && r.UserId == user && r.Day >= firstDay && r.Day <= lastDay);
        var modelDays = user is null
            ? db.DailyModelRollups.AsNoTracking().Where(r => r.OrganizationId == org && r.Day >= firstDay && r.Day <= lastDay)
            : memberRows.Select(r => new DailyModelRollup
            {
                OrganizationId = r.OrganizationId, Day = r.Day, Model = r.Model, Feature = r.Feature, CreditsMillicredits = r.CreditsMillicredits,
                Calls = r.Calls, InputTokens = r.InputTokens, KnowledgeTokens = r.KnowledgeTokens, OutputTokens = r.OutputTokens,
                LightCreditsMillicredits = r.LightCreditsMillicredits,
            });
        var memberDays = user is null
            ? db.DailyMemberRollups.AsNoTracking().Where(r => r.OrganizationId == org && r.Day >= firstDay && r.Day <= lastDay)
            : memberRows.Select(r => new DailyMemberRollup
            {
                OrganizationId = r.OrganizationId, Day = r.Day, UserId = r.UserId, CreditsMillicredits = r.CreditsMillicredits, Calls = r.Calls,
            });
        var agentDays = db.DailyAgentRollups.AsNoTracking().Where(r => r.OrganizationId == org && r.Day >= firstDay && r.Day <= lastDay);
        IQueryable<UsageRollup> orgHours = db.UsageRollups.AsNoTracking().Where(r => r.OrganizationId == org);
        IQueryable<AgentRollup> orgAgentHours = db.AgentRollups.AsNoTracking().Where(r => r.OrganizationId == org);
        var runHours = db.RunRollups.AsNoTracking().Where(r => r.OrganizationId == org
            && ((r.FirstAt >= headFrom && r.FirstAt < headTo) || (r.FirstAt >= tailFrom && r.FirstAt < tailTo)));
        if (user is not null)
        {
            agentDays = agentDays.Where(r => r.UserId == user);
            orgHours = orgHours.Where(r => r.UserId == user);
            orgAgentHours = orgAgentHours.Where(r => r.UserId == user);
            runHours = runHours.Where(r => r.UserId == user);
        }
        // The head and the tail as two ranges of the key (UNION ALL): the hourly tables are clustered by it, and SQLite reads
        // an OR of two ranges of a WITHOUT ROWID table by scanning every hour of the organization.
        var hours = orgHours.Where(r => r.HourStart >= headFrom && r.HourStart < headTo)
            .Concat(orgHours.Where(r => r.HourStart >= tailFrom && r.HourStart < tailTo));
        var agentHours = orgAgentHours.Where(r => r.HourStart >= headFrom && r.HourStart < headTo)
            .Concat(orgAgentHours.Where(r => r.HourStart >= tailFrom && r.HourStart < tailTo));
        return new RollupSources
        {
            ModelDays = modelDays, MemberDays = memberDays, Hours = hours, AgentDays = agentDays, AgentHours = agentHours, RunHours = runHours,
            HasDays = firstDay <= lastDay, HasHours = headTo > headFrom || tailTo > tailFrom,
        };
    }

    private static IQueryable<UsageRollup> Rollups(PortalDbContext db, UsageScope scope, UsageRange range)
    {
        var query = db.UsageRollups.AsNoTracking()
            .Where(r => r.OrganizationId == scope.OrganizationId && r.HourStart >= range.FromUtc && r.HourStart < range.ToUtc);
        return scope.UserId is { } user ? query.Where(r => r.UserId == user) : query;
    }


    /// <summary>
    /// The per-member breakdown of a range: every current member (also those without usage), biggest spenders first, then by
    /// name. Members are at most a plan's few hundred, so they are joined with the range's totals here, once for every live
    /// page showing the same range (<see cref="SharedLoads"/>); the Usage tab searches, sorts and pages the rows itself.
    /// </summary>
    public Task<IReadOnlyList<MemberUsageRow>> MembersAsync(int organizationId, UsageRange range) =>
        shared.GetAsync<IReadOnlyList<MemberUsageRow>>(("members", organizationId, range), async () =>
            (await MemberRowsAsync(organizationId, range, CancellationToken.None))
                .OrderByDescending(r => r.Credits).ThenBy(r => r.Name, StringComparer.OrdinalIgnoreCase).ThenBy(r => r.UserId, StringComparer.Ordinal)
                .ToList());

    /// <summary>The breakdown row of one member, or null when they are not a member of the organization.</summary>
    public async Task<MemberUsageRow?> MemberAsync(int organizationId, string userId, UsageRange range, CancellationToken ct = default) =>
        (await MemberRowsAsync(organizationId, range, ct, userId)).FirstOrDefault();

    private async Task<List<MemberUsageRow>> MemberRowsAsync(int organizationId, UsageRange range, CancellationToken ct, string? onlyUserId = null)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await using var snapshot = await db.ReadSnapshotAsync(ct);
        var memberships = db.Memberships.AsNoTracking().Where(m => m.OrganizationId == organizationId);
        if (onlyUserId is not null) memberships = memberships.Where(m => m.UserId == onlyUserId);
        var members = await memberships
            .Select(m => new { m.UserId, m.User.DisplayName, Email = m.User.Email ?? "", m.Role, m.CapMode, m.CapMillicredits,
                m.Organization.DefaultMemberCapMillicredits, m.Organization.TimeZone })
            .ToListAsync(ct);
        if (members.Count == 0) return [];
        var zone = TimeZoneInfo.TryFindSystemTimeZoneById(members[0].TimeZone, out var found) ? found : TimeZoneInfo.Utc;

        var totals = await MemberTotalsAsync(await SourcesAsync(db, new UsageScope(organizationId, onlyUserId), range, zone, ct), ct);
        var orgTotals = onlyUserId is null
            ? totals
            : await MemberTotalsAsync(await SourcesAsync(db, UsageScope.Organization(organizationId), range, zone, ct), ct);
        var orgTotal = orgTotals.Values.Sum(t => t.Credits);

        // Caps are per billing period: used = what enforcement counts (the ledger's in-memory view).
        await ledger.GetBalanceAsync(organizationId);
        var view = ledger.View.Find(organizationId);
        return members.Select(m =>
        {
            var t = totals.GetValueOrDefault(m.UserId);
            var cap = MemberCapRule.Effective(m.CapMode, m.CapMillicredits, m.DefaultMemberCapMillicredits);
            return new MemberUsageRow(m.UserId, m.DisplayName, m.Email, m.Role, t.Credits,
                CreditInsights.Share(t.Credits, orgTotal), t.Calls, cap, view?.MemberUsage(m.UserId) ?? 0);
        }).ToList();
    }

    /// <summary>Storage (latest snapshot) and meeting hours this billing period, against the plan (or agreement).</summary>
    public async Task<PlanMeters> MetersAsync(int organizationId, string? userId = null, CancellationToken ct = default)
    {
        var balance = await ledger.GetBalanceAsync(organizationId);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var org = await db.Organizations.AsNoTracking().SingleAsync(o => o.Id == organizationId, ct);
        var plan = plans.Find(org.Plan);
        var enterprise = string.Equals(org.Plan, PlanCatalog.Enterprise, StringComparison.OrdinalIgnoreCase);
        var storageGb = enterprise && org.EnterpriseStorageGb is { } gb ? gb : plan?.StorageGb ?? 0;
        var meetingHours = enterprise && org.EnterpriseMeetingHours is { } h ? h : plan?.MeetingHours ?? 0;

        var bytes = await db.StorageSnapshots.AsNoTracking().Where(s => s.OrganizationId == organizationId)
            .OrderByDescending(s => s.OccurredAt).ThenByDescending(s => s.Id).Select(s => s.Bytes).FirstOrDefaultAsync(ct);
        var period = balance is null ? new UsageRange(DateTime.MinValue, DateTime.MaxValue)
            : UsageRange.Period(new BillingPeriod(0, balance.PeriodStart, balance.PeriodEnd));
        var meetings = db.MeetingRollups.AsNoTracking()
            .Where(m => m.OrganizationId == organizationId && m.HourStart >= period.FromUtc && m.HourStart < period.ToUtc);
        if (userId is not null) meetings = meetings.Where(m => m.UserId == userId);
        var minutes = await meetings.SumAsync(m => m.Minutes, ct);
        return new PlanMeters(bytes, storageGb, minutes, meetingHours);
    }

    /// <summary>
    /// One row per member per local day with usage, day by day, streamed: hours come ordered, and a local day's hours are
    /// contiguous, so a day is written as soon as the next one starts.
    /// </summary>
    public async IAsyncEnumerable<DailyMemberUsage> DailyAsync(UsageScope scope, UsageRange range, TimeZoneInfo zone,
        [EnumeratorCancellation] CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var membersQuery = db.Users.AsNoTracking()
            .Where(u => db.UsageRollups.Any(r => r.OrganizationId == scope.OrganizationId && r.UserId == u.Id));
        if (scope.UserId is { } only) membersQuery = membersQuery.Where(u => u.Id == only);
        var people = await membersQuery.Select(u => new { u.Id, u.DisplayName, Email = u.Email ?? "" }).ToDictionaryAsync(u => u.Id, ct);

        var hours = Rollups(db, scope, range).GroupBy(r => new { r.HourStart, r.UserId })
            .Select(g => new
            {
                g.Key.HourStart, g.Key.UserId, Credits = g.Sum(r => r.CreditsMillicredits), Calls = g.Sum(r => r.Calls),
                Input = g.Sum(r => r.InputTokens), Knowledge = g.Sum(r => r.KnowledgeTokens), Output = g.Sum(r => r.OutputTokens),
            })
            .OrderBy(h => h.HourStart).AsAsyncEnumerable();

        DateOnly? current = null;
        var day = new SortedDictionary<string, DailyMemberUsage>(StringComparer.Ordinal);
        IEnumerable<DailyMemberUsage> Flush()
        {
            var rows = day.Values.OrderBy(r => r.Name, StringComparer.OrdinalIgnoreCase).ThenBy(r => r.UserId, StringComparer.Ordinal).ToList();
            day.Clear();
            return rows;
        }
        await foreach (var h in hours.WithCancellation(ct))
        {
            var date = LocalDays.Of(h.HourStart, zone);
            if (current != date)
            {
                foreach (var row in Flush()) yield return row;
                current = date;
            }
            var person = people.GetValueOrDefault(h.UserId);
            day[h.UserId] = day.TryGetValue(h.UserId, out var r)
                ? r with
                {
                    Credits = r.Credits + h.Credits, Calls = r.Calls + h.Calls, InputTokens = r.InputTokens + h.Input,
                    KnowledgeTokens = r.KnowledgeTokens + h.Knowledge, OutputTokens = r.OutputTokens + h.Output,
                }
                : new DailyMemberUsage(date, h.UserId, person?.DisplayName ?? "Former member", person?.Email ?? "", h.Credits, h.Calls,
                    h.Input, h.Knowledge, h.Output);
        }
        foreach (var row in Flush()) yield return row;
    }

    /// <summary>The raw recorded events of the range (admins' per-event export only; never used for page figures).</summary>
    public async IAsyncEnumerable<(UsageEvent Event, string? Email)> RawEventsAsync(int organizationId, UsageRange range,
        [EnumeratorCancellation] CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var events = db.UsageEvents.AsNoTracking()
            .Where(e => e.OrganizationId == organizationId && e.OccurredAt >= range.FromUtc && e.OccurredAt < range.ToUtc)
            .OrderBy(e => e.Id)
            .Select(e => new { Event = e, Email = db.Users.Where(u => u.Id == e.UserId).Select(u => u.Email).FirstOrDefault() })
            .AsAsyncEnumerable();
        await foreach (var e in events.WithCancellation(ct)) yield return (e.Event, e.Email);
    }

    /// <summary>
    /// Changes whenever credits are recorded for the organization (or the member): the live pages re-query only then.
    /// Reads the in-memory view, so polling it costs nothing.
    /// </summary>
    public (long, long, DateTime)? Version(UsageScope scope)
    {
        var view = ledger.View.Find(scope.OrganizationId);
        if (view is null) return null;
        return (view.PeriodUsage, scope.UserId is { } u ? view.MemberUsage(u) : view.Balance, view.Period.Start);
    }

    /// <summary>The organization's billing anchor and current period, for the range selector; null when it has no account.</summary>
    public async Task<UsagePeriods?> PeriodsAsync(int organizationId, CancellationToken ct = default)
    {
        var b = await ledger.GetBalanceAsync(organizationId);
        if (b is null) return null;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var anchor = await db.Organizations.Where(o => o.Id == organizationId).Select(o => o.BillingAnchor).SingleAsync(ct);
        return new UsagePeriods(anchor, BillingPeriods.Containing(anchor, b.PeriodStart), b);
    }
}
