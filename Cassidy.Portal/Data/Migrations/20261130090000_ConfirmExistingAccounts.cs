using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Cassidy.Portal.Data.Migrations
{
    /// <summary>
    /// Accounts now sign in once their address is confirmed. Those created before (which signed in without it) keep
    /// signing in: this release treats them as confirmed. Data only, so the model (and the snapshot) are unchanged.
    /// </summary>
    [DbContext(typeof(PortalDbContext))]
    [Migration("20261130090000_ConfirmExistingAccounts")]
    public partial class ConfirmExistingAccounts : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder) =>
            migrationBuilder.Sql("UPDATE AspNetUsers SET EmailConfirmed = 1 WHERE EmailConfirmed = 0;");

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            // Which accounts were confirmed by this migration rather than by their owners is not recorded: nothing to undo.
        }
    }
}
