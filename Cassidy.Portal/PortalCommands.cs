using System.Security.Cryptography;
using Cassidy.Portal.Data;
using Cassidy.Portal.Demo;
using Cassidy.Portal.Simulation;
using Microsoft.AspNetCore.Identity;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal;

/// <summary>
/// What the portal's executable does besides serving, chosen by the first argument: an operator's tasks on a real
/// installation (<c>--create-staff</c>, <c>--backup</c>) and the ledger simulation (<c>--simulate</c>). Each runs against the
/// configuration a normal start would use, then exits. (The benchmarks are their own project, Cassidy.Portal.Benchmarks.)
/// </summary>
public static class PortalCommands
{
    /// <summary>The exit code of the command the arguments name, or null: no command, start the portal.</summary>
    public static async Task<int?> RunAsync(string[] args)
    {
        if (args.Contains("--simulate")) return LedgerSimulation.RunCommand(args);
        if (Value(args, "--create-staff") is { } email) return await CreateStaffAsync(args, email);
        if (Value(args, "--backup") is { } file) return await BackupAsync(args, file);
        return null;
    }

    private static string? Value(string[] args, string name) =>
        args.SkipWhile(a => a != name).Skip(1).FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal));

    /// <summary>The portal's services on its configuration (environment variables and all), the database migrated unless told not to.</summary>
    private static async Task<WebApplication> PortalAsync(string[] args, bool migrate = true)
    {
        var builder = WebApplication.CreateBuilder(args.Where(a => a.StartsWith("--", StringComparison.Ordinal) && a.Contains('=')).ToArray());
        builder.AddPortal();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var app = builder.Build();
        if (migrate) await PortalDatabase.MigrateAsync(app.Services);
        return app;
    }

    /// <summary>
    /// <c>--create-staff EMAIL</c>: the first staff user of a real installation (staff answer support and grant credits).
    /// The password is read from standard input with <c>--password-stdin</c>, or generated; a generated one is printed once,
    /// on the console, never to the log. An existing account is made staff only if its address is confirmed; it keeps its
    /// password unless one is given on standard input.
    /// </summary>
    private static async Task<int> CreateStaffAsync(string[] args, string email)
    {
        await using var app = await PortalAsync(args);
        await using var scope = app.Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>();
        var roles = scope.ServiceProvider.GetRequiredService<RoleManager<IdentityRole>>();
        if (!await roles.RoleExistsAsync(DemoSeeder.StaffRole)) await roles.CreateAsync(new IdentityRole(DemoSeeder.StaffRole));

        string? generated = null;
        var fromStdin = args.Contains("--password-stdin");
        var user = await users.FindByEmailAsync(email);
        if (user is not null)
        {
            // Someone else may have started an account with this address and never confirmed it (their password, not the
            // address's owner's): such an account is not made staff.
            if (!user.EmailConfirmed)
            {
                Console.Error.WriteLine($"{email} has an account whose address was never confirmed: it was not made staff. Confirm it first, or reset its password from the sign-in page.");
                return 1;
            }
            if (fromStdin)
            {
                var replaced = await users.ResetPasswordAsync(user, await users.GeneratePasswordResetTokenAsync(user), ReadPassword());
                if (!replaced.Succeeded)
                {
                    Console.Error.WriteLine($"The password was not changed and {email} was not made staff: {string.Join(" ", replaced.Errors.Select(e => e.Description))}");
                    return 1;
                }
                Console.WriteLine($"{email} had an account: its password is now the one given.");
            }
            else
            {
                Console.WriteLine($"{email} had an account: it keeps its password.");
            }
        }
        else
        {
            var password = fromStdin ? ReadPassword() : generated = NewPassword();
            user = new ApplicationUser
            {
                UserName = email, Email = email, EmailConfirmed = true, DisplayName = email.Split('@')[0],
                CreatedAt = DateTime.UtcNow,
            };
            var created = await users.CreateAsync(user, password);
            if (!created.Succeeded)
            {
                Console.Error.WriteLine($"The staff user was not created: {string.Join(" ", created.Errors.Select(e => e.Description))}");
                return 1;
            }
        }
        if (!await users.IsInRoleAsync(user, DemoSeeder.StaffRole)) await users.AddToRoleAsync(user, DemoSeeder.StaffRole);

        Console.WriteLine($"{email} is a staff user. Sign in at {PortalAddress.Link(app.Configuration, "Account/Login")} to reach /staff.");
        if (generated is not null)
            Console.WriteLine($"Password (shown this once, not logged — store it in your password manager): {generated}");
        return 0;
    }

    private static string ReadPassword() => Console.In.ReadLine()?.TrimEnd('\r', '\n') ?? "";

    private static string NewPassword()
    {
        const string alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
        var chars = Enumerable.Range(0, 20).Select(_ => alphabet[RandomNumberGenerator.GetInt32(alphabet.Length)]);
        return string.Concat(chars) + "-" + RandomNumberGenerator.GetInt32(10, 99); // meets every rule of the password policy
    }

    /// <summary>
    /// <c>--backup FILE</c>: a consistent copy of the SQLite database while the portal keeps running (SQLite's
    /// <c>VACUUM INTO</c>: one read transaction, so the copy is a single moment of the database).
    /// </summary>
    private static async Task<int> BackupAsync(string[] args, string file)
    {
        // The database as it is: a backup taken with a newer version before an upgrade must not upgrade it first.
        await using var app = await PortalAsync(args, migrate: false);
        await using var db = await app.Services.GetRequiredService<IDbContextFactory<PortalDbContext>>().CreateDbContextAsync();
        // Read-only: a wrong path is an error, not a new empty database to back up.
        var source = new SqliteConnectionStringBuilder(db.Database.GetConnectionString()) { Mode = SqliteOpenMode.ReadOnly };
        await using var connection = new SqliteConnection(source.ToString());
        try
        {
            await connection.OpenAsync();
        }
        catch (SqliteException e)
        {
            Console.Error.WriteLine($"The database {source.DataSource} could not be opened: {e.Message}");
            return 1;
        }
        var target = Path.GetFullPath(file);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        // VACUUM INTO fills an empty file: created here, readable by this user only (the copy holds password hashes and
        // the data-protection keys).
        var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        try
        {
            await new FileStream(target, create).DisposeAsync();
        }
        catch (IOException) when (File.Exists(target))
        {
            Console.Error.WriteLine($"{target} exists already: choose a new file name for each backup.");
            return 1;
        }
        await using var command = connection.CreateCommand();
        command.CommandText = "VACUUM INTO $file";
        command.Parameters.AddWithValue("$file", target);
        await command.ExecuteNonQueryAsync();
        Console.WriteLine($"Backed up to {target} ({new FileInfo(target).Length:N0} bytes).");
        return 0;
    }
}
