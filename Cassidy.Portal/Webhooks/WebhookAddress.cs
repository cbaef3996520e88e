using System.Net;
using System.Net.Sockets;

namespace Cassidy.Portal.Webhooks;

/// <summary>
/// Which URLs an alert channel may post to. Outside Development only https, and never to loopback, link-local, private,
/// carrier-grade NAT, multicast or unspecified addresses: an admin must not be able to make the portal call into the
/// network it runs in. <c>Webhooks:AllowHttp</c> and <c>Webhooks:AllowPrivateNetworks</c> loosen this (on in Development).
/// The address is checked as the connection is made (<see cref="CreateHandler"/>), so a DNS change after the URL was
/// saved cannot redirect a delivery.
/// </summary>
public sealed class WebhookAddress(bool allowHttp, bool allowPrivateNetworks)
{
    public const int MaxLength = 2000;

    public bool AllowHttp { get; } = allowHttp;
    public bool AllowPrivateNetworks { get; } = allowPrivateNetworks;

    public static WebhookAddress From(IConfiguration configuration, IHostEnvironment? environment)
    {
        var development = environment?.IsDevelopment() == true;
        return new WebhookAddress(configuration.GetValue("Webhooks:AllowHttp", development),
            configuration.GetValue("Webhooks:AllowPrivateNetworks", development));
    }

    /// <summary>The URL's form: absolute http(s), a host, no credentials; a message for the field, or null.</summary>
    public string? CheckForm(string? url)
    {
        url = url?.Trim() ?? "";
        if (url.Length == 0) return "Enter the URL that receives the events.";
        if (url.Length > MaxLength) return $"Use a URL of at most {MaxLength:N0} characters.";
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp)
            || string.IsNullOrEmpty(uri.Host))
            return "Enter a full http(s) URL, like https://hooks.example.com/cassidy.";
        if (uri.Scheme == Uri.UriSchemeHttp && !AllowHttp) return "Use an https:// URL: events carry your organization's figures.";
        if (uri.UserInfo.Length > 0) return "Leave user names and passwords out of the URL; deliveries are signed instead.";
        if (!AllowPrivateNetworks && (uri.IsLoopback || uri.Host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
                || (IPAddress.TryParse(uri.DnsSafeHost, out var ip) && IsInternal(ip))))
            return "This URL points into a private network (loopback, link-local or private address); use a public address.";
        return null;
    }

    /// <summary><see cref="CheckForm"/>, then the host's addresses as DNS gives them now: a message for the field, or null.</summary>
    public async Task<string?> CheckAsync(string? url, CancellationToken ct = default)
    {
        if (CheckForm(url) is { } error) return error;
        var host = new Uri(url!.Trim()).DnsSafeHost;
        IPAddress[] addresses;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            addresses = await Dns.GetHostAddressesAsync(host, timeout.Token);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            return $"The host {host} could not be found. Check the URL.";
        }
        if (!AllowPrivateNetworks && addresses.All(IsInternal))
            return $"The host {host} resolves to a private network address; use a public address.";
        return null;
    }

    /// <summary>
    /// An HTTP handler that resolves the host itself, connects only to addresses the rules allow, never follows redirects and
    /// ignores proxies: what was checked is what is called.
    /// </summary>
    public SocketsHttpHandler CreateHandler() => new()
    {
        AllowAutoRedirect = false,
        UseProxy = false,
        UseCookies = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(1),
        ConnectTimeout = TimeSpan.FromSeconds(5),
        ConnectCallback = async (context, ct) =>
        {
            var addresses = await Dns.GetHostAddressesAsync(context.DnsEndPoint.Host, ct);
            var allowed = AllowPrivateNetworks ? addresses : addresses.Where(a => !IsInternal(a)).ToArray();
            if (allowed.Length == 0)
                throw new WebhookRefusedException($"{context.DnsEndPoint.Host} resolves only to private network addresses; the delivery was not sent.");
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };

    /// <summary>Loopback, link-local, private (RFC 1918, fc00::/7, fec0::/10), CGNAT, multicast, unspecified, "this network", broadcast.</summary>
    public static bool IsInternal(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (IPAddress.IsLoopback(address)) return true;
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            if (address.Equals(IPAddress.IPv6None) || address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast
                || address.IsIPv6UniqueLocal) return true;
            var b6 = address.GetAddressBytes();
            return b6[0] == 0x20 && b6[1] == 0x01 && b6[2] == 0x0d && b6[3] == 0xb8; // documentation 2001:db8::/32
        }
        var b = address.GetAddressBytes();
        return b[0] switch
        {
            0 or 10 or 127 => true,
            100 => b[1] is >= 64 and <= 127,      // carrier-grade NAT 100.64.0.0/10
            169 => b[1] == 254,                    // link-local, cloud metadata
            172 => b[1] is >= 16 and <= 31,
            192 => b[1] == 168 || (b[1] == 0 && b[2] is 0 or 2), // private, IETF protocol assignments, documentation
            198 => b[1] is 18 or 19,               // benchmarking
            >= 224 => true,                        // multicast, reserved, broadcast
            _ => false,
        };
    }
}

/// <summary>A delivery the address rules refused to make.</summary>
public sealed class WebhookRefusedException(string message) : Exception(message);
