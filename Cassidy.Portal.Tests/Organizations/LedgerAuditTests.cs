using Cassidy.Portal.Organizations;
using Cassidy.Portal.Tests.Infrastructure;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Cassidy.Portal.Tests.Organizations;

public sealed class LedgerAuditTests
{
    [Fact]
    public async Task The_daily_full_check_tells_staff_once_about_books_that_do_not_add_up_and_the_overview_shows_its_result()
    {
        await using var h = await LedgerHarness.CreateAsync();
        var staff = await h.Db.AddUserAsync("sasha@cassidy.test", "Sasha Staff");
        await using (var db = h.Db.CreateContext())
        {
            var role = new IdentityRole("Staff") { NormalizedName = "STAFF" };
            db.Roles.Add(role);
            db.UserRoles.Add(new IdentityUserRole<string> { RoleId = role.Id, UserId = staff.Id });
            await db.SaveChangesAsync();
        }
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal("recorded", (await h.RecordAsync(h.Call($"c{i}"))).Status);
            h.Clock.Advance(TimeSpan.FromDays(1));
        }
        await using var services = TestServices.Build(h.Db, h.Clock, overrides: s => s.AddSingleton(h.Ledger));
        var audit = services.GetRequiredService<LedgerAudit>();

        await audit.RunOnceAsync(); // the first round is a full check: it adds up
        var shown = await h.Ledger.VerifyAsync(h.Org.Id);
        Assert.Equal((true, true, h.Now), (shown.Ok, shown.FullOk, shown.FullCheckedAt));

        // A rollup of an old day changes behind the engine's back: the incremental rounds can't see it, the next day's full one does.
        await using (var db = h.Db.CreateContext())
            await db.Database.ExecuteSqlAsync($"UPDATE UsageRollups SET CreditsMillicredits = CreditsMillicredits + 3 WHERE OrganizationId = {h.Org.Id} AND HourStart = (SELECT MIN(HourStart) FROM UsageRollups)");
        h.Clock.Advance(TimeSpan.FromHours(1));
        await audit.RunOnceAsync();
        Assert.Empty(await StaffBellAsync(h, staff.Id));
        h.Clock.Advance(TimeSpan.FromDays(1));
        await audit.RunOnceAsync();
        await audit.RunOnceAsync(); // the same problem again: staff are not told twice

        var bell = Assert.Single(await StaffBellAsync(h, staff.Id));
        Assert.Equal("Ledger check failed: Org", bell.Title);
        Assert.Contains("the usage rollups differ from the usage in the ledger", bell.Body, StringComparison.Ordinal);
        await using (var db = h.Db.CreateContext())
            Assert.Equal(1, await db.OutboxMessages.CountAsync(m => m.To == "sasha@cassidy.test" && m.Kind == "ledger-check"));
        shown = await h.Ledger.VerifyAsync(h.Org.Id);
        Assert.Equal((false, "the usage rollups differ from the usage in the ledger"), (shown.FullOk, shown.FullProblem));
    }

    private static async Task<List<Cassidy.Portal.Data.Notification>> StaffBellAsync(LedgerHarness h, string staffId)
    {
        await using var db = h.Db.CreateContext();
        return await db.Notifications.Where(n => n.UserId == staffId).ToListAsync();
    }
}
