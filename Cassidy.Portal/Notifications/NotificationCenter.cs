using System.Collections.Concurrent;
using System.Net;
using Cassidy.Portal.Data;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Notifications;

public sealed record NotificationRow(long Id, string Title, string Body, string? Link, DateTime CreatedAt, DateTime? ReadAt,
    string? OrganizationName)
{
    public bool Unread => ReadAt is null;
}

/// <summary>
/// In-app notifications of the signed-in user (the bell and <c>/notifications</c>), and the live signal that tells open
/// circuits a user's notifications changed: components subscribe by user id, writers call <see cref="Changed"/> after commit.
/// </summary>
/// <summary>Someone to tell: the bell by user id, e-mail by address.</summary>
public sealed record Recipient(string UserId, string Email, string Name);

/// <summary>What to tell them: a title and a sentence or two, and a path inside the portal.</summary>
public sealed record Message(string Title, string Body, string Link);

public sealed class NotificationCenter(IDbContextFactory<PortalDbContext> dbFactory, EmailOutbox outbox, IConfiguration configuration, TimeProvider clock,
    ILogger<NotificationCenter> logger)
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<Subscription, byte>> _subscribers = new(StringComparer.Ordinal);

    /// <summary>Calls <paramref name="onChange"/> (on any thread) whenever the user's notifications change; dispose to stop.</summary>
    public IDisposable Subscribe(string userId, Func<Task> onChange)
    {
        var subscription = new Subscription(this, userId, onChange);
        _subscribers.GetOrAdd(userId, _ => new()).TryAdd(subscription, 0);
        return subscription;
    }

    /// <summary>Tells every open circuit of these users to refresh. Call after the change committed.</summary>
    public void Changed(IEnumerable<string> userIds)
    {
        foreach (var userId in userIds.Distinct(StringComparer.Ordinal))
        {
            if (!_subscribers.TryGetValue(userId, out var subscriptions)) continue;
            foreach (var subscription in subscriptions.Keys) _ = NotifyAsync(subscription);
        }
    }

    private async Task NotifyAsync(Subscription subscription)
    {
        try { await subscription.OnChange(); }
        catch (Exception ex) { logger.LogDebug(ex, "A notification subscriber failed (its circuit is probably gone)."); }
    }

    /// <summary>The organization's owners and admins.</summary>
    public static Task<List<Recipient>> AdminsAsync(PortalDbContext db, int organizationId, CancellationToken ct = default) =>
        db.Memberships.AsNoTracking()
            .Where(m => m.OrganizationId == organizationId && (m.Role == OrganizationRole.Owner || m.Role == OrganizationRole.Admin))
            .Select(m => new Recipient(m.UserId, m.User.Email ?? "", m.User.DisplayName)).ToListAsync(ct);

    /// <summary>
    /// Adds a bell notification and an e-mail for each person to <paramref name="db"/>, so they commit with the change they
    /// announce; <paramref name="key"/> names the message (its e-mails are unique per key and address). After committing,
    /// call <see cref="Delivered"/> with what this returns.
    /// </summary>
    public IReadOnlyList<string> Tell(PortalDbContext db, IEnumerable<Recipient> people, int? organizationId, Message message, string kind, string key)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var link = PortalAddress.Link(configuration, message.Link);
        var told = new List<string>();
        foreach (var person in people.DistinctBy(p => p.UserId))
        {
            db.Notifications.Add(new Notification
            {
                UserId = person.UserId, OrganizationId = organizationId, Title = Text.Shorten(message.Title, 200), Body = Text.Shorten(message.Body, 1000),
                Link = message.Link, CreatedAt = now,
            });
            told.Add(person.UserId);
            if (person.Email.Length == 0) continue;
            var greeting = person.Name.Length == 0 ? "Hello," : $"Hello {person.Name},";
            outbox.Enqueue(db, new EmailMessage(person.Email, Text.Shorten(message.Title, 300), $"{greeting}\n\n{message.Body}\n\nOpen: {link}\n",
                $"<p>{WebUtility.HtmlEncode(greeting)}</p><p style=\"white-space:pre-wrap\">{WebUtility.HtmlEncode(message.Body)}</p>" +
                $"<p><a href=\"{WebUtility.HtmlEncode(link)}\">{WebUtility.HtmlEncode(link)}</a></p>",
                Text.Shorten($"{key}:{person.Email.ToLowerInvariant()}", 200), kind));
        }
        return told;
    }

    /// <summary>After the commit of <see cref="Tell"/>: refreshes the bells of those told and sends the e-mails now.</summary>
    public void Delivered(IReadOnlyList<string> told)
    {
        if (told.Count == 0) return;
        outbox.Wake();
        Changed(told);
    }

    public async Task<int> UnreadCountAsync(string userId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Notifications.CountAsync(n => n.UserId == userId && n.ReadAt == null, ct);
    }

    /// <summary>The user's notifications, newest first.</summary>
    public async Task<(IReadOnlyList<NotificationRow> Rows, int Total)> ListAsync(string userId, int page, int pageSize, bool unreadOnly = false,
        CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var query = db.Notifications.AsNoTracking().Where(n => n.UserId == userId);
        if (unreadOnly) query = query.Where(n => n.ReadAt == null);
        var total = await query.CountAsync(ct);
        var rows = await query.OrderByDescending(n => n.CreatedAt).ThenByDescending(n => n.Id)
            .Skip(page * pageSize).Take(pageSize)
            .Select(n => new NotificationRow(n.Id, n.Title, n.Body, n.Link, n.CreatedAt, n.ReadAt,
                db.Organizations.Where(o => o.Id == n.OrganizationId).Select(o => o.Name).FirstOrDefault()))
            .ToListAsync(ct);
        return (rows, total);
    }

    /// <summary>Marks one of the user's notifications read; another user's id changes nothing.</summary>
    public async Task<bool> MarkReadAsync(string userId, long notificationId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var now = clock.GetUtcNow().UtcDateTime;
        var changed = await db.Notifications.Where(n => n.Id == notificationId && n.UserId == userId && n.ReadAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(n => n.ReadAt, now), ct);
        if (changed > 0) Changed([userId]);
        return changed > 0;
    }

    public async Task<int> MarkAllReadAsync(string userId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var now = clock.GetUtcNow().UtcDateTime;
        var changed = await db.Notifications.Where(n => n.UserId == userId && n.ReadAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(n => n.ReadAt, now), ct);
        if (changed > 0) Changed([userId]);
        return changed;
    }

    private sealed class Subscription(NotificationCenter center, string userId, Func<Task> onChange) : IDisposable
    {
        public Func<Task> OnChange { get; } = onChange;

        public void Dispose()
        {
            if (center._subscribers.TryGetValue(userId, out var subscriptions)) subscriptions.TryRemove(this, out _);
        }
    }
}
