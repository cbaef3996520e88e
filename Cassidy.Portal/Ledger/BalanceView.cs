using System.Collections.Concurrent;
using Cassidy.Portal.Data;
using Cassidy.Portal.Billing;

namespace Cassidy.Portal.Ledger;

/// <summary>A hold as the view keeps it.</summary>
public sealed record HoldView(string Id, int OrganizationId, string UserId, long Millicredits, DateTime ExpiresAt);

/// <summary>What the authorize call decided (SPEC §4); credits in millicredits.</summary>
public sealed record AuthorizeDecision(bool Allowed, string Reason, long Balance, long Available, long MemberUsed,
    long? MemberCap, DateTime ResetsAt, string? HoldId, long? Held);

public static class AuthorizeReasons
{
    public const string Ok = "ok";
    public const string OrganizationOutOfCredits = "organization_out_of_credits";
    public const string MemberLimitReached = "member_limit_reached";
}

/// <summary>
/// One organization's credits as authorize sees them: what the last commit left (published by the writer after
/// every commit) plus the active holds, which live here. Every read and every hold admission takes the lock, so
/// concurrent authorizations are admitted one at a time against what is really left.
/// </summary>
public sealed class OrgView
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, HoldView> _holds = new(StringComparer.Ordinal);
    // Sums kept as holds come and go, so a decision costs the same with ten active holds or ten thousand; expiries in a
    // heap, so sweeping touches only the holds that expired.
    private readonly PriorityQueue<string, DateTime> _expiries = new();
    private readonly Dictionary<string, long> _heldByMember = new(StringComparer.Ordinal);
    private long _held;
    private Dictionary<string, MemberInfo> _members = new(StringComparer.Ordinal);
    private Dictionary<string, long> _memberUsage = new(StringComparer.Ordinal);
    private DateTime _publishedChangeAt = DateTime.MaxValue;
    private DateTime _holdToStampAt = DateTime.MaxValue;

    public required int OrganizationId { get; init; }
    public required string Slug { get; init; }
    public string Plan { get; private set; } = "";
    public long Balance { get; private set; }
    public long Allowance { get; private set; }
    public long PeriodUsage { get; private set; }
    public BillingPeriod Period { get; private set; }

    /// <summary>
    /// When something is due that only the writer does: a period ends, a grant expires, a hold's row must be stamped
    /// expired. A read at or after it goes through the writer first.
    /// </summary>
    public DateTime NextChangeAt
    {
        get { lock (_gate) return _publishedChangeAt < _holdToStampAt ? _publishedChangeAt : _holdToStampAt; }
    }

    /// <summary>
    /// Called by the writer after a commit (and on first load), with the book as committed and the holds the commit
    /// settled or released — in one step, so no decision sees the new balance with a settled hold still counted.
    /// </summary>
    internal void Publish(OrganizationBook book, IEnumerable<string> resolvedHolds)
    {
        lock (_gate)
        {
            Plan = book.Plan;
            Balance = book.Balance;
            Allowance = book.Allowance;
            PeriodUsage = book.PeriodUsage;
            Period = book.Period;
            _publishedChangeAt = book.NextChangeAt;
            _holdToStampAt = DateTime.MaxValue;
            _members = new Dictionary<string, MemberInfo>(book.MembersByEmail, StringComparer.Ordinal);
            _memberUsage = new Dictionary<string, long>(book.MemberUsage, StringComparer.Ordinal);
            foreach (var id in resolvedHolds) Unhold(id);
        }
    }

    /// <summary>What this view holds may be out of date: the next read goes through the writer (which publishes anew).</summary>
    public void MarkStale()
    {
        lock (_gate) _publishedChangeAt = DateTime.MinValue;
    }

    /// <summary>Holds a commit released (their organization's book was not part of it).</summary>
    internal void RemoveHolds(IEnumerable<string> ids)
    {
        lock (_gate)
            foreach (var id in ids) Unhold(id);
    }

    /// <summary>A hold whose row just committed: counted here (again, if the view was rebuilt meanwhile), and stamped when it expires.</summary>
    internal void KeepHold(HoldView hold)
    {
        lock (_gate)
        {
            if (!_holds.ContainsKey(hold.Id)) AddHold(hold);
            if (hold.ExpiresAt < _holdToStampAt) _holdToStampAt = hold.ExpiresAt;
        }
    }

    public bool HasMember(string userId)
    {
        lock (_gate) return _members.Values.Any(m => m.UserId == userId);
    }

    internal void AddLoadedHolds(IEnumerable<HoldView> holds)
    {
        lock (_gate)
            foreach (var hold in holds) AddHold(hold);
    }

    public MemberInfo? FindMember(string normalizedEmail)
    {
        lock (_gate) return _members.GetValueOrDefault(normalizedEmail);
    }

    /// <summary>Takes back a hold whose row could not be written: its caller never gets the id.</summary>
    public bool RemoveHold(string holdId)
    {
        lock (_gate) return Unhold(holdId);
    }

    /// <summary>Sum of the active holds; expired holds stop counting (and are dropped).</summary>
    public long HeldMillicredits(DateTime now)
    {
        lock (_gate)
        {
            SweepExpired(now);
            return _held;
        }
    }

    /// <summary>
    /// Decides an authorization and, when <paramref name="estimate"/> is given and fits both the organization's
    /// available balance and the member's headroom, places the hold — atomically with respect to other admissions.
    /// </summary>
    public AuthorizeDecision Decide(MemberInfo member, long? estimate, DateTime now, TimeSpan holdLifetime, Func<string> newHoldId)
    {
        lock (_gate)
        {
            SweepExpired(now);
            var memberHeld = _heldByMember.GetValueOrDefault(member.UserId);
            var available = Balance - _held;
            var used = _memberUsage.GetValueOrDefault(member.UserId);
            var cap = member.CapMillicredits;
            AuthorizeDecision Answer(bool allowed, string reason, string? holdId = null, long? held = null) =>
                new(allowed, reason, Balance, available - (held ?? 0), used, cap, Period.End, holdId, held);

            if (available <= 0) return Answer(false, AuthorizeReasons.OrganizationOutOfCredits);
            if (cap is { } c && used + memberHeld >= c) return Answer(false, AuthorizeReasons.MemberLimitReached);
            if (estimate is not { } need) return Answer(true, AuthorizeReasons.Ok);
            if (need > available) return Answer(false, AuthorizeReasons.OrganizationOutOfCredits);
            if (cap is { } c2 && used + memberHeld + need > c2) return Answer(false, AuthorizeReasons.MemberLimitReached);

            var hold = new HoldView(newHoldId(), OrganizationId, member.UserId, need, now + holdLifetime);
            AddHold(hold);
            return Answer(true, AuthorizeReasons.Ok, hold.Id, need);
        }
    }

    private void AddHold(HoldView hold)
    {
        Unhold(hold.Id);
        _holds[hold.Id] = hold;
        _expiries.Enqueue(hold.Id, hold.ExpiresAt);
        _held += hold.Millicredits;
        _heldByMember[hold.UserId] = _heldByMember.GetValueOrDefault(hold.UserId) + hold.Millicredits;
    }

    private bool Unhold(string holdId)
    {
        if (!_holds.Remove(holdId, out var hold)) return false;
        _held -= hold.Millicredits;
        var left = _heldByMember[hold.UserId] - hold.Millicredits;
        if (left == 0) _heldByMember.Remove(hold.UserId);
        else _heldByMember[hold.UserId] = left;
        return true;
    }

    /// <summary>Expired holds stop counting. A hold settled or released earlier left its entry in the heap: skipped here.</summary>
    private void SweepExpired(DateTime now)
    {
        while (_expiries.TryPeek(out var id, out var expiresAt) && expiresAt <= now)
        {
            _expiries.Dequeue();
            if (_holds.TryGetValue(id, out var hold) && hold.ExpiresAt <= now) Unhold(id);
        }
    }

    public long MemberUsage(string userId)
    {
        lock (_gate) return _memberUsage.GetValueOrDefault(userId);
    }

    /// <summary>Every member with their effective cap and their usage this period, as of the last commit.</summary>
    public IReadOnlyList<(MemberInfo Member, long Used)> Members()
    {
        lock (_gate) return _members.Values.Select(m => (m, _memberUsage.GetValueOrDefault(m.UserId))).ToList();
    }
}

/// <summary>The in-memory view of every loaded organization, by id and by slug; the writer keeps it in step.</summary>
public sealed class BalanceView
{
    private readonly ConcurrentDictionary<int, OrgView> _byId = new();
    private readonly ConcurrentDictionary<string, OrgView> _bySlug = new(StringComparer.Ordinal);

    public OrgView? Find(string slug) => _bySlug.GetValueOrDefault(slug);
    public OrgView? Find(int organizationId) => _byId.GetValueOrDefault(organizationId);

    /// <summary>
    /// Raised on the writer's thread after a commit published an organization's new state (and when one is loaded).
    /// Handlers must only take note (e.g. queue the id): the writer waits for them.
    /// </summary>
    public event Action<int>? Published;

    /// <summary>Raises <see cref="Published"/> for a change made outside the writer that pages show (the organization's name).</summary>
    public void Announce(int organizationId) => Published?.Invoke(organizationId);

    internal OrgView Publish(OrganizationBook book, IEnumerable<string> resolvedHolds)
    {
        var view = _byId.GetOrAdd(book.OrganizationId, _ =>
        {
            var created = new OrgView { OrganizationId = book.OrganizationId, Slug = book.Slug };
            created.AddLoadedHolds(book.LoadedHolds.Select(h => new HoldView(h.Id, h.OrganizationId, h.UserId, h.EstimateMillicredits, h.ExpiresAt)));
            return created;
        });
        view.Publish(book, resolvedHolds);
        _bySlug[book.Slug] = view;
        Published?.Invoke(book.OrganizationId);
        return view;
    }

    /// <summary>Drops an organization's view (its state is no longer known): the next read rebuilds it through the writer.</summary>
    internal void Forget(int organizationId)
    {
        if (_byId.TryRemove(organizationId, out var view)) _bySlug.TryRemove(view.Slug, out _);
    }

    /// <summary>Organizations whose view counts this person among its members.</summary>
    public IEnumerable<int> OrganizationsWithMember(string userId) =>
        _byId.Values.Where(v => v.HasMember(userId)).Select(v => v.OrganizationId).ToList();
}
