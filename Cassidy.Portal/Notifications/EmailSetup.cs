using Microsoft.Extensions.Options;
using MimeKit;

namespace Cassidy.Portal.Notifications;

public static class EmailSetup
{
    /// <summary>The outbox, the transport chosen by <c>Email:Smtp:Host</c>, and the background dispatcher.</summary>
    public static IServiceCollection AddEmail(this IServiceCollection services)
    {
        // Bound from the container's configuration when first used, so a test host's settings are seen too.
        services.AddOptions<EmailOptions>()
            .BindConfiguration(EmailOptions.Section)
            .Validate(o => MailboxAddress.TryParse(o.From, out _), "Email:From is not an email address.")
            // A password sent over plain SMTP can be read on the way: logging in needs STARTTLS or implicit TLS (port 465).
            .Validate(o => string.IsNullOrEmpty(o.Smtp.UserName) || o.Smtp.UseStartTls || o.Smtp.Port == 465,
                "Email:Smtp:UserName is set but the connection is not encrypted: set Email__Smtp__UseStartTls=true, or use port 465 (implicit TLS).")
            .ValidateOnStart();
        services.AddDataProtection(); // the outbox encrypts links with it; the portal's own setup keeps the keys in the database
        services.AddSingleton<EmailOutbox>();
        services.AddSingleton<IEmailTransport>(sp =>
            string.IsNullOrWhiteSpace(sp.GetRequiredService<IOptions<EmailOptions>>().Value.Smtp.Host)
                ? ActivatorUtilities.CreateInstance<PickupDirectoryEmailTransport>(sp)
                : ActivatorUtilities.CreateInstance<SmtpEmailTransport>(sp));
        services.AddSingleton<OutboxDispatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<OutboxDispatcher>());
        return services;
    }
}
