using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Cassidy.Portal.Data.Migrations
{
    /// <inheritdoc />
    public partial class LedgerIntegrity : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_CreditHolds_OrganizationId_Status",
                table: "CreditHolds");

            migrationBuilder.AddColumn<string>(
                name: "Secret",
                table: "OutboxMessages",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "SettingsVersion",
                table: "Organizations",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<DateTime>(
                name: "AppliedAt",
                table: "Invoices",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "QuoteId",
                table: "Invoices",
                type: "TEXT",
                maxLength: 64,
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_Invoices_OrganizationId_QuoteId",
                table: "Invoices",
                columns: new[] { "OrganizationId", "QuoteId" },
                unique: true,
                filter: "\"QuoteId\" IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "IX_CreditHolds_OrganizationId_Status_ExpiresAt",
                table: "CreditHolds",
                columns: new[] { "OrganizationId", "Status", "ExpiresAt" });

            migrationBuilder.CreateIndex(
                name: "IX_CreditHolds_Status_ExpiresAt",
                table: "CreditHolds",
                columns: new[] { "Status", "ExpiresAt" });

            // LEDGER.md: the ledger is append-only, and the database says so.
            migrationBuilder.Sql("""
                CREATE TRIGGER LedgerEntries_AppendOnly_Update BEFORE UPDATE ON LedgerEntries
                BEGIN SELECT RAISE(ABORT, 'LedgerEntries are append-only: a correction is a new entry'); END;
                """);
            migrationBuilder.Sql("""
                CREATE TRIGGER LedgerEntries_AppendOnly_Delete BEFORE DELETE ON LedgerEntries
                BEGIN SELECT RAISE(ABORT, 'LedgerEntries are append-only: a correction is a new entry'); END;
                """);
            // LEDGER.md: whatever changes what the engine caches about an organization bumps its SettingsVersion, whoever
            // changes it (EF, raw SQL, a cascade), so the writer's per-transaction version check can't miss it.
            migrationBuilder.Sql("""
                CREATE TRIGGER Organizations_SettingsChanged
                AFTER UPDATE OF Plan, ScheduledPlan, EnterpriseMonthlyCredits, RolloverCapPercent, DefaultMemberCapMillicredits, TimeZone
                ON Organizations
                BEGIN UPDATE Organizations SET SettingsVersion = SettingsVersion + 1 WHERE Id = NEW.Id; END;
                """);
            migrationBuilder.Sql("""
                CREATE TRIGGER Memberships_Added AFTER INSERT ON Memberships
                BEGIN UPDATE Organizations SET SettingsVersion = SettingsVersion + 1 WHERE Id = NEW.OrganizationId; END;
                """);
            migrationBuilder.Sql("""
                CREATE TRIGGER Memberships_Removed AFTER DELETE ON Memberships
                BEGIN UPDATE Organizations SET SettingsVersion = SettingsVersion + 1 WHERE Id = OLD.OrganizationId; END;
                """);
            migrationBuilder.Sql("""
                CREATE TRIGGER Memberships_Changed AFTER UPDATE OF UserId, OrganizationId, CapMode, CapMillicredits ON Memberships
                BEGIN UPDATE Organizations SET SettingsVersion = SettingsVersion + 1 WHERE Id IN (OLD.OrganizationId, NEW.OrganizationId); END;
                """);
            migrationBuilder.Sql("""
                CREATE TRIGGER Users_EmailChanged AFTER UPDATE OF NormalizedEmail ON AspNetUsers
                BEGIN
                    UPDATE Organizations SET SettingsVersion = SettingsVersion + 1
                    WHERE Id IN (SELECT OrganizationId FROM Memberships WHERE UserId = NEW.Id);
                END;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            foreach (var trigger in new[] { "LedgerEntries_AppendOnly_Update", "LedgerEntries_AppendOnly_Delete", "Organizations_SettingsChanged",
                         "Memberships_Added", "Memberships_Removed", "Memberships_Changed", "Users_EmailChanged" })
                migrationBuilder.Sql($"DROP TRIGGER IF EXISTS {trigger};");

            migrationBuilder.DropIndex(
                name: "IX_Invoices_OrganizationId_QuoteId",
                table: "Invoices");

            migrationBuilder.DropIndex(
                name: "IX_CreditHolds_OrganizationId_Status_ExpiresAt",
                table: "CreditHolds");

            migrationBuilder.DropIndex(
                name: "IX_CreditHolds_Status_ExpiresAt",
                table: "CreditHolds");

            migrationBuilder.DropColumn(
                name: "Secret",
                table: "OutboxMessages");

            migrationBuilder.DropColumn(
                name: "SettingsVersion",
                table: "Organizations");

            migrationBuilder.DropColumn(
                name: "AppliedAt",
                table: "Invoices");

            migrationBuilder.DropColumn(
                name: "QuoteId",
                table: "Invoices");

            migrationBuilder.CreateIndex(
                name: "IX_CreditHolds_OrganizationId_Status",
                table: "CreditHolds",
                columns: new[] { "OrganizationId", "Status" });
        }
    }
}
