using System.Security.Cryptography;
using Cassidy.Portal.Benchmark;
using Cassidy.Portal.Data;
using Cassidy.Portal.Demo;
using Cassidy.Portal.Simulation;
using Microsoft.AspNetCore.Identity;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal;

/// <summary>
/// What the portal's executable does besides serving, chosen by the first argument: an operator's tasks on a real
/// installation (<c>--create-staff</c>, <c>--backup</c>) and the measuring tools (<c>--simulate</c>, <c>--benchmark</c>,
/// <c>--benchmark-usage</c>). Each runs against the configuration a normal start would use, then exits.
/// </summary>
public static class PortalCommands
{
    /// <summary>The exit code of the command the arguments name, or null: no command, start the portal.</summary>
    public static async Task<int?> RunAsync(string[] args)
    {
        if (args.Contains("--simulate")) return LedgerSimulation.RunCommand(args);
        if (args.Contains("--benchmark-usage"))
        {
            await UsageBenchmark.RunAsync(args);
            return 0;
        }
        if (args.Contains("--benchmark"))
        {
            await IngestBenchmark.RunAsync(args);
            return 0;
        }
        if (Value(args, "--create-staff") is { } email) return await CreateStaffAsync(args, email);
        if (Value(args, "--backup") is { } file) return await BackupAsync(args, file);
        return null;
    }

    private static string? Value(string[] args, string name) =>
        args.SkipWhile(a => a != name).Skip(1).FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal));

    /// <summary>The portal's services on its configuration (environment variables and all), the database migrated.</summary>
    private static async Task<WebApplication> PortalAsync(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args.Where(a => a.StartsWith("--", StringComparison.Ordinal) && a.Contains('=')).ToArray());
        builder.AddPortal();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var app = builder.Build();
        await PortalDatabase.MigrateAsync(app.Services);
        return app;
    }

    /// <summary>
    /// <c>--create-staff EMAIL</c>: the first staff user of a real installation (staff answer support and grant credits).
    /// The password is read from standard input with <c>--password-stdin</c>, or generated; a generated one is printed once,
    /// on the console, never to the log. An existing account is made staff and keeps its password.
    /// </summary>
    private static async Task<int> CreateStaffAsync(string[] args, string email)
    {
        await using var app = await PortalAsync(args);
        await using var scope = app.Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>();
        var roles = scope.ServiceProvider.GetRequiredService<RoleManager<IdentityRole>>();
        if (!await roles.RoleExistsAsync(DemoSeeder.StaffRole)) await roles.CreateAsync(new IdentityRole(DemoSeeder.StaffRole));

        string? generated = null;
        var user = await users.FindByEmailAsync(email);
        if (user is null)
        {
            var password = args.Contains("--password-stdin") ? Console.In.ReadLine()?.TrimEnd('\r', '\n') ?? "" : generated = NewPassword();
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

        Console.WriteLine($"{email} is a staff user. Sign in at {app.Configuration["Portal:BaseUrl"]}/Account/Login to reach /staff.");
        if (generated is not null)
            Console.WriteLine($"Password (shown this once, not logged — store it in your password manager): {generated}");
        return 0;
    }

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
        await using var app = await PortalAsync(args);
        var target = Path.GetFullPath(file);
        if (File.Exists(target))
        {
            Console.Error.WriteLine($"{target} exists already: choose a new file name for each backup.");
            return 1;
        }
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        await using var db = await app.Services.GetRequiredService<IDbContextFactory<PortalDbContext>>().CreateDbContextAsync();
        await using var connection = new SqliteConnection(db.Database.GetConnectionString());
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "VACUUM INTO $file";
        command.Parameters.AddWithValue("$file", target);
        await command.ExecuteNonQueryAsync();
        Console.WriteLine($"Backed up to {target} ({new FileInfo(target).Length:N0} bytes).");
        return 0;
    }
}
