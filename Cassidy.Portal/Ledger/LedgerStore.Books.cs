using Cassidy.Portal.Billing;
using Cassidy.Portal.Data;
using Microsoft.Data.Sqlite;

namespace Cassidy.Portal.Ledger;

/// <summary>
/// The organization books the writer caches: loaded from the database (opening an account with its first allowance),
/// kept current with its settings and members, refreshed after a change made outside the writer.
/// </summary>
internal sealed partial class LedgerStore
{
    /// <summary>The organization's book, current with the database and with its due periods closed; null if it doesn't exist.</summary>
    public OrganizationBook? Book(string slug)
    {
        if (!_orgIdsBySlug.TryGetValue(slug, out var id))
        {
            using var rows = _organizationBySlug.Bind(slug).Query();
            if (!rows.Read()) return null;
            id = rows.GetInt32(0);
        }
        return Book(id);
    }

    public OrganizationBook? Book(int organizationId)
    {
        var book = Current(organizationId);
        if (book is not null && _advanced.Add(organizationId)) Advance(book);
        return book;
    }

    /// <summary>Loads the book (opening the account with its first allowance if it has none) without closing periods.</summary>
    public OrganizationBook? Open(int organizationId) => Current(organizationId);

    /// <summary>
    /// The book as this transaction uses it. At its first touch in a transaction the cached book is used only if the
    /// database says it is current (the write lock, BEGIN IMMEDIATE, is held from here to COMMIT, so nobody moves the account
    /// in between); after that it is never replaced until the transaction ends.
    /// </summary>
    private OrganizationBook? Current(int organizationId)
    {
        if (_opening.ContainsKey(organizationId)) return _books[organizationId];
        long? accountVersion;
        long settingsVersion;
        using (var versions = _versions.Bind(organizationId).Query())
        {
            if (!versions.Read())
            {
                Forget(organizationId);
                return null;
            }
            accountVersion = versions.GetInt64OrNull(0);
            settingsVersion = versions.GetInt64(1);
        }
        if (_books.TryGetValue(organizationId, out var book))
        {
            if (accountVersion != book.Version)
            {
                Forget(organizationId); // another writer (a second process, the demo seeder) moved the account
                book = null;
            }
            else if (settingsVersion != book.SettingsVersion)
            {
                RefreshSettings(book);
            }
        }
        book ??= Load(organizationId);
        if (book is not null) Touch(book);
        return book;
    }

    /// <summary>
    /// Settings or members changed (an admin, a member leaving, an e-mail change): read them again into the book, in place —
    /// the book's money is never replaced here — and publish them with the transaction.
    /// </summary>
    public OrganizationBook? Refresh(int organizationId)
    {
        var book = Book(organizationId);
        if (book is null) return null;
        if (CurrentSettingsVersion(organizationId) != book.SettingsVersion) RefreshSettings(book);
        return book;
    }

    /// <summary>Every organization whose members include this person, by the database or by what the engine holds.</summary>
    public List<int> OrganizationsOf(string userId)
    {
        var ids = _books.Values.Where(b => b.HasMember(userId)).Select(b => b.OrganizationId).ToHashSet();
        using (var rows = _organizationsOfUser.Bind(userId).Query())
            while (rows.Read()) ids.Add(rows.GetInt32(0));
        ids.UnionWith(_view.OrganizationsWithMember(userId));
        return ids.Order().ToList();
    }

    private void RefreshSettings(OrganizationBook book)
    {
        var zone = book.Zone;
        ReadSettings(book);
        // The daily rollups are keyed by local days: from now on nothing is added to them until they are rebuilt in the new zone.
        if (zone.Id != book.Zone.Id) book.DailyBuiltBefore = DateTime.MinValue;
    }

    /// <summary>
    /// One step of rebuilding an organization's daily rollups in its new time zone (LEDGER.md, "A time-zone change"), small
    /// enough that nobody waits long behind it in the writer's queue: clears about <paramref name="maxRows"/> rows of the old
    /// zone's days, or folds the next hours (about <paramref name="maxRows"/> hourly rows) into the new zone's days. Returns
    /// whether more steps are needed.
    /// </summary>
    public bool RebuildDailyStep(int organizationId, int maxRows)
    {
        var book = Book(organizationId);
        if (book?.DailyBuiltBefore is not { } from) return false;
        if (from == DateTime.MinValue)
        {
            if (_rollups.ClearDaily(organizationId, maxRows)) return true;
            book.DailyBuiltBefore = _rollups.FirstHour(organizationId);
            return book.DailyBuiltBefore is not null;
        }
        var to = _rollups.FoldBound(organizationId, from, maxRows);
        _rollups.Fold(organizationId, book.Zone, from, to);
        book.DailyBuiltBefore = to;
        return to is not null;
    }

    /// <summary>Reads the organization's settings and members into the book (nothing, when the organization is gone).</summary>
    private void ReadSettings(OrganizationBook book)
    {
        using (var rows = _organization.Bind(book.OrganizationId).Query())
        {
            if (!rows.Read()) return;
            book.Plan = rows.GetString(2);
            book.EnterpriseMonthlyCredits = rows.GetInt64OrNull(3);
            book.RolloverCapPercent = rows.GetInt32OrNull(4);
            book.DefaultCapMillicredits = rows.GetInt64OrNull(5);
            book.ScheduledPlan = rows.GetStringOrNull(6);
            book.Zone = TimeZoneInfo.TryFindSystemTimeZoneById(rows.GetString(7), out var zone) ? zone : TimeZoneInfo.Utc;
            book.SettingsVersion = rows.GetInt64(8);
        }
        var members = new List<MemberInfo>();
        using (var rows = _members.Bind(book.OrganizationId).Query())
            while (rows.Read())
            {
                var cap = MemberCapRule.Effective(Enum.Parse<MemberCapMode>(rows.GetString(2)), rows.GetInt64OrNull(3), book.DefaultCapMillicredits);
                members.Add(new MemberInfo(rows.GetString(0), rows.GetString(1), cap));
            }
        book.SetMembers(members);
    }

    private OrganizationBook? Load(int organizationId)
    {
        OrganizationBook book;
        using (var rows = _organization.Bind(organizationId).Query())
        {
            if (!rows.Read()) return null;
            book = new OrganizationBook { OrganizationId = organizationId, Slug = rows.GetString(0), Anchor = rows.GetDateTime(1) };
        }
        ReadSettings(book);

        string? rollupZone = null;
        DateTime? builtBefore = null;
        var opened = false;
        using (var rows = _account.Bind(organizationId).Query())
        {
            if (rows.Read())
            {
                opened = true;
                book.Balance = rows.GetInt64(0);
                book.Overdraft = rows.GetInt64(1);
                book.Period = BillingPeriods.Starting(book.Anchor, rows.GetDateTime(2));
                book.LastClosedPeriodStart = rows.GetDateTimeOrNull(3);
                book.Version = rows.GetInt64(4);
                rollupZone = rows.GetStringOrNull(5);
                builtBefore = rows.GetDateTimeOrNull(6);
            }
        }
        _books[organizationId] = book;
        _orgIdsBySlug[book.Slug] = organizationId;
        Touch(book);
        if (!opened)
        {
            // The first period starts at the anchor; its allowance is the account's first grant.
            var first = BillingPeriods.Period(book.Anchor, 0);
            book.StartPeriod(first, AllowanceOf(book));
            AddGrant(book, GrantKinds.MonthlyAllowance, book.Allowance, book.Anchor, first.End, first.Start,
                $"{book.Plan} monthly allowance", null, LedgerKinds.Grant, book.Anchor);
            return book;
        }

        book.StartPeriod(book.Period, AllowanceOf(book));
        // The time zone changed (or the daily rollups were never built): nothing is added to them until they are rebuilt.
        book.DailyBuiltBefore = rollupZone == book.Zone.Id ? builtBefore : DateTime.MinValue;
        using (var rows = _grants.Bind(organizationId).Query())
            while (rows.Read())
                book.AddGrant(new GrantState
                {
                    Id = rows.GetInt64(0), Kind = rows.GetString(1), Amount = rows.GetInt64(2), Remaining = rows.GetInt64(3),
                    StartsAt = rows.GetDateTime(4), ExpiresAt = rows.GetDateTimeOrNull(5), PeriodStart = rows.GetDateTimeOrNull(6),
                });
        // One row per member who used credits this period, kept by the writer with the usage entries (invariant 5): a busy
        // organization's book loads as fast as a quiet one's (summing the period's entries held the writer for seconds).
        using (var rows = _usage.Bind(organizationId).Bind(book.Period.Start).Query())
            while (rows.Read()) book.LoadUsage(rows.GetString(0), rows.GetInt64(1));
        using (var rows = _holds.Bind(organizationId).Bind(Now).Query())
            while (rows.Read())
                book.LoadedHolds.Add(new CreditHold
                {
                    Id = rows.GetString(0), OrganizationId = organizationId, UserId = rows.GetString(1),
                    EstimateMillicredits = rows.GetInt64(2), ExpiresAt = rows.GetDateTime(3),
                });
        book.NextHoldExpiry = NextHoldExpiry(organizationId);
        return book;
    }

    private DateTime? NextHoldExpiry(int organizationId)
    {
        using var rows = _nextHoldExpiry.Bind(organizationId).Query();
        return rows.Read() ? rows.GetDateTimeOrNull(0) : null;
    }

    private long AllowanceOf(OrganizationBook book) => _plans.MonthlyAllowanceMillicredits(book.Plan, book.EnterpriseMonthlyCredits);
}
