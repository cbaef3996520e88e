using Cassidy.Portal.Data;

namespace Cassidy.Portal.Metering;

/// <summary>The one place millicredits become text (pages, e-mails, notifications, webhooks) or API numbers.</summary>
public static class Credits
{
    /// <summary>Millicredits as the decimal credits of the internal API and the webhooks: 12345678 → 12345.678.</summary>
    public static decimal Of(long millicredits) => millicredits / 1000m;
    public static decimal? Of(long? millicredits) => millicredits is { } m ? m / 1000m : null;

    /// <summary>12345678 → "12,345.678"; 20000000 → "20,000".</summary>
    public static string Format(long millicredits) => (millicredits / 1000m).ToString("#,##0.###", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>For files: no grouping, up to 3 decimals, invariant: 12345678 → "12345.678".</summary>
    public static string Plain(long millicredits) => (millicredits / 1000m).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// A ledger amount, exact and aligned: always three decimals, a sign, a true minus: 1510080 → "+1,510.080", -305090 →
    /// "−305.090". For the rows where decimals mean something (a ledger entry, one call's cost).
    /// </summary>
    public static string Signed(long millicredits) =>
        (millicredits > 0 ? "+" : millicredits < 0 ? "\u2212" : "") + (Math.Abs(millicredits) / 1000m).ToString("#,##0.000", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Rounded to whole credits, for headline figures: 12345678 → "12,346".</summary>
    public static string Whole(long millicredits) => Math.Round(millicredits / 1000m, MidpointRounding.AwayFromZero).ToString("#,##0", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A grant or ledger-entry kind in words.</summary>
    public static string Kind(string kind) => kind switch
    {
        LedgerKinds.Grant => "Grant",
        LedgerKinds.Expiry => "Expiry",
        LedgerKinds.Usage => "Usage",
        _ => GrantKinds.Describe(kind),
    };

}
