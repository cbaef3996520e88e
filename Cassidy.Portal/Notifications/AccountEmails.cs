using System.Net;
using System.Text;
using Cassidy.Portal.Data;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;

namespace Cassidy.Portal.Notifications;

/// <summary>
/// The account e-mails — confirm an address, reset a password, confirm a new address, a registration with an address that
/// has an account — sent through the outbox like every other e-mail (SMTP or .eml files, retries), each link encrypted until
/// it is sent. The links expire with Identity's tokens (24 hours) and work once. They are built on <c>Portal:BaseUrl</c>,
/// never on the request's Host header: a forged Host must not turn a reset e-mail into a link to someone else's server.
/// Each goes to the address the account has, not to what was typed into a form.
/// </summary>
public sealed class AccountEmails(
    IDbContextFactory<PortalDbContext> dbFactory, EmailOutbox outbox, UserManager<ApplicationUser> userManager, IConfiguration configuration)
{
    private const string Once = "The link works once, for 24 hours.";

    public async Task SendConfirmationAsync(ApplicationUser user, string? returnUrl = null)
    {
        var link = Link("Account/ConfirmEmail", ("userId", user.Id), ("code", Encode(await userManager.GenerateEmailConfirmationTokenAsync(user))),
            ("returnUrl", returnUrl));
        await SendAsync(user.Email!, "Confirm your e-mail address for Cassidy", user.DisplayName,
            $"Confirm that {user.Email} is your address on Cassidy by opening this link:",
            $"{Once} If you didn't ask for it, you can ignore this e-mail.", link, "account-confirm");
    }

    public async Task SendPasswordResetAsync(ApplicationUser user)
    {
        var link = Link("Account/ResetPassword", ("code", Encode(await userManager.GeneratePasswordResetTokenAsync(user))));
        await SendAsync(user.Email!, "Reset your Cassidy password", user.DisplayName,
            "Someone (hopefully you) asked to reset the password of your Cassidy account. Choose a new one here:",
            $"{Once} If you didn't ask for it, ignore this e-mail: your password stays as it is.", link, "password-reset");
    }

    /// <summary>The link that moves the account to <paramref name="newEmail"/>, sent there (it proves the new address).</summary>
    public async Task SendEmailChangeAsync(ApplicationUser user, string newEmail)
    {
        var link = Link("Account/ConfirmEmailChange", ("userId", user.Id), ("email", newEmail),
            ("code", Encode(await userManager.GenerateChangeEmailTokenAsync(user, newEmail))));
        await SendAsync(newEmail, "Confirm your new e-mail address for Cassidy", user.DisplayName,
            $"Confirm that {newEmail} is your new address on Cassidy by opening this link:",
            $"{Once} Until then you sign in with {user.Email}. If you didn't ask for it, you can ignore this e-mail.", link, "account-confirm");
    }

    /// <summary>
    /// Someone registered with an address that already has an account. The page answers as it does for a new address (so
    /// it tells no one whether an account exists); the owner of the address hears of it here. An account never confirmed
    /// may have been started by someone else to wait for its owner: the e-mail offers a password reset, which takes the
    /// account over (and confirms the address), so no password chosen by another person survives.
    /// </summary>
    public async Task SendAlreadyRegisteredAsync(ApplicationUser user)
    {
        if (!await userManager.IsEmailConfirmedAsync(user))
        {
            var link = Link("Account/ResetPassword", ("code", Encode(await userManager.GeneratePasswordResetTokenAsync(user))));
            await SendAsync(user.Email!, "Finish creating your Cassidy account", user.DisplayName,
                "Someone tried to create a Cassidy account with this e-mail address, where one was started but never confirmed. " +
                "If it was you, choose your password here; that also confirms the address:",
                $"{Once} If it wasn't you, ignore this e-mail: without the link, nobody can use this address on Cassidy.", link, "account-exists");
            return;
        }
        await SendAsync(user.Email!, "Someone tried to create a Cassidy account with your address", user.DisplayName,
            "Someone tried to create a new Cassidy account with this e-mail address, which already has one. " +
            $"If it was you, sign in at {Link("Account/Login")}, or reset your password from there if you forgot it.",
            "If it wasn't you, you can ignore this e-mail: nothing was changed.", null, "account-exists");
    }

    private static string Encode(string token) => WebEncoders.Base64UrlEncode(Encoding.UTF8.GetBytes(token));

    private string Link(string path, params (string Name, string? Value)[] query) =>
        QueryHelpers.AddQueryString(PortalAddress.Link(configuration, path),
            query.Where(q => q.Value is not null).Select(q => KeyValuePair.Create(q.Name, q.Value)));

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
