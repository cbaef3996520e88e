using System.Net.Mail;
using System.Security.Cryptography;
using System.Text;
using Cassidy.Portal.Data;
using Cassidy.Portal.Billing;
using Cassidy.Portal.Ledger;
using Cassidy.Portal.Notifications;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Organizations;

/// <summary>The outcome of a change an admin asked for: done, or refused with a reason a person can act on.</summary>
public sealed record ChangeResult(bool Succeeded, string? Error = null, string? Field = null)
{
    public static readonly ChangeResult Ok = new(true);
    public static ChangeResult Refused(string error, string? field = null) => new(false, error, field);
}

/// <param name="LastActiveAt">Last seen in the portal.</param>
/// <param name="LastAiUseDay">The last local day the member made an AI call in this organization (from the daily rollups).</param>
public sealed record MemberRow(string UserId, string Name, string Email, OrganizationRole Role, DateTime JoinedAt, DateTime? LastActiveAt,
    DateOnly? LastAiUseDay = null);

public sealed record InvitationRow(int Id, string Email, OrganizationRole Role, string InvitedBy, DateTime LastSentAt, DateTime ExpiresAt);

public sealed record CreatedInvitation(ChangeResult Result, string? Link);

/// <summary>
/// Members, roles and invitations of one organization. Every change is audited in the same transaction.
/// Callers have already checked that the actor is an admin of the organization (OrgPage.RunAsync).
/// </summary>
public sealed class MemberManagement(IDbContextFactory<PortalDbContext> dbFactory, IConfiguration configuration, TimeProvider clock, EmailOutbox outbox,
    PlanCatalog plans, CreditLedger ledger)
{
    public static readonly TimeSpan InvitationLifetime = TimeSpan.FromDays(7);
    /// <summary>Invitations and resends an organization may send a day, and one admin an hour: an invitation is an e-mail with
    /// the organization's name in it, so without a limit open registration would make the portal a relay for anyone's text.</summary>
    public const int InvitationsPerOrganizationPerDay = 50;
    public const int InvitationsPerAdminPerHour = 20;

    private DateTime Now => clock.GetUtcNow().UtcDateTime;

    public async Task<(IReadOnlyList<MemberRow> Rows, int Total)> ListAsync(int organizationId, string? search, string? sortBy,
        bool descending, int page, int pageSize, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var query = db.Memberships.AsNoTracking().Where(m => m.OrganizationId == organizationId);
        if (!string.IsNullOrWhiteSpace(search))
        {
            var pattern = TextSearch.Containing(search);
            query = query.Where(m => EF.Functions.Like(m.User.DisplayName, pattern, TextSearch.Escape)
                || EF.Functions.Like(m.User.Email!, pattern, TextSearch.Escape));
        }
        var total = await query.CountAsync(ct);
        query = (sortBy, descending) switch
        {
            (nameof(MemberRow.Email), false) => query.OrderBy(m => m.User.Email),
            (nameof(MemberRow.Email), true) => query.OrderByDescending(m => m.User.Email),
            (nameof(MemberRow.Role), false) => query.OrderBy(m => m.Role).ThenBy(m => m.User.DisplayName),
            (nameof(MemberRow.Role), true) => query.OrderByDescending(m => m.Role).ThenBy(m => m.User.DisplayName),
            (nameof(MemberRow.JoinedAt), false) => query.OrderBy(m => m.JoinedAt),
            (nameof(MemberRow.JoinedAt), true) => query.OrderByDescending(m => m.JoinedAt),
            (nameof(MemberRow.LastActiveAt), false) => query.OrderBy(m => m.User.LastActiveAt),
            (nameof(MemberRow.LastActiveAt), true) => query.OrderByDescending(m => m.User.LastActiveAt),
            (_, true) => query.OrderByDescending(m => m.User.DisplayName),
            _ => query.OrderBy(m => m.User.DisplayName),
        };
        var rows = await query.Select(m => new MemberRow(m.UserId, m.User.DisplayName, m.User.Email ?? "", m.Role, m.JoinedAt, m.User.LastActiveAt, null))
            .Skip(page * pageSize).Take(pageSize).ToListAsync(ct);
        // One pass over the organization's daily member rollups (members × days, not events) for the page's members.
        var ids = rows.Select(r => r.UserId).ToList();
        var lastUse = await db.DailyMemberRollups.Where(r => r.OrganizationId == organizationId && ids.Contains(r.UserId) && r.Calls > 0)
            .GroupBy(r => r.UserId).Select(g => new { g.Key, Day = g.Max(r => r.Day) }).ToDictionaryAsync(x => x.Key, x => x.Day, ct);
        return (rows.Select(r => lastUse.TryGetValue(r.UserId, out var day) ? r with { LastAiUseDay = day } : r).ToList(), total);
    }

    /// <summary>How many owners the organization has (the last one is not offered demotion or removal).</summary>
    public async Task<int> OwnerCountAsync(int organizationId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Memberships.CountAsync(m => m.OrganizationId == organizationId && m.Role == OrganizationRole.Owner, ct);
    }

    public async Task<IReadOnlyList<InvitationRow>> PendingInvitationsAsync(int organizationId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var now = Now;
        return await db.Invitations.AsNoTracking()
            .Where(i => i.OrganizationId == organizationId && i.AcceptedAt == null && i.RevokedAt == null && i.ExpiresAt > now)
            .OrderByDescending(i => i.CreatedAt)
            .Select(i => new InvitationRow(i.Id, i.Email, i.Role,
                db.Users.Where(u => u.Id == i.InvitedByUserId).Select(u => u.DisplayName).FirstOrDefault() ?? "",
                i.LastSentAt, i.ExpiresAt))
            .ToListAsync(ct);
    }

    /// <summary>Creates an invitation and returns its single-use link (shown to the admin, and emailed).</summary>
    public async Task<CreatedInvitation> InviteAsync(int organizationId, AuditActor actor, string email, OrganizationRole role,
        CancellationToken ct = default)
    {
        email = email.Trim();
        if (!IsEmail(email)) return new(ChangeResult.Refused("Enter a valid email address.", "email"), null);
        if (role == OrganizationRole.Owner && !await IsOwnerAsync(organizationId, actor, ct))
            return new(ChangeResult.Refused("Only an owner can invite another owner.", "role"), null);

        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var organization = await db.Organizations.SingleAsync(o => o.Id == organizationId, ct);
        if (await SendingRefusalAsync(db, organizationId, actor, ct) is { } refused) return new(refused, null);
        var normalized = email.ToUpperInvariant();
        if (await db.Memberships.AnyAsync(m => m.OrganizationId == organizationId && m.User.NormalizedEmail == normalized, ct))
            return new(ChangeResult.Refused($"{email} is already a member of {organization.Name}.", "email"), null);
        var now = Now;
        var sameAddress = TextSearch.Exactly(email);
        if (await db.Invitations.AnyAsync(i => i.OrganizationId == organizationId && EF.Functions.Like(i.Email, sameAddress, TextSearch.Escape)
                && i.AcceptedAt == null && i.RevokedAt == null && i.ExpiresAt > now, ct))
            return new(ChangeResult.Refused($"{email} already has a pending invitation. Resend it from the list below.", "email"), null);

        if (actor.UserId is { } inviter && !await db.Users.AnyAsync(u => u.Id == inviter && u.EmailConfirmed, ct))
            return new(ChangeResult.Refused("Confirm your own e-mail address before inviting others: open the link we sent you.", "email"), null);
        var limit = MemberLimit(organization);
        var seats = await SeatsTakenAsync(db, organizationId, now, exceptInvitationId: 0, ct);
        if (seats >= limit)
            return new(ChangeResult.Refused(
                $"The {organization.Plan} plan includes {limit} members, and {organization.Name} has {seats} (counting pending invitations). Upgrade the plan to invite more.",
                "plan"), null);

        var token = NewToken();
        db.Invitations.Add(new Invitation
        {
            OrganizationId = organizationId,
            Email = email,
            Role = role,
            TokenHash = Hash(token),
            InvitedByUserId = actor.UserId ?? "",
            CreatedAt = now,
            LastSentAt = now,
            ExpiresAt = now + InvitationLifetime,
        });
        AuditLog.Record(db, organizationId, actor, AuditActions.MemberInvited, email, null, role.ToString(), now);
        outbox.Enqueue(db, InvitationEmail(email, organization.Name, actor.Name, role, InvitationLink(token), now + InvitationLifetime));
        await db.SaveChangesAsync(ct);
        outbox.Wake();
        return new(ChangeResult.Ok, InvitationLink(token));
    }

    /// <summary>A fresh link (the old one stops working) and a new expiry.</summary>
    public async Task<CreatedInvitation> ResendAsync(int organizationId, AuditActor actor, int invitationId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var invitation = await db.Invitations.Include(i => i.Organization)
            .SingleOrDefaultAsync(i => i.Id == invitationId && i.OrganizationId == organizationId, ct);
        var now = Now;
        if (invitation is null || invitation.AcceptedAt is not null || invitation.RevokedAt is not null)
            return new(ChangeResult.Refused("This invitation is no longer pending."), null);
        if (await SendingRefusalAsync(db, organizationId, actor, ct) is { } refused) return new(refused, null);
        // The seat this invitation holds counts only while it is pending: an expired one must still fit the plan.
        var seats = await SeatsTakenAsync(db, organizationId, now, exceptInvitationId: invitationId, ct);
        if (seats >= MemberLimit(invitation.Organization))
            return new(ChangeResult.Refused(
                $"The {invitation.Organization.Plan} plan includes {MemberLimit(invitation.Organization)} members, and {invitation.Organization.Name} has no seat left for this invitation. Upgrade the plan first.",
                "plan"), null);
        var token = NewToken();
        invitation.TokenHash = Hash(token);
        invitation.LastSentAt = now;
        invitation.ExpiresAt = now + InvitationLifetime;
        AuditLog.Record(db, organizationId, actor, AuditActions.InvitationResent, invitation.Email, null, null, now);
        outbox.Enqueue(db, InvitationEmail(invitation.Email, invitation.Organization.Name, actor.Name, invitation.Role, InvitationLink(token), invitation.ExpiresAt));
        await db.SaveChangesAsync(ct);
        outbox.Wake();
        return new(ChangeResult.Ok, InvitationLink(token));
    }

    public async Task<ChangeResult> RevokeAsync(int organizationId, AuditActor actor, int invitationId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var invitation = await db.Invitations.SingleOrDefaultAsync(i => i.Id == invitationId && i.OrganizationId == organizationId, ct);
        if (invitation is null || invitation.AcceptedAt is not null || invitation.RevokedAt is not null)
            return ChangeResult.Refused("This invitation is no longer pending.");
        var now = Now;
        invitation.RevokedAt = now;
        AuditLog.Record(db, organizationId, actor, AuditActions.InvitationRevoked, invitation.Email, "pending", "revoked", now);
        await db.SaveChangesAsync(ct);
        return ChangeResult.Ok;
    }

    public async Task<ChangeResult> ChangeRoleAsync(int organizationId, AuditActor actor, string userId, OrganizationRole role,
        CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var membership = await db.Memberships.Include(m => m.User)
            .SingleOrDefaultAsync(m => m.OrganizationId == organizationId && m.UserId == userId, ct);
        if (membership is null) return ChangeResult.Refused("This person is no longer a member.");
        if (membership.Role == role) return ChangeResult.Ok;
        var touchesOwner = role == OrganizationRole.Owner || membership.Role == OrganizationRole.Owner;
        if (touchesOwner && !await IsOwnerAsync(organizationId, actor, ct))
            return ChangeResult.Refused("Only an owner can grant or take away the Owner role.");

        // The last-owner rule and the change are one statement, so two owners demoting each other at the same moment
        // leave one owner, not none.
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var before = membership.Role;
        var changed = await KeepingAnOwner(db, organizationId, membership)
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.Role, role), ct);
        if (changed == 0) return ChangeResult.Refused($"{membership.User.DisplayName} is the last owner. Make someone else an owner first.");
        AuditLog.Record(db, organizationId, actor, AuditActions.MemberRoleChanged, Describe(membership.User), before.ToString(), role.ToString(), Now);
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        return ChangeResult.Ok;
    }

    public async Task<ChangeResult> RemoveAsync(int organizationId, AuditActor actor, string userId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var membership = await db.Memberships.Include(m => m.User)
            .SingleOrDefaultAsync(m => m.OrganizationId == organizationId && m.UserId == userId, ct);
        if (membership is null) return ChangeResult.Refused("This person is no longer a member.");
        if (membership.Role == OrganizationRole.Owner && !await IsOwnerAsync(organizationId, actor, ct))
            return ChangeResult.Refused("Only an owner can remove another owner.");
        await using (var transaction = await db.Database.BeginTransactionAsync(ct))
        {
            if (await KeepingAnOwner(db, organizationId, membership).ExecuteDeleteAsync(ct) == 0)
                return ChangeResult.Refused($"{membership.User.DisplayName} is the last owner and can't be removed.");
            AuditLog.Record(db, organizationId, actor, AuditActions.MemberRemoved, Describe(membership.User), membership.Role.ToString(), null, Now);
            await db.SaveChangesAsync(ct);
            await transaction.CommitAsync(ct);
        }
        // Membership is live (SPEC §6): from now on authorize answers 404 and usage events unknown_member.
        await ledger.RefreshAsync(organizationId);
        return ChangeResult.Ok;
    }

    /// <summary>What an invitation link leads to, for the acceptance page.</summary>
    public async Task<InvitationView> FindInvitationAsync(string token, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var hash = Hash(token);
        var invitation = await db.Invitations.AsNoTracking().Include(i => i.Organization).SingleOrDefaultAsync(i => i.TokenHash == hash, ct);
        if (invitation is null) return new InvitationView(InvitationState.Unknown, null, null, null, default);
        var state = invitation.RevokedAt is not null ? InvitationState.Revoked
            : invitation.AcceptedAt is not null ? InvitationState.Used
            : invitation.ExpiresAt <= Now ? InvitationState.Expired
            : InvitationState.Pending;
        return new InvitationView(state, invitation.Organization.Name, invitation.Organization.Slug, invitation.Email, invitation.Role);
    }

    /// <summary>Joins the invited user to the organization; the link is used up.</summary>
    public async Task<ChangeResult> AcceptAsync(string token, string userId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var hash = Hash(token);
        var invitation = await db.Invitations.Include(i => i.Organization).SingleOrDefaultAsync(i => i.TokenHash == hash, ct);
        var now = Now;
        if (invitation is null || !invitation.IsPendingAt(now))
            return ChangeResult.Refused("This invitation link is no longer valid.");
        var user = await db.Users.SingleAsync(u => u.Id == userId, ct);
        if (!string.Equals(user.Email, invitation.Email, StringComparison.OrdinalIgnoreCase))
            return ChangeResult.Refused($"This invitation was sent to {invitation.Email}. Sign in with that address to accept it.");
        var alreadyMember = await db.Memberships.AnyAsync(m => m.OrganizationId == invitation.OrganizationId && m.UserId == userId, ct);
        if (!alreadyMember && await db.Memberships.CountAsync(m => m.OrganizationId == invitation.OrganizationId, ct) >= MemberLimit(invitation.Organization))
            return ChangeResult.Refused($"{invitation.Organization.Name} has as many members as its plan allows. Ask an admin to upgrade the plan, then open the link again.");
        if (!alreadyMember)
            db.Memberships.Add(new Membership { OrganizationId = invitation.OrganizationId, UserId = userId, Role = invitation.Role, JoinedAt = now });
        invitation.AcceptedAt = now;
        invitation.AcceptedByUserId = userId;
        user.LastOrganizationId = invitation.OrganizationId;
        AuditLog.Record(db, invitation.OrganizationId, new AuditActor(userId, user.DisplayName), AuditActions.MemberJoined,
            Describe(user), null, invitation.Role.ToString(), now);
        await db.SaveChangesAsync(ct);
        await ledger.RefreshAsync(invitation.OrganizationId); // their calls are authorized and recorded from now on
        return ChangeResult.Ok;
    }

    /// <summary>Members the organization's plan (or Enterprise agreement) allows.</summary>
    public int MemberLimit(Organization organization) =>
        organization.Plan == PlanCatalog.Enterprise && organization.EnterpriseMembers is { } agreed ? agreed
        : plans.Find(organization.Plan)?.Members ?? int.MaxValue;

    private async Task<bool> IsOwnerAsync(int organizationId, AuditActor actor, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Memberships.AnyAsync(m => m.OrganizationId == organizationId && m.UserId == actor.UserId && m.Role == OrganizationRole.Owner, ct);
    }

    /// <summary>
    /// The membership, unless taking it out of the Owner role would leave the organization without one: the count is part
    /// of the same UPDATE or DELETE statement, so SQLite decides it under the write lock.
    /// </summary>
    private static IQueryable<Membership> KeepingAnOwner(PortalDbContext db, int organizationId, Membership membership) =>
        db.Memberships.Where(m => m.Id == membership.Id && (m.Role != OrganizationRole.Owner
            || db.Memberships.Count(o => o.OrganizationId == organizationId && o.Role == OrganizationRole.Owner) > 1));

    /// <summary>Members, plus the invitations pending now (each holds a seat), leaving out the one being resent.</summary>
    private static async Task<int> SeatsTakenAsync(PortalDbContext db, int organizationId, DateTime now, int exceptInvitationId, CancellationToken ct) =>
        await db.Memberships.CountAsync(m => m.OrganizationId == organizationId, ct)
        + await db.Invitations.CountAsync(i => i.OrganizationId == organizationId && i.Id != exceptInvitationId && i.AcceptedAt == null
            && i.RevokedAt == null && i.ExpiresAt > now, ct);

    /// <summary>Why no more invitations may be sent now (the daily and hourly limits), or null.</summary>
    private async Task<ChangeResult?> SendingRefusalAsync(PortalDbContext db, int organizationId, AuditActor actor, CancellationToken ct)
    {
        var now = Now;
        string[] sending = [AuditActions.MemberInvited, AuditActions.InvitationResent];
        var today = await db.AuditEntries.CountAsync(a => a.OrganizationId == organizationId && sending.Contains(a.Action) && a.At > now.AddDays(-1), ct);
        if (today >= InvitationsPerOrganizationPerDay)
            return ChangeResult.Refused($"Your organization has sent {InvitationsPerOrganizationPerDay} invitations in the last 24 hours, the most it may. Try again tomorrow.", "limit");
        var thisHour = await db.AuditEntries.CountAsync(a => a.OrganizationId == organizationId && a.ActorUserId == actor.UserId
            && sending.Contains(a.Action) && a.At > now.AddHours(-1), ct);
        return thisHour >= InvitationsPerAdminPerHour
            ? ChangeResult.Refused($"You have sent {InvitationsPerAdminPerHour} invitations in the last hour, the most one person may. Try again later.", "limit")
            : null;
    }

    private static EmailMessage InvitationEmail(string to, string organization, string inviter, OrganizationRole role, string link, DateTime expiresAt)
    {
        var subject = $"{inviter} invited you to {organization} on Cassidy";
        var expires = expiresAt.ToString("d MMMM yyyy, HH:mm 'UTC'", System.Globalization.CultureInfo.InvariantCulture);
        // The link carries the token whose hash is all the database keeps: it stays out of the stored body (EmailOutbox).
        var text = $"{inviter} invited you to join {organization} on Cassidy as {(role == OrganizationRole.Member ? "a" : "an")} {role}.\n\n"
            + $"Accept the invitation: {EmailOutbox.SecretLinkPlaceholder}\n\nThe link works once and expires on {expires}. If you weren't expecting it, ignore this email.";
        static string e(string value) => System.Net.WebUtility.HtmlEncode(value);
        var html = $"<p>{e(inviter)} invited you to join <strong>{e(organization)}</strong> on Cassidy as {(role == OrganizationRole.Member ? "a" : "an")} {role}.</p>"
            + $"<p><a href=\"{EmailOutbox.SecretLinkPlaceholder}\">Accept the invitation</a></p><p style=\"color:#6b7280\">The link works once and expires on {e(expires)}. If you weren't expecting it, ignore this email.</p>";
        return new EmailMessage(to, subject, text, html, Kind: "invitation", SecretLink: link);
    }

    private static string Describe(ApplicationUser user) => $"{user.DisplayName} <{user.Email}>";

    private string InvitationLink(string token) => PortalAddress.Link(configuration, $"invitations/{token}");

    private static string NewToken() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string Hash(string token) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    public static bool IsEmail(string value) =>
        value.Length is > 3 and <= 256 && MailAddress.TryCreate(value, out var address) && address.Address == value && value.Contains('.', StringComparison.Ordinal);
}

public enum InvitationState { Pending, Expired, Revoked, Used, Unknown }

public sealed record InvitationView(InvitationState State, string? OrganizationName, string? Slug, string? Email, OrganizationRole Role);
