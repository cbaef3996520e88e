using System.Net.Mail;
using Cassidy.Portal.Data;
using Cassidy.Portal.Organizations;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Limits;

/// <summary>What an admin submits for one rule; thresholds and extra emails as typed.</summary>
public sealed record AlertRuleInput(bool Enabled, string Thresholds, bool NotifyAdmins, bool NotifyMember, string ExtraEmails,
    bool InApp, bool Email);

/// <summary>A line of the alert history: what fired, when, for whom, and whether its emails went out.</summary>
public sealed record AlertHistoryRow(long Id, DateTime FiredAt, string Kind, long Threshold, string Subject, string Summary,
    int Notifications, int Emails, int EmailsSent, bool SentWithHigher = false)
{
    public string Delivery => SentWithHigher ? "Told with the higher threshold"
        : Emails == 0 ? (Notifications > 0 ? "Delivered (in app)" : "No recipients")
        : EmailsSent == Emails ? "Delivered"
        : $"Pending ({EmailsSent} of {Emails} emails sent)";
    public bool Pending => EmailsSent < Emails;
}

/// <summary>
/// The credit usage alert rules of an organization (SPEC §3.4): the defaults every new organization gets, validation,
/// audited changes, and the history of what fired. Callers have checked that the actor is an admin.
/// </summary>
public sealed class AlertRules(IDbContextFactory<PortalDbContext> dbFactory, TimeProvider clock)
{
    public const int MaxThresholds = 10;
    public const int MaxExtraEmails = 20;
    public const long MaxPercent = 1000;
    public const long MaxBalanceCredits = MemberCaps.MaxCredits;

    /// <summary>50 / 80 / 100 % of the allowance, the run-out projection, and 80 / 100 % of member caps; the balance rule starts off.</summary>
    public static IReadOnlyList<AlertRule> Defaults(DateTime now) =>
    [
        new() { Kind = AlertKinds.OrgAllowancePercent, Thresholds = "50,80,100", Enabled = true, NotifyAdmins = true, InApp = true, Email = true, CreatedAt = now },
        new() { Kind = AlertKinds.OrgBalanceBelow, Thresholds = "1000", Enabled = false, NotifyAdmins = true, InApp = true, Email = true, CreatedAt = now },
        new() { Kind = AlertKinds.OrgProjectedRunout, Thresholds = "0", Enabled = true, NotifyAdmins = true, InApp = true, Email = true, CreatedAt = now },
        new() { Kind = AlertKinds.MemberCapPercent, Thresholds = "80,100", Enabled = true, NotifyAdmins = true, NotifyMember = true, InApp = true, Email = true, CreatedAt = now },
    ];

    public static string Describe(string kind) => kind switch
    {
        AlertKinds.OrgAllowancePercent => "Organization: % of the monthly allowance used",
        AlertKinds.OrgBalanceBelow => "Organization: balance below N credits",
        AlertKinds.OrgProjectedRunout => "Organization: projected to run out before the period ends",
        AlertKinds.MemberCapPercent => "Member: % of their credit limit used",
        _ => kind,
    };

    public async Task<IReadOnlyList<AlertRule>> ListAsync(int organizationId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var rules = await db.AlertRules.AsNoTracking().Where(r => r.OrganizationId == organizationId).ToListAsync(ct);
        return rules.OrderBy(r => Array.IndexOf(AlertKinds.All, r.Kind)).ThenBy(r => r.Id).ToList();
    }

    /// <summary>Checks the thresholds as typed; returns the normalized list ("50,80,100") or a message for the field.</summary>
    public static (string? Normalized, string? Error) ParseThresholds(string kind, string? text)
    {
        if (kind == AlertKinds.OrgProjectedRunout) return ("0", null);
        var parts = kind == AlertKinds.OrgBalanceBelow ? CreditParts(text) : (text ?? "").Split(',', StringSplitOptions.TrimEntries);
        var unit = kind == AlertKinds.OrgBalanceBelow ? "credits" : "percent";
        if (parts.All(p => p.Length == 0)) return (null, kind == AlertKinds.OrgBalanceBelow
            ? "Enter a balance in whole credits, like 1000." : "Enter at least one percentage, like 50, 80, 100.");
        var max = kind == AlertKinds.OrgBalanceBelow ? MaxBalanceCredits : MaxPercent;
        var values = new SortedSet<long>();
        foreach (var part in parts)
        {
            var p = part.TrimEnd('%').Trim().Replace("_", "", StringComparison.Ordinal);
            if (!long.TryParse(p, System.Globalization.NumberStyles.AllowThousands, System.Globalization.CultureInfo.InvariantCulture, out var v))
                return (null, $"“{part}” is not a whole number of {unit}. Separate thresholds with commas, like 50, 80, 100.");
            if (v < 1 || v > max)
                return (null, $"Each threshold must be between 1 and {max:N0} {unit}.");
            values.Add(v);
        }
        if (values.Count > MaxThresholds) return (null, $"Use at most {MaxThresholds} thresholds.");
        return (string.Join(",", values), null);
    }

    /// <summary>
    /// Balances in credits, written like limits are: "12,000" is twelve thousand. Several are separated by ";" or by a comma and
    /// a space ("500, 12,000"); a comma between digits groups thousands when the groups are of three ("1,000,000"), and
    /// separates otherwise ("500,1000").
    /// </summary>
    private static string[] CreditParts(string? text) =>
        System.Text.RegularExpressions.Regex.Split(text ?? "", @"\s*;\s*|,\s+|\s+")
            .SelectMany(p => System.Text.RegularExpressions.Regex.IsMatch(p, @"^\d{1,3}(,\d{3})+$") ? [p] : p.Split(','))
            .Select(p => p.Trim()).ToArray();

    /// <summary>Checks the extra addresses; returns them normalized (comma-separated) or a message naming the bad one.</summary>
    public static (string? Normalized, string? Error) ParseEmails(string? text)
    {
        var parts = (text ?? "").Split([',', ';', '\n', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var emails = new List<string>();
        foreach (var part in parts)
        {
            if (!IsEmail(part)) return (null, $"“{part}” is not a valid email address. Separate addresses with commas.");
            if (!emails.Contains(part, StringComparer.OrdinalIgnoreCase)) emails.Add(part);
        }
        if (emails.Count > MaxExtraEmails) return (null, $"Add at most {MaxExtraEmails} extra addresses.");
        return (string.Join(", ", emails), null);
    }

    private static bool IsEmail(string value) =>
        value.Length <= 254 && MailAddress.TryCreate(value, out var address) && address.Address == value
        && value.IndexOf('@') is > 0 and var at && value.IndexOf('.', at) > at + 1 && !value.EndsWith('.');

    public async Task<ChangeResult> SaveAsync(int organizationId, AuditActor actor, int ruleId, AlertRuleInput input, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var rule = await db.AlertRules.SingleOrDefaultAsync(r => r.Id == ruleId && r.OrganizationId == organizationId, ct);
        if (rule is null) return ChangeResult.Refused("This alert rule no longer exists. Reload the page.");

        var (thresholds, thresholdError) = ParseThresholds(rule.Kind, input.Thresholds);
        if (thresholdError is not null) return ChangeResult.Refused(thresholdError, "thresholds");
        var (emails, emailError) = ParseEmails(input.ExtraEmails);
        if (emailError is not null) return ChangeResult.Refused(emailError, "emails");
        var notifyMember = input.NotifyMember && AlertKinds.IsMemberKind(rule.Kind);
        if (input.Enabled && !input.NotifyAdmins && !notifyMember && emails!.Length == 0)
            return ChangeResult.Refused("Choose at least one recipient, or turn the rule off.", "recipients");
        if (input.Enabled && !input.InApp && !input.Email)
            return ChangeResult.Refused("Choose at least one channel (in app or email), or turn the rule off.", "channels");
        if (input.Enabled && !input.Email && !input.NotifyAdmins && !notifyMember)
            return ChangeResult.Refused("Extra addresses only receive email: turn email on, or add admins or the member.", "channels");

        var before = Summary(rule);
        rule.Enabled = input.Enabled;
        rule.Thresholds = thresholds!;
        rule.NotifyAdmins = input.NotifyAdmins;
        rule.NotifyMember = notifyMember;
        rule.ExtraEmails = emails!;
        rule.InApp = input.InApp;
        rule.Email = input.Email;
        var after = Summary(rule);
        if (before == after) return ChangeResult.Ok;
        AuditLog.Record(db, organizationId, actor, AuditActions.AlertRuleChanged, Describe(rule.Kind), before, after, clock.GetUtcNow().UtcDateTime);
        await db.SaveChangesAsync(ct);
        return ChangeResult.Ok;
    }

    /// <summary>The rule as the audit log shows it, e.g. "on; 50,80,100; admins; in app + email".</summary>
    public static string Summary(AlertRule rule)
    {
        var recipients = new List<string>();
        if (rule.NotifyAdmins) recipients.Add("admins");
        if (rule.NotifyMember) recipients.Add("member");
        if (rule.ExtraEmails.Length > 0) recipients.Add(rule.ExtraEmails);
        var channels = new List<string>();
        if (rule.InApp) channels.Add("in app");
        if (rule.Email) channels.Add("email");
        return $"{(rule.Enabled ? "on" : "off")}; {rule.Thresholds}; {string.Join(", ", recipients)}; {string.Join(" + ", channels)}";
    }

    /// <summary>What fired, newest first, with the delivery state of its emails (from the outbox).</summary>
    public async Task<(IReadOnlyList<AlertHistoryRow> Rows, int Total)> HistoryAsync(int organizationId, int page, int pageSize, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var query = db.AlertFirings.AsNoTracking().Where(f => f.OrganizationId == organizationId);
        var total = await query.CountAsync(ct);
        var firings = await query.OrderByDescending(f => f.FiredAt).ThenByDescending(f => f.Id).Skip(page * pageSize).Take(pageSize)
            .ToListAsync(ct);
        var kinds = await db.AlertRules.Where(r => r.OrganizationId == organizationId).ToDictionaryAsync(r => r.Id, r => r.Kind, ct);
        var userIds = firings.Select(f => f.Subject).Where(s => s != AlertFiring.OrganizationSubject).Distinct().ToList();
        var names = await db.Users.Where(u => userIds.Contains(u.Id)).ToDictionaryAsync(u => u.Id, u => u.DisplayName, ct);
        var rows = new List<AlertHistoryRow>();
        foreach (var f in firings)
        {
            var prefix = $"alert:{f.Id}:";
            var sent = f.EmailCount == 0 ? 0 : await db.OutboxMessages
                .CountAsync(m => m.CorrelationKey!.StartsWith(prefix) && m.SentAt != null, ct);
            var subject = f.Subject == AlertFiring.OrganizationSubject ? "Organization" : names.GetValueOrDefault(f.Subject, "Former member");
            rows.Add(new AlertHistoryRow(f.Id, f.FiredAt, kinds.GetValueOrDefault(f.RuleId, ""), f.Threshold, subject, f.Summary,
                f.NotificationCount, f.EmailCount, sent, f.SentWithId is not null));
        }
        return (rows, total);
    }
}
