using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Cassidy.Portal.Data.Migrations
{
    /// <inheritdoc />
    public partial class Alerts : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "DefaultCapVersion",
                table: "Organizations",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<int>(
                name: "CapVersion",
                table: "Memberships",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.CreateTable(
                name: "AlertRules",
                columns: table => new
                {
                    Id = table.Column<int>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    OrganizationId = table.Column<int>(type: "INTEGER", nullable: false),
                    Kind = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    Thresholds = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    Enabled = table.Column<bool>(type: "INTEGER", nullable: false),
                    NotifyAdmins = table.Column<bool>(type: "INTEGER", nullable: false),
                    NotifyMember = table.Column<bool>(type: "INTEGER", nullable: false),
                    ExtraEmails = table.Column<string>(type: "TEXT", maxLength: 2000, nullable: false),
                    InApp = table.Column<bool>(type: "INTEGER", nullable: false),
                    Email = table.Column<bool>(type: "INTEGER", nullable: false),
                    CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_AlertRules", x => x.Id);
                    table.ForeignKey(
                        name: "FK_AlertRules_Organizations_OrganizationId",
                        column: x => x.OrganizationId,
                        principalTable: "Organizations",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "Notifications",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    UserId = table.Column<string>(type: "TEXT", nullable: false),
                    OrganizationId = table.Column<int>(type: "INTEGER", nullable: true),
                    FiringId = table.Column<long>(type: "INTEGER", nullable: true),
                    Title = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    Body = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: false),
                    Link = table.Column<string>(type: "TEXT", maxLength: 300, nullable: true),
                    CreatedAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    ReadAt = table.Column<DateTime>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Notifications", x => x.Id);
                    table.ForeignKey(
                        name: "FK_Notifications_AspNetUsers_UserId",
                        column: x => x.UserId,
                        principalTable: "AspNetUsers",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "AlertFirings",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    OrganizationId = table.Column<int>(type: "INTEGER", nullable: false),
                    RuleId = table.Column<int>(type: "INTEGER", nullable: false),
                    Threshold = table.Column<long>(type: "INTEGER", nullable: false),
                    PeriodStart = table.Column<DateTime>(type: "TEXT", nullable: false),
                    Subject = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    FiredAt = table.Column<DateTime>(type: "TEXT", nullable: false),
                    Summary = table.Column<string>(type: "TEXT", maxLength: 500, nullable: false),
                    NotificationCount = table.Column<int>(type: "INTEGER", nullable: false),
                    EmailCount = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_AlertFirings", x => x.Id);
                    table.ForeignKey(
                        name: "FK_AlertFirings_AlertRules_RuleId",
                        column: x => x.RuleId,
                        principalTable: "AlertRules",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_AlertFirings_OncePerPeriod",
                table: "AlertFirings",
                columns: new[] { "RuleId", "Threshold", "PeriodStart", "Subject" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_AlertFirings_OrganizationId_FiredAt",
                table: "AlertFirings",
                columns: new[] { "OrganizationId", "FiredAt" });

            migrationBuilder.CreateIndex(
                name: "IX_AlertRules_OrganizationId",
                table: "AlertRules",
                column: "OrganizationId");

            migrationBuilder.CreateIndex(
                name: "IX_Notifications_UserId_CreatedAt",
                table: "Notifications",
                columns: new[] { "UserId", "CreatedAt" });

            migrationBuilder.CreateIndex(
                name: "IX_Notifications_UserId_ReadAt",
                table: "Notifications",
                columns: new[] { "UserId", "ReadAt" });

            // Organizations that existed before alerts get the defaults every new organization gets (AlertRules.Defaults).
            migrationBuilder.Sql("""
                INSERT INTO AlertRules (OrganizationId, Kind, Thresholds, Enabled, NotifyAdmins, NotifyMember, ExtraEmails, InApp, Email, CreatedAt)
                SELECT Id, 'org_allowance_percent', '50,80,100', 1, 1, 0, '', 1, 1, CreatedAt FROM Organizations
                UNION ALL SELECT Id, 'org_balance_below', '1000', 0, 1, 0, '', 1, 1, CreatedAt FROM Organizations
                UNION ALL SELECT Id, 'org_projected_runout', '0', 0, 1, 0, '', 1, 1, CreatedAt FROM Organizations
                UNION ALL SELECT Id, 'member_cap_percent', '80,100', 1, 1, 1, '', 1, 1, CreatedAt FROM Organizations;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "AlertFirings");

            migrationBuilder.DropTable(
                name: "Notifications");

            migrationBuilder.DropTable(
                name: "AlertRules");

            migrationBuilder.DropColumn(
                name: "DefaultCapVersion",
                table: "Organizations");

            migrationBuilder.DropColumn(
                name: "CapVersion",
                table: "Memberships");
        }
    }
}
