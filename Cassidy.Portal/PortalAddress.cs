namespace Cassidy.Portal;

/// <summary>
/// The portal's public address, <c>Portal:BaseUrl</c>: every absolute link it sends (invitations, account e-mails, alerts)
/// is built on it, never on a request's Host header, and when it is https the portal redirects, sends HSTS and marks
/// cookies Secure (<see cref="Security.TransportSecurity"/>).
/// </summary>
public static class PortalAddress
{
    public static string Link(IConfiguration configuration, string path) =>
        $"{(configuration["Portal:BaseUrl"] ?? "").TrimEnd('/')}/{path.TrimStart('/')}";

    /// <summary>The address when it is https, else null.</summary>
    public static Uri? Https(IConfiguration configuration) =>
        Uri.TryCreate(configuration["Portal:BaseUrl"], UriKind.Absolute, out var url) && url.Scheme == Uri.UriSchemeHttps ? url : null;
}
