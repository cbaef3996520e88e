using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Cassidy.Portal.Data.Migrations
{
    /// <inheritdoc />
    public partial class LedgerCheckpoints : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "LedgerCheckpoints",
                columns: table => new
                {
                    OrganizationId = table.Column<int>(type: "INTEGER", nullable: false),
                    ThroughEntryId = table.Column<long>(type: "INTEGER", nullable: false),
                    ThroughEntryAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    ThroughEventId = table.Column<long>(type: "INTEGER", nullable: false),
                    LedgerMillicredits = table.Column<long>(type: "INTEGER", nullable: false),
                    LedgerEntries = table.Column<long>(type: "INTEGER", nullable: false),
                    UsageMillicredits = table.Column<long>(type: "INTEGER", nullable: false),
                    UsageEntries = table.Column<long>(type: "INTEGER", nullable: false),
                    CallsMillicredits = table.Column<long>(type: "INTEGER", nullable: false),
                    Calls = table.Column<long>(type: "INTEGER", nullable: false),
                    AgentCallsMillicredits = table.Column<long>(type: "INTEGER", nullable: false),
                    RollupTimeZone = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    VerifiedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    FullCheckedAt = table.Column<DateTime>(type: "TEXT", nullable: true),
                    FullOk = table.Column<bool>(type: "INTEGER", nullable: true),
                    FullProblem = table.Column<string>(type: "TEXT", maxLength: 300, nullable: true),
                    ReportedProblem = table.Column<string>(type: "TEXT", maxLength: 300, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_LedgerCheckpoints", x => x.OrganizationId);
                    table.ForeignKey(
                        name: "FK_LedgerCheckpoints_Organizations_OrganizationId",
                        column: x => x.OrganizationId,
                        principalTable: "Organizations",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "LedgerCheckpoints");
        }
    }
}
