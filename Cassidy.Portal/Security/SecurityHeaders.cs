using System.Security.Cryptography;

namespace Cassidy.Portal.Security;

/// <summary>
/// Security headers on every response: pages, API, static files and the re-executed error and status pages.
/// They are written in <see cref="HttpResponse.OnStarting(Func{Task})"/>, after everything else has run, so neither
/// the exception handler nor status-code re-execution (which clear headers) nor antiforgery (which writes its own
/// X-Frame-Options) can drop or weaken them.
/// </summary>
public static class SecurityHeaders
{
    private const string NonceKey = "Cassidy.Portal.Security.CspNonce";

    /// <summary>
    /// Blazor Server needs only same-origin scripts plus the inline <c>&lt;script type="importmap"&gt;</c> that
    /// <c>&lt;ImportMap /&gt;</c> renders, which carries this request's nonce. Styles allow inline because MudBlazor and
    /// apexcharts set style attributes and inject style elements. <c>connect-src 'self'</c> covers the circuit's
    /// same-origin WebSocket (CSP Level 3 matches ws/wss of the page's own host).
    /// </summary>
    public static string ContentSecurityPolicy(string nonce) => Policy($"script-src 'self' 'nonce-{nonce}'");

    /// <summary>
    /// The policy of a JSON response (the internal API's answers, problem details): no script can run in it, so it gets
    /// no nonce — the same policy allowing strictly less, without a random number per response (measured on authorize).
    /// </summary>
    public static readonly string JsonContentSecurityPolicy = Policy("script-src 'self'");

    private static string Policy(string scriptSource) => string.Join("; ",
        "default-src 'self'",
        scriptSource,
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'");

    /// <summary>Powerful features the portal never uses. WebAuthn (passkeys) keeps its same-origin default.</summary>
    public const string PermissionsPolicy =
        "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()";

    /// <summary>The CSP nonce of this request, for the one inline script (the import map) that App.razor renders.</summary>
    public static string CspNonce(this HttpContext context)
    {
        if (context.Items.TryGetValue(NonceKey, out var value) && value is string nonce) return nonce;
        // Hex: nothing in it needs escaping, in the header or in the HTML attribute.
        nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        context.Items[NonceKey] = nonce;
        return nonce;
    }

    /// <summary>First in the pipeline, so that every response, including the exception handler's, gets the headers.</summary>
    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        context.Response.OnStarting(static state =>
        {
            var http = (HttpContext)state;
            var headers = http.Response.Headers;
            headers.ContentSecurityPolicy = http.Response.ContentType?.Contains("json", StringComparison.OrdinalIgnoreCase) == true
                ? JsonContentSecurityPolicy
                : ContentSecurityPolicy(http.CspNonce());
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "strict-origin-when-cross-origin";
            headers["Permissions-Policy"] = PermissionsPolicy;
            headers["Cross-Origin-Opener-Policy"] = "same-origin";
            return Task.CompletedTask;
        }, context);
        return next(context);
    });
}
