using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Cassidy.Portal.Data.Migrations
{
    /// <inheritdoc />
    public partial class AuditFilterIndexes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "IX_AuditEntries_OrganizationId_Action_At",
                table: "AuditEntries",
                columns: new[] { "OrganizationId", "Action", "At" });

            migrationBuilder.CreateIndex(
                name: "IX_AuditEntries_OrganizationId_ActorUserId_At",
                table: "AuditEntries",
                columns: new[] { "OrganizationId", "ActorUserId", "At" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_AuditEntries_OrganizationId_Action_At",
                table: "AuditEntries");

            migrationBuilder.DropIndex(
                name: "IX_AuditEntries_OrganizationId_ActorUserId_At",
                table: "AuditEntries");
        }
    }
}
