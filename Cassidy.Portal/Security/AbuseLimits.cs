using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace Cassidy.Portal.Security;

/// <summary>
/// Per-client limits on the pages an attacker would hammer — signing in, registering, asking for a password reset, trying
/// invitation links — on top of the per-account lockout (which alone would let anyone lock a known account out). A
/// client is its address, or its IPv6 /64 (the proxy's <c>X-Forwarded-For</c> when the proxy is trusted). Over the limit: 429 with
/// <c>Retry-After</c>, shown as a friendly page. Pages opt in with <c>[EnableRateLimiting(AbuseLimits.…)]</c>.
/// </summary>
public static class AbuseLimits
{
    /// <summary>The <c>AbuseLimits</c> section: attempts per client per window (sign-in per minute, the rest as noted).</summary>
    public sealed class Options
    {
        public int SignInPerMinute { get; set; } = 10;
        public int RegisterPerTenMinutes { get; set; } = 5;
        public int PasswordResetPerTenMinutes { get; set; } = 5;
        public int InvitationPerMinute { get; set; } = 30;
    }

    public const string SignIn = "sign-in";
    public const string Register = "register";
    public const string PasswordReset = "password-reset";
    public const string Invitation = "invitation";

    public static IServiceCollection AddAbuseLimits(this IServiceCollection services) => services
        .AddOptions<Options>().BindConfiguration("AbuseLimits").Services
        .AddRateLimiter(o =>
    {
        o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
        o.OnRejected = (context, _) =>
        {
            if (context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter))
                context.HttpContext.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            return ValueTask.CompletedTask;
        };
        // Form posts only for the account pages (reading a page costs nothing); every request for invitation links,
        // whose tokens are in the address.
        Limit(o, SignIn, l => l.SignInPerMinute, TimeSpan.FromMinutes(1), postsOnly: true);
        Limit(o, Register, l => l.RegisterPerTenMinutes, TimeSpan.FromMinutes(10), postsOnly: true);
        Limit(o, PasswordReset, l => l.PasswordResetPerTenMinutes, TimeSpan.FromMinutes(10), postsOnly: true);
        Limit(o, Invitation, l => l.InvitationPerMinute, TimeSpan.FromMinutes(1), postsOnly: false);
    });

    private static void Limit(RateLimiterOptions o, string name, Func<Options, int> permits, TimeSpan window, bool postsOnly) =>
        o.AddPolicy(name, http => postsOnly && !HttpMethods.IsPost(http.Request.Method)
            ? RateLimitPartition.GetNoLimiter("")
            : RateLimitPartition.GetFixedWindowLimiter(ClientKey(http.Connection.RemoteIpAddress), _ => new FixedWindowRateLimiterOptions
            {
                PermitLimit = permits(http.RequestServices.GetRequiredService<IOptions<Options>>().Value), Window = window, QueueLimit = 0,
            }));

    /// <summary>
    /// Whose attempts count together: an IPv4 address, or an IPv6 /64 — one subscriber's whole network, where a client can
    /// take a new address for every request.
    /// </summary>
    public static string ClientKey(IPAddress? address)
    {
        if (address is null) return "unknown";
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (address.AddressFamily != AddressFamily.InterNetworkV6) return address.ToString();
        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }
}
