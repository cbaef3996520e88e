namespace Cassidy.Portal;

/// <summary>Text that must fit a column or a message: shortened with an ellipsis.</summary>
public static class Text
{
    /// <summary>At most <paramref name="max"/> characters, the last an ellipsis when it was longer.</summary>
    public static string Shorten(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";
}
