using Cassidy.Portal.Data;
using Cassidy.Portal.Organizations;
using Microsoft.EntityFrameworkCore;
using Cassidy.Portal.Ledger;

namespace Cassidy.Portal.Limits;

/// <summary>A member's line on the Limits page: their cap setting, usage this period and what it means.</summary>
public sealed record MemberCapRow(string UserId, string Name, string Email, OrganizationRole Role, MemberCapMode Mode,
    long? CustomCap, int Version, long Used, long? EffectiveCap)
{
    public MemberCapStatus Status => EffectiveCap switch
    {
        null => MemberCapStatus.Unlimited,
        { } cap => UsageLevels.Of(Used, cap) switch
        {
            UsageLevel.Reached => MemberCapStatus.Blocked,
            UsageLevel.Near => MemberCapStatus.Near,
            _ => MemberCapStatus.Within,
        },
    };
}

public enum MemberCapStatus { Within, Near, Blocked, Unlimited }

/// <summary>The organization's default cap (null = unlimited), its concurrency version, and every member.</summary>
public sealed record CapsView(long? DefaultCap, int DefaultVersion, IReadOnlyList<MemberCapRow> Members, DateTime PeriodEnd);

/// <summary>One member to change, with the version of their cap the admin saw.</summary>
public sealed record MemberCapEdit(string UserId, int ExpectedVersion);

/// <summary>
/// Per-user credit limits (SPEC §3.4): the organization's default cap and per-member overrides. Every change is audited
/// in its transaction, refused when someone else changed the same cap since it was read (optimistic concurrency), and
/// takes effect at once: the ledger refreshes the organization's caps, so the next authorize sees them.
/// </summary>
public sealed class MemberCaps(IDbContextFactory<PortalDbContext> dbFactory, CreditLedger ledger, TimeProvider clock)
{
    public const long MaxCredits = 100_000_000;
    public const string ConflictMessage = "This limit was changed by someone else since you opened the page. Reload to see the current value.";

    /// <summary>Credits as typed ("1500", "1,500", "12.5") → millicredits, or a message for the field.</summary>
    public static (long? Millicredits, string? Error) ParseCredits(string? text) =>
        (text ?? "").Trim().StartsWith('-')
            ? (null, "A limit can't be negative. Use 0 to block the member.")
            : CreditInput.Parse(text, 0, MaxCredits, $"A limit can be at most {MaxCredits:N0} credits. Choose Unlimited for no limit.");

    public async Task<CapsView> LoadAsync(int organizationId, CancellationToken ct = default)
    {
        var balance = await ledger.GetBalanceAsync(organizationId);
        var view = ledger.View.Find(organizationId);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var org = await db.Organizations.AsNoTracking().Where(o => o.Id == organizationId)
            .Select(o => new { o.DefaultMemberCapMillicredits, o.DefaultCapVersion }).SingleAsync(ct);
        var members = await db.Memberships.AsNoTracking().Where(m => m.OrganizationId == organizationId)
            .OrderBy(m => m.User.DisplayName)
            .Select(m => new { m.UserId, m.User.DisplayName, m.User.Email, m.Role, m.CapMode, m.CapMillicredits, m.CapVersion })
            .ToListAsync(ct);
        var rows = members.Select(m => new MemberCapRow(m.UserId, m.DisplayName, m.Email ?? "", m.Role, m.CapMode, m.CapMillicredits,
                m.CapVersion, view?.MemberUsage(m.UserId) ?? 0, MemberCapRule.Effective(m.CapMode, m.CapMillicredits, org.DefaultMemberCapMillicredits)))
            .ToList();
        return new CapsView(org.DefaultMemberCapMillicredits, org.DefaultCapVersion, rows, balance?.PeriodEnd ?? default);
    }

    public static string Describe(MemberCapMode mode, long? cap, long? orgDefault = null) => mode switch
    {
        MemberCapMode.Custom => $"{Credits.Format(cap ?? 0)} credits",
        MemberCapMode.Unlimited => "unlimited",
        _ => orgDefault is { } d ? $"default ({Credits.Format(d)} credits)" : "default (unlimited)",
    };

    /// <summary>Sets the organization's default cap (null = unlimited) if it is still at <paramref name="expectedVersion"/>.</summary>
    public async Task<ChangeResult> SetDefaultAsync(int organizationId, AuditActor actor, long? cap, int expectedVersion, CancellationToken ct = default)
    {
        if (cap < 0 || cap > Credits.Millis(MaxCredits)) return ChangeResult.Refused($"A limit must be between 0 and {MaxCredits:N0} credits.", "cap");
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var org = await db.Organizations.SingleAsync(o => o.Id == organizationId, ct);
        if (org.DefaultCapVersion != expectedVersion) return ChangeResult.Refused(ConflictMessage, "conflict");
        if (org.DefaultMemberCapMillicredits == cap) return ChangeResult.Ok;
        var before = org.DefaultMemberCapMillicredits;
        org.DefaultMemberCapMillicredits = cap;
        org.DefaultCapVersion = expectedVersion + 1;
        AuditLog.Record(db, organizationId, actor, AuditActions.DefaultCapChanged, "Default limit per member",
            before is { } b ? $"{Credits.Format(b)} credits" : "unlimited", cap is { } a ? $"{Credits.Format(a)} credits" : "unlimited",
            clock.GetUtcNow().UtcDateTime);
        return await SaveAndReloadAsync(db, organizationId, ct);
    }

    /// <summary>
    /// Sets the cap of each member in <paramref name="members"/> (one, or a bulk selection) in one transaction: all change or,
    /// when any of them changed since the admin read it, none does.
    /// </summary>
    public async Task<ChangeResult> SetMemberCapsAsync(int organizationId, AuditActor actor, IReadOnlyList<MemberCapEdit> members,
        MemberCapMode mode, long? cap, CancellationToken ct = default)
    {
        if (members.Count == 0) return ChangeResult.Refused("Select at least one member.");
        if (mode == MemberCapMode.Custom && (cap is not { } c || c < 0 || c > Credits.Millis(MaxCredits)))
            return ChangeResult.Refused($"A limit must be between 0 and {MaxCredits:N0} credits.", "cap");
        if (mode != MemberCapMode.Custom) cap = null;

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var orgDefault = await db.Organizations.Where(o => o.Id == organizationId).Select(o => o.DefaultMemberCapMillicredits).SingleAsync(ct);
        var ids = members.Select(m => m.UserId).ToList();
        var rows = await db.Memberships.Include(m => m.User)
            .Where(m => m.OrganizationId == organizationId && ids.Contains(m.UserId)).ToListAsync(ct);
        if (rows.Count != members.Count) return ChangeResult.Refused("A selected person is no longer a member. Reload the page.");
        var now = clock.GetUtcNow().UtcDateTime;
        var changed = false;
        foreach (var edit in members)
        {
            var row = rows.Single(r => r.UserId == edit.UserId);
            if (row.CapVersion != edit.ExpectedVersion) return ChangeResult.Refused(ConflictMessage, "conflict");
            if (row.CapMode == mode && row.CapMillicredits == cap) continue;
            var before = Describe(row.CapMode, row.CapMillicredits, orgDefault);
            row.CapMode = mode;
            row.CapMillicredits = cap;
            row.CapVersion = edit.ExpectedVersion + 1;
            AuditLog.Record(db, organizationId, actor, AuditActions.MemberCapChanged, $"{row.User.DisplayName} <{row.User.Email}>",
                before, Describe(mode, cap, orgDefault), now);
            changed = true;
        }
        if (!changed) return ChangeResult.Ok;
        return await SaveAndReloadAsync(db, organizationId, ct);
    }

    /// <summary>Saves, refusing a save that lost the race to another admin, then lets authorize see the new caps at once.</summary>
    private async Task<ChangeResult> SaveAndReloadAsync(PortalDbContext db, int organizationId, CancellationToken ct)
    {
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateConcurrencyException)
        {
            return ChangeResult.Refused(ConflictMessage, "conflict");
        }
        await ledger.RefreshAsync(organizationId);
        return ChangeResult.Ok;
    }
}
