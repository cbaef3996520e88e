using System.Net;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.HttpsPolicy;

namespace Cassidy.Portal.Security;

/// <summary>
/// The portal behind a TLS-terminating reverse proxy (README, "Deploying"): the proxy's forwarded headers are believed only
/// from the proxies configured (loopback by default), so the portal sees the client's scheme and address; when
/// <c>Portal:BaseUrl</c> is https, plain http is redirected, HSTS is sent and every cookie is Secure.
/// </summary>
public static class TransportSecurity
{
    public static IServiceCollection AddTransportSecurity(this IServiceCollection services)
    {
        services.AddOptions<ForwardedHeadersOptions>().Configure<IConfiguration>((o, configuration) =>
        {
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto | ForwardedHeaders.XForwardedHost;
            // Beside loopback (the default), the proxies and networks the operator names: a header from anyone else is ignored.
            foreach (var proxy in configuration.GetSection("Portal:KnownProxies").Get<string[]>() ?? [])
                o.KnownProxies.Add(IPAddress.Parse(proxy));
            foreach (var network in configuration.GetSection("Portal:KnownNetworks").Get<string[]>() ?? [])
                o.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(network));
        });
        services.AddOptions<CookiePolicyOptions>().Configure<IConfiguration>((o, configuration) =>
            o.Secure = PortalAddress.Https(configuration) is not null ? CookieSecurePolicy.Always : CookieSecurePolicy.SameAsRequest);
        services.AddHsts(o =>
        {
            o.MaxAge = TimeSpan.FromDays(365);
            o.IncludeSubDomains = false; // the portal can't speak for its parent domain's other hosts
        });
        services.AddOptions<HttpsRedirectionOptions>().Configure<IConfiguration>((o, configuration) =>
        {
            if (PortalAddress.Https(configuration) is { } url) o.HttpsPort = url.Port;
            o.RedirectStatusCode = StatusCodes.Status308PermanentRedirect;
        });
        return services;
    }

    /// <summary>First in the pipeline: everything after it sees the client's scheme and address.</summary>
    public static void UseTransportSecurity(this WebApplication app)
    {
        app.UseForwardedHeaders();
        if (PortalAddress.Https(app.Configuration) is not null)
        {
            app.UseHsts();
            app.UseHttpsRedirection();
        }
        app.UseCookiePolicy();
    }
}
