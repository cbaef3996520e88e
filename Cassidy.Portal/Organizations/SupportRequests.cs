using Cassidy.Portal.Data;
using Cassidy.Portal.Notifications;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Organizations;

public sealed record SupportRequestRow(long Id, int OrganizationId, string Organization, string Slug, string Category, string Message,
    string RequestedBy, string RequestedByEmail, DateTime CreatedAt, DateTime? AnsweredAt, string? AnsweredBy, string? Answer);

/// <summary>"Need more? Contact support": requests admins file and staff answer.</summary>
public sealed class SupportRequests(IDbContextFactory<PortalDbContext> dbFactory, NotificationCenter notifications, TimeProvider clock)
{
    public static readonly IReadOnlyList<(string Value, string Label)> Categories =
    [
        (SupportCategories.CreditPackage, "Custom credit package"),
        (SupportCategories.Enterprise, "Enterprise plan"),
        (SupportCategories.Other, "Something else"),
    ];

    public static string Label(string category) => Categories.FirstOrDefault(c => c.Value == category).Label ?? category;

    public static string? ValidateMessage(string? message) =>
        string.IsNullOrWhiteSpace(message) ? "Tell us what you need."
        : message.Trim().Length < 10 ? "Add a little more detail (at least 10 characters)."
        : message.Length > 4000 ? "Keep it under 4,000 characters." : null;

    public async Task<ChangeResult> FileAsync(int organizationId, AuditActor actor, string email, string category, string message, CancellationToken ct = default)
    {
        if (Categories.All(c => c.Value != category)) return ChangeResult.Refused("Choose what the request is about.", "category");
        if (ValidateMessage(message) is { } error) return ChangeResult.Refused(error, "message");
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        db.SupportRequests.Add(new SupportRequest
        {
            OrganizationId = organizationId,
            Category = category,
            Message = message.Trim(),
            RequestedByUserId = actor.UserId ?? "",
            RequestedByName = actor.Name,
            RequestedByEmail = email,
            CreatedAt = clock.GetUtcNow().UtcDateTime,
        });
        AuditLog.Record(db, organizationId, actor, AuditActions.SupportRequested, Label(category), null, null, clock.GetUtcNow().UtcDateTime);
        await db.SaveChangesAsync(ct);
        return ChangeResult.Ok;
    }

    public async Task<IReadOnlyList<SupportRequestRow>> ListAsync(bool open, int? organizationId = null, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var query = db.SupportRequests.AsNoTracking().Where(r => open ? r.AnsweredAt == null : r.AnsweredAt != null);
        if (organizationId is { } id) query = query.Where(r => r.OrganizationId == id);
        return await query.OrderByDescending(r => r.CreatedAt).Take(200)
            .Select(r => new SupportRequestRow(r.Id, r.OrganizationId, r.Organization.Name, r.Organization.Slug, r.Category, r.Message,
                r.RequestedByName, r.RequestedByEmail, r.CreatedAt, r.AnsweredAt, r.AnsweredByName, r.Answer))
            .ToListAsync(ct);
    }

    public async Task<ChangeResult> AnswerAsync(long requestId, AuditActor staff, string answer, CancellationToken ct = default)
    {
        if (string.IsNullOrWhiteSpace(answer)) return ChangeResult.Refused("Write the answer.", "answer");
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var request = await db.SupportRequests.Include(r => r.Organization).SingleOrDefaultAsync(r => r.Id == requestId, ct);
        if (request is null || request.AnsweredAt is not null) return ChangeResult.Refused("This request was already answered.");
        var now = clock.GetUtcNow().UtcDateTime;
        request.AnsweredAt = now;
        request.AnsweredByName = staff.Name;
        request.Answer = answer.Trim();
        AuditLog.Record(db, request.OrganizationId, staff, AuditActions.SupportAnswered, Label(request.Category), null, null, now);
        // The answer reaches whoever asked, in the bell and by e-mail (if they still have an account).
        var asker = await db.Users.AsNoTracking().Where(u => u.Id == request.RequestedByUserId)
            .Select(u => new Recipient(u.Id, u.Email ?? "", u.DisplayName)).ToListAsync(ct);
        var asked = request.Message.Length <= 200 ? request.Message : request.Message[..199] + "…";
        var told = notifications.Tell(db, asker, request.OrganizationId, new Message($"Cassidy support answered: {Label(request.Category)}",
            $"You asked: “{asked}”\n\n{staff.Name} answered: {request.Answer}", $"/orgs/{request.Organization.Slug}/settings/plan"),
            "support", $"support-answer:{request.Id}");
        await db.SaveChangesAsync(ct);
        notifications.Delivered(told);
        return ChangeResult.Ok;
    }
}
