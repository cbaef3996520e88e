using Cassidy.Portal.Data;
using Cassidy.Portal.Notifications;
using Cassidy.Portal.Webhooks;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Cassidy.Portal.Ledger;

namespace Cassidy.Portal.Limits;

/// <summary>
/// The alerts that follow the credit state rather than a rule: when an organization's balance reaches zero, every member is
/// told that AI is paused (bell and e-mail) and its alert channels get <c>credits.exhausted</c>; when it has credits again
/// (a new period, an upgrade, a package) they are told so and channels get <c>credits.replenished</c>; a member reaching their
/// limit is <c>member.limit_reached</c> for the channels (the member-limit rule tells people). The last state of each subject
/// is a row of <see cref="CreditState"/>; only the write that flips it (an INSERT the key lets through, or an UPDATE
/// conditioned on the old value) tells anyone, in the same transaction, so each change is announced once whoever races. The
/// <see cref="AlertEvaluator"/> calls it after commits and on its schedule; members are followed only where a channel is.
/// </summary>
public sealed class CreditStateAlerts(IDbContextFactory<PortalDbContext> dbFactory, NotificationCenter notifications, IConfiguration configuration,
    TimeProvider clock)
{
    private sealed record Subject(string Id, bool Exhausted, long Used, long? Limit);

    /// <summary>Announces every change of state of the organization (and of its members); returns how many webhook deliveries were enqueued.</summary>
    public async Task<int> AnnounceAsync(int organizationId, BalanceSnapshot balance, OrgView view, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var channels = await db.WebhookEndpoints.AnyAsync(e => e.OrganizationId == organizationId && e.Enabled, ct);
        var states = await db.CreditStates.AsNoTracking().Where(s => s.OrganizationId == organizationId).ToDictionaryAsync(s => s.Subject, ct);
        var subjects = new List<Subject> { new(AlertFiring.OrganizationSubject, balance.Balance <= 0, balance.Used, balance.Allowance) };
        if (channels)
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
        IReadOnlyList<string> told = [];
        if (e is not null && subject.Id == AlertFiring.OrganizationSubject)
            told = await TellEveryoneAsync(db, organizationId, e, ct);
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        notifications.Delivered(told);
        return count;
    }

    /// <summary>AI paused, or back: every member of the organization hears it, admins with what they can do about it.</summary>
    private async Task<IReadOnlyList<string>> TellEveryoneAsync(PortalDbContext db, int organizationId, WebhookEvent e, CancellationToken ct)
    {
        var people = await db.Memberships.AsNoTracking().Where(m => m.OrganizationId == organizationId)
            .Select(m => new { Person = new Recipient(m.UserId, m.User.Email ?? "", m.User.DisplayName), Admin = m.Role != OrganizationRole.Member })
            .ToListAsync(ct);
        var slug = e.Organization.Slug;
        var exhausted = e.Type == WebhookEvents.CreditsExhausted;
        var forAdmins = new Message(e.Data.Title,
            e.Data.Text + (exhausted ? " To resume now, upgrade the plan or ask support for a credit package under Plan & billing." : ""),
            exhausted ? $"/orgs/{slug}/settings/plan" : $"/orgs/{slug}/settings");
        var forMembers = new Message(e.Data.Title,
            exhausted ? $"{e.Organization.Name} has used all its credits for this billing period, so AI features are paused for everyone. " +
                        "They work again when the allowance resets or an admin adds credits; you will be told here."
                      : $"{e.Organization.Name} has credits again: AI features work again.",
            $"/orgs/{slug}/my-usage");
        var key = $"{e.Type}:{e.Id}";
        return notifications.Tell(db, people.Where(p => p.Admin).Select(p => p.Person), organizationId, forAdmins, "credits", key + ":admins")
            .Concat(notifications.Tell(db, people.Where(p => !p.Admin).Select(p => p.Person), organizationId, forMembers, "credits", key + ":members"))
            .ToList();
    }

    private async Task<WebhookEvent?> ComposeAsync(PortalDbContext db, int organizationId, CreditState? before, Subject subject, BalanceSnapshot balance,
        DateTime now, CancellationToken ct)
    {
        var org = await db.Organizations.AsNoTracking().SingleAsync(o => o.Id == organizationId, ct);
        var resets = Dates.InZone(balance.PeriodEnd, Dates.Zone(org.TimeZone), withTime: false);
        var usage = PortalAddress.Link(configuration, $"/orgs/{org.Slug}/settings/usage");
        WebhookEventData Data(string title, string text, string url, WebhookMember? member = null, string? reason = null) =>
            new(title, text, url, null, null, Credits.Of(balance.Balance), Credits.Of(balance.Allowance), Credits.Of(balance.Used), balance.PeriodStart,
                balance.PeriodEnd, member, reason);
        WebhookEvent Event(string type, WebhookEventData data) => new(WebhookEvents.NewEventId(), type, now, new WebhookOrganization(org.Id, org.Slug, org.Name), data);

        if (subject.Id == AlertFiring.OrganizationSubject)
        {
            if (subject.Exhausted)
                return Event(WebhookEvents.CreditsExhausted, Data($"{org.Name} is out of credits: AI features are paused",
                    $"{org.Name} has used all its credits for this billing period (balance {Credits.Whole(balance.Balance)} credits). AI features are " +
                    $"unavailable to every member until the allowance resets on {resets}, or an admin upgrades the plan or buys a credit package.", usage));
            var newPeriod = before is not null && before.PeriodStart != balance.PeriodStart;
            return Event(WebhookEvents.CreditsReplenished, Data($"{org.Name} has credits again",
                $"{org.Name} has {Credits.Whole(balance.Balance)} credits available again " +
                (newPeriod ? "as a new billing period began" : "after credits were added (an upgrade or a credit package)") + ". AI features work again.",
                usage, reason: newPeriod ? "new_period" : "credits_added"));
        }
        if (!subject.Exhausted) return null; // back under the limit: nothing to announce
        var member = await db.Memberships.AsNoTracking().Where(m => m.OrganizationId == organizationId && m.UserId == subject.Id)
            .Select(m => new { m.User.DisplayName, m.User.Email }).SingleOrDefaultAsync(ct);
        if (member is null) return null;
        var limit = Credits.Whole(subject.Limit ?? 0);
        return Event(WebhookEvents.MemberLimitReached, Data($"{member.DisplayName} reached their credit limit in {org.Name}",
            $"{member.DisplayName} has used {Credits.Whole(subject.Used)} of their {limit}-credit limit this billing period. AI features are " +
            $"unavailable to them until the limit resets on {resets} or an admin raises it.",
            PortalAddress.Link(configuration, $"/orgs/{org.Slug}/settings/limits"),
            new WebhookMember(subject.Id, member.DisplayName, member.Email ?? "", Credits.Of(subject.Used), Credits.Of(subject.Limit))));
    }
}
