using System.Globalization;
using Cassidy.Portal.Organizations;
using Cassidy.Portal.Usage;
using CsvHelper;
using Cassidy.Portal.Security;

namespace Cassidy.Portal.Exports;

/// <summary>
/// CSV downloads of organization data. Each is behind the same org policy as its page (admins of that organization
/// only) and streams rows as they are read, written by CsvHelper.
/// </summary>
public static class CsvExports
{
    public static void MapCsvExports(this IEndpointRouteBuilder app)
    {
        var org = app.MapGroup("/orgs/{slug}/settings");
        org.MapGet("/audit/export.csv", ExportAuditAsync).RequireAuthorization(OrgPolicies.Admin);
        org.MapGet("/usage/export.csv", ExportUsageAsync).RequireAuthorization(OrgPolicies.Admin);
        org.MapGet("/usage/events.csv", ExportUsageEventsAsync).RequireAuthorization(OrgPolicies.Admin);
        app.MapGet("/orgs/{slug}/my-usage/export.csv", ExportMyUsageAsync).RequireAuthorization(OrgPolicies.Member);
    }

    private static async Task<IResult> ExportAuditAsync(string slug, string? actor, string? action, DateOnly? from, DateOnly? to, string? search,
        HttpContext http, OrganizationAccess access, AuditQueries audit, CancellationToken ct)
    {
        var membership = await access.RequireAsync(http.User, slug, admin: true, ct);
        if (AuditRangeProblem(from, to) is { } problem) return BadRange(problem);
        await WriteCsvAsync(http, $"{slug}-audit-log.csv", async csv =>
        {
            await csv.WriteRecordAsync(["time_utc", "actor", "action", "target", "before", "after"], ct);
            await foreach (var row in audit.StreamAsync(membership.OrganizationId, new AuditFilter(actor, action, from, to, search), ct))
                await csv.WriteRecordAsync([row.At.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                    row.Actor, row.Action, row.Target, row.Before!, row.After!], ct);
        }, ct);
        return Results.Empty;
    }

    private static readonly string[] DailyHeader =
        ["date", "member", "email", "credits", "calls", "input_tokens", "knowledge_tokens", "output_tokens"];

    /// <summary>Admins: one row per member per local day of the range (all members, or the one named by <c>user</c>).</summary>
    private static async Task<IResult> ExportUsageAsync(string slug, DateTimeOffset? from, DateTimeOffset? to, string? user,
        HttpContext http, OrganizationAccess access, UsageReport report, CancellationToken ct)
    {
        var membership = await access.RequireAsync(http.User, slug, admin: true, ct);
        var scope = string.IsNullOrEmpty(user) ? UsageScope.Organization(membership.OrganizationId) : UsageScope.Member(membership.OrganizationId, user);
        var (range, problem) = await RangeAsync(report, membership, from, to, ct);
        if (problem is not null) return BadRange(problem);
        await WriteDailyAsync(http, $"{slug}-usage{(user is null ? "" : "-member")}.csv", report, scope, range!, membership, ct);
        return Results.Empty;
    }

    /// <summary>Any member: their own rows only. The scope is the signed-in user; nothing in the request can widen it.</summary>
    private static async Task<IResult> ExportMyUsageAsync(string slug, DateTimeOffset? from, DateTimeOffset? to,
        HttpContext http, OrganizationAccess access, UsageReport report, CancellationToken ct)
    {
        var membership = await access.RequireAsync(http.User, slug, admin: false, ct);
        var (range, problem) = await RangeAsync(report, membership, from, to, ct);
        if (problem is not null) return BadRange(problem);
        await WriteDailyAsync(http, $"{slug}-my-usage.csv", report, UsageScope.Member(membership.OrganizationId, membership.UserId), range!, membership, ct);
        return Results.Empty;
    }

    private static Task WriteDailyAsync(HttpContext http, string fileName, UsageReport report, UsageScope scope, UsageRange range,
        OrgMembership membership, CancellationToken ct) =>
        WriteCsvAsync(http, fileName, async csv =>
        {
            await csv.WriteRecordAsync(DailyHeader, ct);
            await foreach (var row in report.DailyAsync(scope, range, Dates.Zone(membership.TimeZone), ct))
                await csv.WriteRecordAsync([row.Day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), row.Name, row.Email,
                    Credits.Plain(row.Credits), Num(row.Calls), Num(row.InputTokens), Num(row.KnowledgeTokens), Num(row.OutputTokens)], ct);
        }, ct);

    /// <summary>Admins: every recorded event of the range, as it was recorded (model calls, meetings, storage).</summary>
    private static async Task<IResult> ExportUsageEventsAsync(string slug, DateTimeOffset? from, DateTimeOffset? to,
        HttpContext http, OrganizationAccess access, UsageReport report, CancellationToken ct)
    {
        var membership = await access.RequireAsync(http.User, slug, admin: true, ct);
        var (range, problem) = await RangeAsync(report, membership, from, to, ct);
        if (problem is not null) return BadRange(problem);
        await WriteCsvAsync(http, $"{slug}-usage-events.csv", async csv =>
        {
            await csv.WriteRecordAsync(["id", "type", "occurred_at_utc", "email", "feature", "model", "input_tokens", "knowledge_tokens",
                "output_tokens", "capabilities", "agent", "workflow", "run", "minutes", "bytes", "credits"], ct);
            await foreach (var (e, email) in report.RawEventsAsync(membership.OrganizationId, range!, ct))
                await csv.WriteRecordAsync([e.ExternalId, e.Type, e.OccurredAt.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                    email ?? "", e.Feature ?? "", e.Model ?? "", Num(e.InputTokens), Num(e.KnowledgeTokens), Num(e.OutputTokens),
                    e.Capabilities ?? "", e.AgentId ?? "", e.WorkflowId ?? "", e.RunId ?? "",
                    e.Minutes?.ToString(CultureInfo.InvariantCulture) ?? "", e.Bytes?.ToString(CultureInfo.InvariantCulture) ?? "",
                    Credits.Plain(e.CreditsMillicredits)], ct);
        }, ct);
        return Results.Empty;
    }

    /// <summary>The range of the query (UTC instants, whole hours), or the current billing period; or why it can't be read.</summary>
    private static async Task<(UsageRange? Range, string? Problem)> RangeAsync(UsageReport report, OrgMembership membership,
        DateTimeOffset? from, DateTimeOffset? to, CancellationToken ct)
    {
        if (from is not null || to is not null)
        {
            if (from is not { } f || to is not { } t) return (null, "Give both ends of the range (from and to), or neither.");
            var range = new UsageRange(LocalDays.FloorHour(f.UtcDateTime), LocalDays.FloorHour(t.UtcDateTime));
            return UsageRange.Problem(range.FromUtc, range.ToUtc) is { } problem ? (null, problem) : (range, null);
        }
        var periods = await report.PeriodsAsync(membership.OrganizationId, ct);
        return (periods is null ? UsageRange.LastDays(30, report.Now, Dates.Zone(membership.TimeZone)) : UsageRange.Period(periods.Current), null);
    }

    /// <summary>The audit log exports whole days; an open end is fine (the log is as long as it is), a closed range is bounded.</summary>
    private static string? AuditRangeProblem(DateOnly? from, DateOnly? to)
    {
        if (from is { Year: < 2000 or > 2100 } || to is { Year: < 2000 or > 2100 }) return "Choose dates between the years 2000 and 2100.";
        return from is { } f && to is { } t
            ? UsageRange.Problem(f.ToDateTime(TimeOnly.MinValue), t.AddDays(1).ToDateTime(TimeOnly.MinValue))
            : null;
    }

    private static IResult BadRange(string problem) =>
        Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "The range can't be exported.", detail: problem);

    private static string Num(long n) => n.ToString(CultureInfo.InvariantCulture);

    // Text a spreadsheet would run as a formula (=, +, -, @) is escaped: exports hold member-supplied names.
    private static readonly CsvWriterOptions Options = new() { Injection = CsvInjection.Escape };

    /// <summary>Streams a CSV body: headers first, then rows flushed as they are written.</summary>
    public static async Task WriteCsvAsync(HttpContext http, string fileName, Func<CsvWriter, Task> write, CancellationToken ct)
    {
        http.Response.ContentType = "text/csv; charset=utf-8";
        http.Response.Headers.ContentDisposition = $"attachment; filename=\"{fileName}\"";
        await using var csv = CsvWriter.Create(http.Response.Body, Options, leaveOpen: true);
        await write(csv);
        await csv.FlushAsync(ct);
    }
}
