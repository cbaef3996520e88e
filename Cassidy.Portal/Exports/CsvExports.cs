using System.Globalization;
using Cassidy.Portal.Organizations;
using CsvHelper;

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
    }

    private static async Task ExportAuditAsync(string slug, string? actor, string? action, DateOnly? from, DateOnly? to,
        HttpContext http, OrganizationAccess access, AuditQueries audit, CancellationToken ct)
    {
        var membership = await access.RequireAsync(http.User, slug, admin: true, ct);
        await WriteCsvAsync(http, $"{slug}-audit-log.csv", async csv =>
        {
            await csv.WriteRecordAsync(["time_utc", "actor", "action", "target", "before", "after"], ct);
            await foreach (var row in audit.StreamAsync(membership.OrganizationId, new AuditFilter(actor, action, from, to), ct))
                await csv.WriteRecordAsync([row.At.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                    row.Actor, row.Action, row.Target, row.Before!, row.After!], ct);
        }, ct);
    }

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
