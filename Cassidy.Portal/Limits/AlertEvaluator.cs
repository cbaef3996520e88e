using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Threading.Channels;
using Cassidy.Portal.Data;
using Cassidy.Portal.Notifications;
using Cassidy.Portal.Webhooks;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Usage;

namespace Cassidy.Portal.Limits;

/// <summary>A threshold of a rule that a subject has reached in the current period.</summary>
public sealed record AlertCrossing(AlertRule Rule, long Threshold, string Subject, long Used, long? Limit, string? MemberName = null);

/// <summary>
/// Credit usage alerts (SPEC §3.4). After commits of the ingest writer (the <see cref="BalanceView.Published"/> signal; at most every 250 ms per organization),
/// at startup and periodically, compares each organization's state with its enabled rules and fires every threshold
/// reached this period. Firing is edge-triggered by the database: the firing row is INSERTed and the unique index on
/// (rule, threshold, period start, subject) refuses a second one, whoever races to insert it; the in-app notifications
/// and the outbox emails are written in the same transaction, so an alert is delivered once or not at all. The period
/// start is part of the key, so every threshold re-arms when a new period begins. A firing also becomes an <c>alert.fired</c>
/// delivery for every alert channel subscribed to its rule's kind, in the same transaction; and <see cref="CreditStateAlerts"/>
/// announces credits exhausted / available again (to every member and the channels) and, to channels, members reaching their limit.
/// </summary>
public sealed class AlertEvaluator : BackgroundService
{
    private readonly CreditLedger _ledger;
    private readonly IDbContextFactory<PortalDbContext> _dbFactory;
    private readonly EmailOutbox _outbox;
    private readonly NotificationCenter _notifications;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly IConfiguration _configuration;
    private readonly WebhookDispatcher _webhooks;
    private readonly CreditStateAlerts _states;
    private readonly TimeSpan _interval;
    private readonly Channel<int> _due = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<int, byte> _queued = new();
    private int _busy;

    public AlertEvaluator(CreditLedger ledger, IDbContextFactory<PortalDbContext> dbFactory, EmailOutbox outbox,
        NotificationCenter notifications, WebhookDispatcher webhooks, CreditStateAlerts states, IConfiguration configuration, TimeProvider clock,
        ILogger<AlertEvaluator> logger)
    {
        _webhooks = webhooks;
        _states = states;
        _ledger = ledger;
        _dbFactory = dbFactory;
        _outbox = outbox;
        _notifications = notifications;
        _clock = clock;
        _logger = logger;
        _configuration = configuration;
        _interval = TimeSpan.FromSeconds(Math.Max(1, configuration.GetValue("Alerts:EvaluateSeconds", 300)));
        ledger.View.Published += Enqueue;
    }

    /// <summary>Asks for an evaluation of the organization; any number of asks before it runs collapse into one.</summary>
    public void Enqueue(int organizationId)
    {
        if (_queued.TryAdd(organizationId, 0)) _due.Writer.TryWrite(organizationId);
    }

    /// <summary>True while nothing is queued or being evaluated (tests wait for it).</summary>
    public bool Idle => _queued.IsEmpty && Volatile.Read(ref _busy) == 0;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var ticker = TickAsync(stoppingToken);
        try
        {
            await foreach (var organizationId in _due.Reader.ReadAllAsync(stoppingToken))
            {
                if (TooSoon(organizationId) is { } wait)
                {
                    // Still queued, so the asks that arrive meanwhile collapse into this one.
                    _ = Task.Delay(wait, stoppingToken).ContinueWith(_ => _due.Writer.TryWrite(organizationId), TaskScheduler.Default);
                    continue;
                }
                Interlocked.Increment(ref _busy);
                // Unqueue first: a commit during the evaluation asks again and is not lost.
                _queued.TryRemove(organizationId, out _);
                try { await EvaluateAsync(organizationId, stoppingToken); }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { return; }
                catch (Exception ex) { _logger.LogError(ex, "Evaluating credit alerts of organization {Organization} failed.", organizationId); }
                finally { Interlocked.Decrement(ref _busy); }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        await ticker;
    }

    /// <summary>
    /// Under load the writer commits hundreds of times a second, and evaluating after each commit cost ingest about 7% of
    /// its CPU (measured) for no earlier alert anyone could notice. So an organization is evaluated at most once per
    /// <see cref="MinSpacing"/> (real time, not the business clock): an ask within it waits for the rest of it.
    /// </summary>
    private static readonly TimeSpan MinSpacing = TimeSpan.FromMilliseconds(250);

    private readonly Dictionary<int, long> _lastEvaluated = new(); // only the evaluation loop touches it

    private TimeSpan? TooSoon(int organizationId)
    {
        if (_lastEvaluated.TryGetValue(organizationId, out var last) && Stopwatch.GetElapsedTime(last) is var since && since < MinSpacing)
            return MinSpacing - since;
        _lastEvaluated[organizationId] = Stopwatch.GetTimestamp();
        return null;
    }

    /// <summary>Every organization at startup, then again every <c>Alerts:EvaluateSeconds</c> (projections move with time, periods roll over).</summary>
    private async Task TickAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var db = await _dbFactory.CreateDbContextAsync(ct);
                foreach (var id in await db.AlertRules.Where(r => r.Enabled).Select(r => r.OrganizationId)
                             .Union(db.WebhookEndpoints.Where(e => e.Enabled).Select(e => e.OrganizationId)).ToListAsync(ct))
                    Enqueue(id);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { return; }
            catch (Exception ex) { _logger.LogError(ex, "Listing organizations for credit alerts failed."); }
            try { await Task.Delay(_interval, _clock, ct); }
            catch (OperationCanceledException) { return; }
        }
    }

    /// <summary>
    /// Fires every threshold of the organization's enabled rules reached this period and not fired yet, and announces changes
    /// of credit state to its alert channels; returns how many thresholds fired.
    /// </summary>
    public async Task<int> EvaluateAsync(int organizationId, CancellationToken ct = default)
    {
        var crossings = await CrossingsAsync(organizationId, ct);
        var fired = 0;
        // Thresholds of one rule and subject reached together (one big event, or a pause in evaluation) make one notification
        // that names the highest; the lower ones are recorded as fired with it, so they don't fire later.
        foreach (var group in crossings.GroupBy(c => (c.Crossing.Rule.Id, c.Crossing.Subject)))
        {
            var ordered = group.OrderByDescending(c => c.Crossing.Threshold).ToList();
            fired += await FireAsync(organizationId, ordered[0].PeriodStart, ordered[0].Crossing, ordered.Skip(1).Select(c => c.Crossing.Threshold).ToList(), ct);
        }
        if (await _ledger.GetBalanceAsync(organizationId) is { } balance && _ledger.View.Find(organizationId) is { } view
            && await _states.AnnounceAsync(organizationId, balance, view, ct) > 0)
            _webhooks.Wake();
        return fired;
    }

    private async Task<List<(DateTime PeriodStart, AlertCrossing Crossing)>> CrossingsAsync(int organizationId, CancellationToken ct)
    {
        var result = new List<(DateTime, AlertCrossing)>();
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        var rules = await db.AlertRules.AsNoTracking().Where(r => r.OrganizationId == organizationId && r.Enabled).ToListAsync(ct);
        if (rules.Count == 0) return result;
        var balance = await _ledger.GetBalanceAsync(organizationId);
        var view = _ledger.View.Find(organizationId);
        if (balance is null || view is null) return result;
        var period = balance.PeriodStart;
        // Only a shortcut past thresholds already fired: the unique index is what guarantees once.
        var done = (await db.AlertFirings.AsNoTracking().Where(f => f.OrganizationId == organizationId && f.PeriodStart == period)
                .Select(f => new { f.RuleId, f.Threshold, f.Subject }).ToListAsync(ct))
            .Select(f => (f.RuleId, f.Threshold, f.Subject)).ToHashSet();

        foreach (var rule in rules)
        {
            IEnumerable<AlertCrossing> reached = rule.Kind switch
            {
                AlertKinds.OrgAllowancePercent => balance.Allowance <= 0 ? [] : rule.ThresholdValues()
                    .Where(t => t > 0 && (decimal)balance.Used * 100 >= (decimal)t * balance.Allowance)
                    .Select(t => new AlertCrossing(rule, t, AlertFiring.OrganizationSubject, balance.Used, balance.Allowance)),
                AlertKinds.OrgBalanceBelow => rule.ThresholdValues()
                    .Where(t => balance.Balance < Credits.Millis(t))
                    .Select(t => new AlertCrossing(rule, t, AlertFiring.OrganizationSubject, balance.Balance, Credits.Millis(t))),
                AlertKinds.OrgProjectedRunout => await ProjectionAsync(db, rule, balance, ct),
                AlertKinds.MemberCapPercent => view.Members()
                    .Where(m => m.Member.CapMillicredits is > 0)
                    .SelectMany(m => rule.ThresholdValues()
                        .Where(t => t > 0 && (decimal)m.Used * 100 >= (decimal)t * m.Member.CapMillicredits!.Value)
                        .Select(t => new AlertCrossing(rule, t, m.Member.UserId, m.Used, m.Member.CapMillicredits))),
                _ => [],
            };
            foreach (var crossing in reached)
                if (!done.Contains((rule.Id, crossing.Threshold, crossing.Subject))) result.Add((period, crossing));
        }
        return result;
    }

    private async Task<IEnumerable<AlertCrossing>> ProjectionAsync(PortalDbContext db, AlertRule rule, BalanceSnapshot balance, CancellationToken ct)
    {
        var now = _clock.GetUtcNow().UtcDateTime;
        var dailyBurn = await OverviewReport.DailyBurnAsync(db, balance.OrganizationId, now, ct);
        var projection = OverviewReport.Project(balance.Balance - balance.Held, dailyBurn, now, balance.PeriodEnd);
        return projection.LastsBeyondReset || projection.RunsOutAt is null
            ? []
            : [new AlertCrossing(rule, 0, AlertFiring.OrganizationSubject, projection.DailyBurn, balance.Balance - balance.Held)];
    }

    private sealed record Recipient(string UserId, string Email, string Name, bool IsMemberConcerned);

    /// <summary>
    /// INSERTs the firing; if the unique index refuses it, someone fired it already and nothing else happens. Then records the
    /// lower thresholds reached with it (each refused quietly when it fired already) and tells people once. Returns how many
    /// thresholds fired.
    /// </summary>
    private async Task<int> FireAsync(int organizationId, DateTime periodStart, AlertCrossing crossing, IReadOnlyList<long> lower, CancellationToken ct)
    {
        await using var db = await _dbFactory.CreateDbContextAsync(ct);
        var org = await db.Organizations.AsNoTracking().SingleAsync(o => o.Id == organizationId, ct);
        var rule = crossing.Rule;
        var now = _clock.GetUtcNow().UtcDateTime;
        var balance = await _ledger.GetBalanceAsync(organizationId);
        var periodEnd = balance?.PeriodEnd ?? now;

        var people = new List<Recipient>();
        if (rule.NotifyAdmins)
            people.AddRange(await db.Memberships.AsNoTracking()
                .Where(m => m.OrganizationId == organizationId && (m.Role == OrganizationRole.Owner || m.Role == OrganizationRole.Admin))
                .Select(m => new Recipient(m.UserId, m.User.Email ?? "", m.User.DisplayName, false)).ToListAsync(ct));
        string? memberName = null;
        WebhookMember? webhookMember = null;
        if (crossing.Subject != AlertFiring.OrganizationSubject)
        {
            var member = await db.Memberships.AsNoTracking()
                .Where(m => m.OrganizationId == organizationId && m.UserId == crossing.Subject)
                .Select(m => new Recipient(m.UserId, m.User.Email ?? "", m.User.DisplayName, true)).SingleOrDefaultAsync(ct);
            if (member is null) return 0; // left the organization since
            memberName = member.Name;
            webhookMember = new WebhookMember(member.UserId, member.Name, member.Email, Credits.Of(crossing.Used), Credits.Of(crossing.Limit));
            if (rule.NotifyMember)
            {
                people.RemoveAll(p => p.UserId == member.UserId);
                people.Add(member);
            }
        }

        var zone = Dates.Zone(org.TimeZone);
        var message = Compose(org, crossing, memberName, periodEnd, zone);
        var firing = new AlertFiring
        {
            OrganizationId = organizationId, RuleId = rule.Id, Threshold = crossing.Threshold, PeriodStart = periodStart,
            Subject = crossing.Subject, FiredAt = now, Summary = Text.Shorten(message.ForAdmins.Title, 500),
        };

        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        db.AlertFirings.Add(firing);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException ex) when (ex.InnerException is SqliteException { SqliteErrorCode: 19 })
        {
            return 0; // fired already (this period, this subject): the index said so
        }
        var fired = 1;
        foreach (var threshold in lower)
        {
            var covered = new AlertFiring
            {
                OrganizationId = organizationId, RuleId = rule.Id, Threshold = threshold, PeriodStart = periodStart, Subject = crossing.Subject,
                FiredAt = now, Summary = firing.Summary, SentWithId = firing.Id,
            };
            db.AlertFirings.Add(covered);
            try
            {
                await db.SaveChangesAsync(ct); // EF wraps it in a savepoint: a refusal undoes only this row
                fired++;
            }
            catch (DbUpdateException ex) when (ex.InnerException is SqliteException { SqliteErrorCode: 19 })
            {
                db.Entry(covered).State = EntityState.Detached; // fired already
            }
        }

        var notified = new List<string>();
        var emailed = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var person in people)
        {
            var text = person.IsMemberConcerned ? message.ForMember : message.ForAdmins;
            if (rule.InApp)
            {
                db.Notifications.Add(new Notification
                {
                    UserId = person.UserId, OrganizationId = organizationId, FiringId = firing.Id, Title = Text.Shorten(text.Title, 200),
                    Body = Text.Shorten(text.Body, 1000), Link = text.Link, CreatedAt = now,
                });
                notified.Add(person.UserId);
            }
            if (rule.Email && person.Email.Length > 0 && emailed.Add(person.Email))
                _outbox.Enqueue(db, Email(firing.Id, person.Email, person.Name, text));
        }
        if (rule.Email)
            foreach (var address in rule.ExtraEmailList())
                if (emailed.Add(address))
                    _outbox.Enqueue(db, Email(firing.Id, address, null, message.ForAdmins));
        firing.NotificationCount = notified.Count;
        firing.EmailCount = emailed.Count;
        var said = message.ForAdmins;
        var webhooks = await WebhookEvents.EnqueueAsync(db, WebhookEvents.AlertSubscription(rule.Kind), new WebhookEvent(
            $"evt_alert_{firing.Id}", WebhookEvents.AlertFired, now, new WebhookOrganization(org.Id, org.Slug, org.Name),
            new WebhookEventData(said.Title, said.Body, PortalAddress.Link(_configuration, said.Link), rule.Kind, crossing.Threshold,
                Credits.Of(balance?.Balance ?? 0), Credits.Of(balance?.Allowance ?? 0), Credits.Of(balance?.Used ?? 0), periodStart, periodEnd, webhookMember)), ct);
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);

        if (emailed.Count > 0) _outbox.Wake();
        if (webhooks > 0) _webhooks.Wake();
        _notifications.Changed(notified);
        _logger.LogInformation("Credit alert fired: {Summary} (organization {Organization}, {Notifications} notifications, {Emails} emails).",
            firing.Summary, organizationId, notified.Count, emailed.Count);
        return fired;
    }

    private sealed record AlertText(string Title, string Body, string Link);
    private sealed record AlertMessage(AlertText ForAdmins, AlertText ForMember);

    private static AlertMessage Compose(Organization org, AlertCrossing c, string? memberName, DateTime periodEnd, TimeZoneInfo zone)
    {
        var usagePage = $"/orgs/{org.Slug}/settings/usage";
        var resets = Dates.InZone(periodEnd, zone, withTime: false);
        var name = org.Name;
        switch (c.Rule.Kind)
        {
            case AlertKinds.OrgAllowancePercent:
            {
                var text = new AlertText($"{name} has used {c.Threshold}% of its monthly credits",
                    $"{name} has used {Credits.Whole(c.Used)} of its {Credits.Whole(c.Limit ?? 0)} monthly credits this billing period " +
                    $"({Percent(c.Used, c.Limit)}), reaching the {c.Threshold}% alert. The allowance resets on {resets}.", usagePage);
                return new(text, text);
            }
            case AlertKinds.OrgBalanceBelow:
            {
                var left = c.Used > 0 ? $"{name} has {Credits.Whole(c.Used)} credits left" : $"{name} has no credits left";
                var text = new AlertText($"{name}'s credit balance is below {Credits.Whole(c.Limit ?? 0)} credits",
                    $"{left}, below the {Credits.Whole(c.Limit ?? 0)}-credit alert. The monthly allowance resets on {resets}.", usagePage);
                return new(text, text);
            }
            case AlertKinds.OrgProjectedRunout:
            {
                var text = new AlertText($"{name} is projected to run out of credits before {resets}",
                    $"At the last {OverviewReport.BurnWindowDays} days' rate of {Credits.Whole(c.Used)} credits a day, the " +
                    $"{Credits.Whole(c.Limit ?? 0)} credits {name} has available run out before the period resets on {resets}.", usagePage);
                return new(text, text);
            }
            default:
            {
                var blocked = c.Used >= (c.Limit ?? long.MaxValue);
                var cap = Credits.Whole(c.Limit ?? 0);
                var admin = new AlertText($"{memberName} has used {c.Threshold}% of their credit limit in {name}",
                    $"{memberName} has used {Credits.Whole(c.Used)} of their {cap}-credit limit this billing period ({Percent(c.Used, c.Limit)})." +
                    (blocked ? " AI features are unavailable to them until the limit resets on " + resets + " or an admin raises it." : ""),
                    $"/orgs/{org.Slug}/settings/limits");
                var member = new AlertText($"You have used {c.Threshold}% of your credit limit in {name}",
                    $"You have used {Credits.Whole(c.Used)} of your {cap}-credit limit in {name} this billing period ({Percent(c.Used, c.Limit)})." +
                    (blocked ? $" AI features are unavailable to you until the limit resets on {resets} or an admin raises it." : $" It resets on {resets}."),
                    $"/orgs/{org.Slug}/my-usage");
                return new(admin, member);
            }
        }
    }

    private static string Percent(long used, long? of) =>
        of is > 0 ? $"{Math.Floor(used * 100m / of.Value):0}%" : "—";

    private EmailMessage Email(long firingId, string to, string? name, AlertText text)
    {
        var link = PortalAddress.Link(_configuration, text.Link);
        var greeting = name is null ? "Hello," : $"Hello {name},";
        var plain = $"{greeting}\n\n{text.Body}\n\nOpen: {link}\n\nYou receive this because of a credit usage alert rule. " +
                    "Admins change alert rules under Settings → Limits & alerts.\n";
        var html = $"<p>{WebUtility.HtmlEncode(greeting)}</p><p>{WebUtility.HtmlEncode(text.Body)}</p>" +
                   $"<p><a href=\"{WebUtility.HtmlEncode(link)}\">{WebUtility.HtmlEncode(link)}</a></p>" +
                   "<p style=\"color:#666\">You receive this because of a credit usage alert rule. Admins change alert rules under Settings → Limits &amp; alerts.</p>";
        return new EmailMessage(to, text.Title, plain, html, $"alert:{firingId}:{to.ToLowerInvariant()}", "alert");
    }

    public override void Dispose()
    {
        _ledger.View.Published -= Enqueue;
        base.Dispose();
    }
}
