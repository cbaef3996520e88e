namespace Cassidy.Portal.Organizations;

/// <summary>
/// Patterns for case-insensitive matching in queries (<c>EF.Functions.Like(column, pattern, TextSearch.Escape)</c>): what a
/// person types is matched literally, % and _ included. SQLite's LIKE ignores the case of ASCII letters, as its lower() does.
/// </summary>
public static class TextSearch
{
    public const string Escape = "\\";

    /// <summary>Anywhere in the value.</summary>
    public static string Containing(string text) => "%" + Literal(text.Trim()) + "%";

    /// <summary>The whole value, ignoring case.</summary>
    public static string Exactly(string text) => Literal(text.Trim());

    private static string Literal(string text) =>
        text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);
}
