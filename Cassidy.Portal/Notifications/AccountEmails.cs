using System.Net;
using Cassidy.Portal.Data;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Notifications;

/// <summary>
/// The account e-mails — confirm an address, reset a password, a registration with an address that has an account —
/// sent through the outbox like every other e-mail (SMTP or .eml files, retries), each link encrypted until it is sent.
/// The links expire with Identity's tokens (24 hours) and work once.
/// </summary>
public sealed class AccountEmails(IDbContextFactory<PortalDbContext> dbFactory, EmailOutbox outbox, IConfiguration configuration)
    : IEmailSender<ApplicationUser>
{
    // Identity's pages hand the links over HTML-encoded, for the template's HTML body; the outbox encodes them itself.
    public Task SendConfirmationLinkAsync(ApplicationUser user, string email, string confirmationLink) =>
        SendAsync(email, "Confirm your e-mail address for Cassidy", user.DisplayName,
            $"Confirm that {email} is your address on Cassidy by opening this link:",
            "The link works once, for 24 hours. If you didn't ask for it, you can ignore this e-mail.",
            WebUtility.HtmlDecode(confirmationLink), "account-confirm");

    public Task SendPasswordResetLinkAsync(ApplicationUser user, string email, string resetLink) =>
        SendAsync(email, "Reset your Cassidy password", user.DisplayName,
            "Someone (hopefully you) asked to reset the password of your Cassidy account. Choose a new one here:",
            "The link works once, for 24 hours. If you didn't ask for it, ignore this e-mail: your password stays as it is.",
            WebUtility.HtmlDecode(resetLink), "password-reset");

    public Task SendPasswordResetCodeAsync(ApplicationUser user, string email, string resetCode) =>
        SendAsync(email, "Your Cassidy password reset code", user.DisplayName,
            $"Your password reset code is {resetCode}.", "If you didn't ask for it, ignore this e-mail.", null, "password-reset");

    /// <summary>
    /// Someone registered with an address that already has an account. The page answers as it does for a new address (so
    /// it tells no one whether an account exists); the owner of the address hears of it here.
    /// </summary>
    public Task SendAlreadyRegisteredAsync(ApplicationUser user) =>
        SendAsync(user.Email!, "Someone tried to create a Cassidy account with your address", user.DisplayName,
            "Someone tried to create a new Cassidy account with this e-mail address, which already has one. " +
            $"If it was you, sign in at {BaseUrl}/Account/Login, or reset your password from there if you forgot it.",
            "If it wasn't you, you can ignore this e-mail: nothing was changed.", null, "account-exists");

    private string BaseUrl => (configuration["Portal:BaseUrl"] ?? "").TrimEnd('/');

    private async Task SendAsync(string to, string subject, string name, string lead, string footer, string? link, string kind)
    {
        var greeting = string.IsNullOrWhiteSpace(name) ? "Hello," : $"Hello {name},";
        var text = $"{greeting}\n\n{lead}\n" + (link is null ? "" : $"{EmailOutbox.SecretLinkPlaceholder}\n") + $"\n{footer}\n";
        static string E(string s) => WebUtility.HtmlEncode(s);
        var html = $"<p>{E(greeting)}</p><p>{E(lead)}</p>"
                   + (link is null ? "" : $"<p><a href=\"{EmailOutbox.SecretLinkPlaceholder}\">{EmailOutbox.SecretLinkPlaceholder}</a></p>")
                   + $"<p style=\"color:#6b7280\">{E(footer)}</p>";
        await using var db = await dbFactory.CreateDbContextAsync();
        outbox.Enqueue(db, new EmailMessage(to, subject, text, html, Kind: kind, SecretLink: link));
        await db.SaveChangesAsync();
        outbox.Wake();
    }
}
