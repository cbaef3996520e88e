using Cassidy.Portal.Components.Shared;
using Cassidy.Portal.Data;
using Cassidy.Portal.Metering;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Webhooks;

/// <summary>
/// The edge-triggered events of alert channels: <c>credits.exhausted</c> when an organization's balance reaches zero,
/// <c>credits.replenished</c> when it has credits again (a new period, an upgrade, a package), <c>member.limit_reached</c>
/// when a member's usage reaches their limit. The last state of each subject is a row of <see cref="CreditState"/>; only
/// the write that flips it (an INSERT the key lets through, or an UPDATE conditioned on the old value) enqueues the event,
/// in the same transaction, so each change is announced once whoever races. Looked at only for organizations with an
/// enabled channel; the <see cref="AlertEvaluator"/> calls it after commits and on its schedule.
/// </summary>
public sealed class CreditStateEvents(IDbContextFactory<PortalDbContext> dbFactory, IConfiguration configuration, TimeProvider clock)
{
    private sealed record Subject(string Id, bool Exhausted, long Used, long? Limit);

    /// <summary>Announces every change of state of the organization and its members; returns how many deliveries were enqueued.</summary>
    public async Task<int> AnnounceAsync(int organizationId, BalanceSnapshot balance, OrgView view, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        if (!await db.WebhookEndpoints.AnyAsync(e => e.OrganizationId == organizationId && e.Enabled, ct)) return 0;
        var states = await db.CreditStates.AsNoTracking().Where(s => s.OrganizationId == organizationId).ToDictionaryAsync(s => s.Subject, ct);
        var subjects = new List<Subject> { new(AlertFiring.OrganizationSubject, balance.Balance <= 0, balance.Used, balance.Allowance) };
        subjects.AddRange(view.Members().Where(m => m.Member.CapMillicredits is > 0)
            .Select(m => new Subject(m.Member.UserId, m.Used >= m.Member.CapMillicredits!.Value, m.Used, m.Member.CapMillicredits)));
        // A member whose limit was removed is no longer at it.
        subjects.AddRange(states.Values.Where(s => s.Exhausted && s.Subject != AlertFiring.OrganizationSubject && subjects.All(x => x.Id != s.Subject))
            .Select(s => new Subject(s.Subject, false, 0, null)));

        var enqueued = 0;
        foreach (var subject in subjects)
        {
            var before = states.GetValueOrDefault(subject.Id);
            if ((before?.Exhausted ?? false) == subject.Exhausted) continue;
            enqueued += await FlipAsync(organizationId, before, subject, balance, ct);
        }
        return enqueued;
    }

    private async Task<int> FlipAsync(int organizationId, CreditState? before, Subject subject, BalanceSnapshot balance, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        if (before is null)
        {
            db.CreditStates.Add(new CreditState
            {
                OrganizationId = organizationId, Subject = subject.Id, Exhausted = subject.Exhausted, PeriodStart = balance.PeriodStart, ChangedAt = now,
            });
            try { await db.SaveChangesAsync(ct); }
            catch (DbUpdateException ex) when (ex.InnerException is SqliteException { SqliteErrorCode: 19 }) { return 0; } // someone else flipped it
        }
        else
        {
            var flipped = await db.CreditStates
                .Where(s => s.OrganizationId == organizationId && s.Subject == subject.Id && s.Exhausted == before.Exhausted)
                .ExecuteUpdateAsync(s => s.SetProperty(x => x.Exhausted, subject.Exhausted).SetProperty(x => x.PeriodStart, balance.PeriodStart)
                    .SetProperty(x => x.ChangedAt, now), ct);
            if (flipped == 0) return 0;
        }

        var e = await ComposeAsync(db, organizationId, before, subject, balance, now, ct);
        var count = e is null ? 0 : await WebhookEvents.EnqueueAsync(db, e.Type, e, ct);
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        return count;
    }

    private async Task<WebhookEvent?> ComposeAsync(PortalDbContext db, int organizationId, CreditState? before, Subject subject, BalanceSnapshot balance,
        DateTime now, CancellationToken ct)
    {
        var org = await db.Organizations.AsNoTracking().SingleAsync(o => o.Id == organizationId, ct);
        var resets = Credits.InZone(balance.PeriodEnd, Credits.Zone(org.TimeZone), withTime: false);
        var usage = PortalAddress.Link(configuration, $"/orgs/{org.Slug}/settings/usage");
        WebhookEventData Data(string title, string text, string url, WebhookMember? member = null, string? reason = null) =>
            new(title, text, url, null, null, balance.Balance / 1000m, balance.Allowance / 1000m, balance.Used / 1000m, balance.PeriodStart,
                balance.PeriodEnd, member, reason);
        WebhookEvent Event(string type, WebhookEventData data) => new(WebhookEvents.NewEventId(), type, now, new WebhookOrganization(org.Id, org.Slug, org.Name), data);

        if (subject.Id == AlertFiring.OrganizationSubject)
        {
            if (subject.Exhausted)
                return Event(WebhookEvents.CreditsExhausted, Data($"{org.Name} is out of credits: AI features are paused",
                    $"{org.Name} has used all its credits for this billing period (balance {Credits.Format(balance.Balance)} credits). AI features are " +
                    $"unavailable to every member until the allowance resets on {resets}, or an admin upgrades the plan or buys a credit package.", usage));
            var newPeriod = before is not null && before.PeriodStart != balance.PeriodStart;
            return Event(WebhookEvents.CreditsReplenished, Data($"{org.Name} has credits again",
                $"{org.Name} has {Credits.Format(balance.Balance)} credits available again " +
                (newPeriod ? "as a new billing period began" : "after credits were added (an upgrade or a credit package)") + ". AI features work again.",
                usage, reason: newPeriod ? "new_period" : "credits_added"));
        }
        if (!subject.Exhausted) return null; // back under the limit: nothing to announce
        var member = await db.Memberships.AsNoTracking().Where(m => m.OrganizationId == organizationId && m.UserId == subject.Id)
            .Select(m => new { m.User.DisplayName, m.User.Email }).SingleOrDefaultAsync(ct);
        if (member is null) return null;
        var limit = Credits.Format(subject.Limit ?? 0);
        return Event(WebhookEvents.MemberLimitReached, Data($"{member.DisplayName} reached their credit limit in {org.Name}",
            $"{member.DisplayName} has used {Credits.Format(subject.Used)} of their {limit}-credit limit this billing period. AI features are " +
            $"unavailable to them until the limit resets on {resets} or an admin raises it.",
            PortalAddress.Link(configuration, $"/orgs/{org.Slug}/settings/limits"),
            new WebhookMember(subject.Id, member.DisplayName, member.Email ?? "", subject.Used / 1000m, subject.Limit / 1000m)));
    }
}
