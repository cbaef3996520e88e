using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Cassidy.Portal.Data.Migrations
{
    /// <inheritdoc />
    public partial class DailyRollups : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "RollupTimeZone",
                table: "CreditAccounts",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "LightCreditsMillicredits",
                table: "AgentRollups",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            // Calls recorded before light-model costs were kept are counted as costing the same on the light model.
            migrationBuilder.Sql("UPDATE AgentRollups SET LightCreditsMillicredits = CreditsMillicredits;");

            // The daily rollups are clustered by their key (WITHOUT ROWID, which EF Core cannot declare): a month of an
            // organization's days is one contiguous stretch of the b-tree, read without a second lookup per row.
            migrationBuilder.Sql("""
                CREATE TABLE "DailyAgentRollups" (
                    "OrganizationId" INTEGER NOT NULL,
                    "Day" TEXT NOT NULL,
                    "UserId" TEXT NOT NULL,
                    "AgentId" TEXT NOT NULL,
                    "WorkflowId" TEXT NOT NULL,
                    "CreditsMillicredits" INTEGER NOT NULL,
                    "Calls" INTEGER NOT NULL,
                    "LightCreditsMillicredits" INTEGER NOT NULL,
                    "Runs" INTEGER NOT NULL,
                    "RunCreditsMillicredits" INTEGER NOT NULL,
                    CONSTRAINT "PK_DailyAgentRollups" PRIMARY KEY ("OrganizationId", "Day", "UserId", "AgentId", "WorkflowId")
                ) WITHOUT ROWID;
                """);

            migrationBuilder.Sql("""
                CREATE TABLE "DailyMemberRollups" (
                    "OrganizationId" INTEGER NOT NULL,
                    "Day" TEXT NOT NULL,
                    "UserId" TEXT NOT NULL,
                    "CreditsMillicredits" INTEGER NOT NULL,
                    "Calls" INTEGER NOT NULL,
                    CONSTRAINT "PK_DailyMemberRollups" PRIMARY KEY ("OrganizationId", "Day", "UserId")
                ) WITHOUT ROWID;
                """);

            migrationBuilder.Sql("""
                CREATE TABLE "DailyModelRollups" (
                    "OrganizationId" INTEGER NOT NULL,
                    "Day" TEXT NOT NULL,
                    "Model" TEXT NOT NULL,
                    "Feature" TEXT NOT NULL,
                    "CreditsMillicredits" INTEGER NOT NULL,
                    "Calls" INTEGER NOT NULL,
                    "InputTokens" INTEGER NOT NULL,
                    "KnowledgeTokens" INTEGER NOT NULL,
                    "OutputTokens" INTEGER NOT NULL,
                    CONSTRAINT "PK_DailyModelRollups" PRIMARY KEY ("OrganizationId", "Day", "Model", "Feature")
                ) WITHOUT ROWID;
                """);

            migrationBuilder.Sql("""
                CREATE TABLE "DailyUsageRollups" (
                    "OrganizationId" INTEGER NOT NULL,
                    "Day" TEXT NOT NULL,
                    "UserId" TEXT NOT NULL,
                    "Model" TEXT NOT NULL,
                    "Feature" TEXT NOT NULL,
                    "CreditsMillicredits" INTEGER NOT NULL,
                    "Calls" INTEGER NOT NULL,
                    "InputTokens" INTEGER NOT NULL,
                    "KnowledgeTokens" INTEGER NOT NULL,
                    "OutputTokens" INTEGER NOT NULL,
                    CONSTRAINT "PK_DailyUsageRollups" PRIMARY KEY ("OrganizationId", "Day", "UserId", "Model", "Feature")
                ) WITHOUT ROWID;
                """);

            migrationBuilder.CreateIndex(
                name: "IX_DailyAgentRollups_OrganizationId_UserId_Day",
                table: "DailyAgentRollups",
                columns: new[] { "OrganizationId", "UserId", "Day" });

            migrationBuilder.CreateIndex(
                name: "IX_DailyUsageRollups_OrganizationId_UserId_Day",
                table: "DailyUsageRollups",
                columns: new[] { "OrganizationId", "UserId", "Day" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "DailyAgentRollups");

            migrationBuilder.DropTable(
                name: "DailyMemberRollups");

            migrationBuilder.DropTable(
                name: "DailyModelRollups");

            migrationBuilder.DropTable(
                name: "DailyUsageRollups");

            migrationBuilder.DropColumn(
                name: "RollupTimeZone",
                table: "CreditAccounts");

            migrationBuilder.DropColumn(
                name: "LightCreditsMillicredits",
                table: "AgentRollups");
        }
    }
}
