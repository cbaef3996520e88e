using System.Globalization;
using System.Net;
using Cassidy.Portal.Components.Shared;
using Cassidy.Portal.Data;
using Cassidy.Portal.Usage;
using Cassidy.Portal.Tests.Organizations;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Cassidy.Portal.Tests.Exports;

public sealed class UsageExportTests(PortalFactoryFixture fixture) : IClassFixture<PortalFactoryFixture>
{
    private async Task<(UsageReportData Data, int OrgId, string MemberId, string AdminId, UsageRange Range)> PageFiguresAsync(string? userEmail = null)
    {
        await using var scope = fixture.Factory.Services.CreateAsyncScope();
        var db = await scope.ServiceProvider.GetRequiredService<IDbContextFactory<PortalDbContext>>().CreateDbContextAsync();
        var org = await db.Organizations.SingleAsync(o => o.Slug == "acme");
        var member = await db.Users.SingleAsync(u => u.Email == "member@acme.test");
        var admin = await db.Users.SingleAsync(u => u.Email == "admin@acme.test");
        var report = scope.ServiceProvider.GetRequiredService<UsageReport>();
        var range = UsageRange.LastDays(30, report.Now, Dates.Zone(org.TimeZone));
        var scopeOf = userEmail is null ? UsageScope.Organization(org.Id) : UsageScope.Member(org.Id, member.Id);
        return (await report.LoadAsync(scopeOf, range, Dates.Zone(org.TimeZone)), org.Id, member.Id, admin.Id, range);
    }

    private static string Query(UsageRange r) =>
        $"from={r.FromUtc:yyyy-MM-ddTHH:mm:ssZ}&to={r.ToUtc:yyyy-MM-ddTHH:mm:ssZ}";

    private static List<string[]> Rows(string csv) =>
        csv.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(l => l.TrimEnd('\r').Split(',')).ToList();

    [Fact]
    public async Task The_admin_export_adds_up_to_the_usage_tab_figures()
    {
        var (data, _, _, _, range) = await PageFiguresAsync();
        var admin = await fixture.AdminClientAsync();
        var response = await admin.GetAsync($"/orgs/acme/settings/usage/export.csv?{Query(range)}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/csv", response.Content.Headers.ContentType!.MediaType);
        var csv = await response.Content.ReadAsStringAsync();
        Assert.StartsWith("date,member,email,credits,calls,input_tokens,knowledge_tokens,output_tokens", csv);
        var rows = Rows(csv);
        Assert.Equal(data.Credits / 1000m, rows.Sum(r => decimal.Parse(r[3], CultureInfo.InvariantCulture)));
        Assert.Equal(data.Calls, rows.Sum(r => long.Parse(r[4], CultureInfo.InvariantCulture)));
        Assert.Equal(data.KnowledgeTokens, rows.Sum(r => long.Parse(r[6], CultureInfo.InvariantCulture)));
        Assert.All(rows, r => Assert.EndsWith("@acme.test", r[2]));
        Assert.Contains(rows, r => r[2] == "member@acme.test");
    }

    [Fact]
    public async Task A_member_exports_only_their_own_rows_and_cannot_reach_anyone_elses()
    {
        var (mine, _, _, adminId, range) = await PageFiguresAsync("member@acme.test");
        var member = await fixture.MemberClientAsync();

        // Any extra parameter naming someone else is ignored: the rows are the signed-in member's.
        var csv = await member.GetStringAsync($"/orgs/acme/my-usage/export.csv?{Query(range)}&user={adminId}");
        var rows = Rows(csv);
        Assert.NotEmpty(rows);
        Assert.All(rows, r => Assert.Equal("member@acme.test", r[2]));
        Assert.Equal(mine.Credits / 1000m, rows.Sum(r => decimal.Parse(r[3], CultureInfo.InvariantCulture)));

        foreach (var path in new[] { $"/orgs/acme/settings/usage/export.csv?user={adminId}", "/orgs/acme/settings/usage/events.csv", "/orgs/globex/my-usage/export.csv" })
        {
            var response = await member.GetAsync(path);
            Assert.True(response.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.NotFound, $"{path}: {response.StatusCode}");
            Assert.DoesNotContain("admin@acme.test", await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task The_raw_event_export_holds_only_the_organizations_events()
    {
        var (data, _, _, _, range) = await PageFiguresAsync();
        var admin = await fixture.AdminClientAsync();
        var csv = await admin.GetStringAsync($"/orgs/acme/settings/usage/events.csv?{Query(range)}");
        var rows = Rows(csv).Where(r => r[1] == UsageTypes.ModelCall).ToList();
        Assert.Equal(data.Calls, rows.Count);
        Assert.Equal(data.Credits / 1000m, rows.Sum(r => decimal.Parse(r[^1], CultureInfo.InvariantCulture)));
        Assert.DoesNotContain("globex", csv);
    }

    [Theory]
    [InlineData("/orgs/acme/settings/usage/export.csv?from=1900-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "between the years 2000 and 2100")]
    [InlineData("/orgs/acme/settings/usage/export.csv?from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "at most 400 days")]
    [InlineData("/orgs/acme/settings/usage/events.csv?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "must come after its start")]
    [InlineData("/orgs/acme/settings/usage/events.csv?from=2026-01-01T00:00:00Z", "both ends")]
    [InlineData("/orgs/acme/my-usage/export.csv?from=2020-01-01T00:00:00Z&to=2099-01-01T00:00:00Z", "at most 400 days")]
    [InlineData("/orgs/acme/settings/audit/export.csv?to=9999-12-31", "between the years 2000 and 2100")]
    [InlineData("/orgs/acme/settings/audit/export.csv?from=2020-01-01&to=2026-01-01", "at most 400 days")]
    public async Task An_export_of_a_range_that_cannot_be_read_is_a_400_that_says_why(string path, string why)
    {
        var admin = await fixture.AdminClientAsync();

        var response = await admin.GetAsync(path);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(why, await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("/orgs/acme/settings/usage/export.csv?from=yesterday&to=today")]
    [InlineData("/orgs/acme/settings/audit/export.csv?from=2026-13-45")]
    public async Task An_export_with_a_date_that_is_not_a_date_is_a_400(string path)
    {
        var admin = await fixture.AdminClientAsync();
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.GetAsync(path)).StatusCode);
    }
}
