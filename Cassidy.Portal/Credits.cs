using Cassidy.Portal.Data;

namespace Cassidy.Portal;

/// <summary>The one place millicredits become text (pages, e-mails, notifications, webhooks) or API numbers.</summary>
public static class Credits
{
    /// <summary>The engine counts millicredits: a credit is 1000 of them, so three decimals are exact.</summary>
    public const long PerCredit = 1000;

    /// <summary>Millicredits as the decimal credits of the internal API and the webhooks: 12345678 → 12345.678.</summary>
    public static decimal Of(long millicredits) => millicredits / (decimal)PerCredit;
    public static decimal? Of(long? millicredits) => millicredits is { } m ? Of(m) : null;

    /// <summary>Whole credits (a plan's allowance, a threshold, a cap typed in credits) in millicredits.</summary>
    public static long Millis(long credits) => checked(credits * PerCredit);
    public static long? Millis(long? credits) => credits is { } c ? Millis(c) : null;

    /// <summary>Credits with at most three decimals (checked by <see cref="CreditInput"/>) in millicredits, exactly.</summary>
    public static long Millis(decimal credits) => (long)(credits * PerCredit);

    /// <summary>A computed cost in millicredits, rounded up: a call never costs less than its price.</summary>
    public static long MillisRoundedUp(decimal credits) => (long)decimal.Ceiling(credits * PerCredit);

    /// <summary>12345678 → "12,345.678"; 20000000 → "20,000".</summary>
    public static string Format(long millicredits) => Of(millicredits).ToString("#,##0.###", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>For files: no grouping, up to 3 decimals, invariant: 12345678 → "12345.678".</summary>
    public static string Plain(long millicredits) => Of(millicredits).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// A ledger amount, exact and aligned: always three decimals, a sign, a true minus: 1510080 → "+1,510.080", -305090 →
    /// "−305.090". For the rows where decimals mean something (a ledger entry, one call's cost).
    /// </summary>
    public static string Signed(long millicredits) =>
        (millicredits > 0 ? "+" : millicredits < 0 ? "\u2212" : "") + Of(Math.Abs(millicredits)).ToString("#,##0.000", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Rounded to whole credits, for headline figures: 12345678 → "12,346".</summary>
    public static string Whole(long millicredits) => Math.Round(Of(millicredits), MidpointRounding.AwayFromZero).ToString("#,##0", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A grant or ledger-entry kind in words.</summary>
    public static string Kind(string kind) => kind switch
    {
        LedgerKinds.Grant => "Grant",
        LedgerKinds.Expiry => "Expiry",
        LedgerKinds.Usage => "Usage",
        _ => GrantKinds.Describe(kind),
    };

}
