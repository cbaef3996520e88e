using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Cassidy.Portal.Data.Migrations
{
    /// <inheritdoc />
    public partial class MemberPeriodUsage : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "MemberPeriodUsages",
                columns: table => new
                {
                    OrganizationId = table.Column<int>(type: "INTEGER", nullable: false),
                    UserId = table.Column<string>(type: "TEXT", nullable: false),
                    PeriodStart = table.Column<DateTime>(type: "TEXT", nullable: false),
                    UsedMillicredits = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_MemberPeriodUsages", x => new { x.OrganizationId, x.UserId });
                });

            // Each account's current period, from its usage entries (what loading a book summed until now). Both times are
            // stored as the same text, so they compare as the writer's query did.
            migrationBuilder.Sql("""
                INSERT INTO MemberPeriodUsages (OrganizationId, UserId, PeriodStart, UsedMillicredits)
                SELECT l.OrganizationId, l.UserId, a.CurrentPeriodStart, -SUM(l.AmountMillicredits)
                FROM LedgerEntries AS l JOIN CreditAccounts AS a ON a.OrganizationId = l.OrganizationId
                WHERE l.Kind = 'usage' AND l.UserId IS NOT NULL AND l.OccurredAt >= a.CurrentPeriodStart
                GROUP BY l.OrganizationId, l.UserId;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "MemberPeriodUsages");
        }
    }
}
