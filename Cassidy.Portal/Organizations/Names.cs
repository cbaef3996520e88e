using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Text;

namespace Cassidy.Portal.Organizations;

/// <summary>
/// Names people type — their own, their organization's — are plain printable text: trimmed, at most 100 characters, no
/// line breaks, control or invisible formatting characters, and no angle brackets. They are shown as text everywhere in
/// any case (pages, charts, e-mails); this keeps them readable too, and keeps markup-looking names out of e-mails.
/// </summary>
public static class Names
{
    public const int MaxLength = 100;

    /// <summary>What is wrong with <paramref name="name"/> as <paramref name="what"/> (e.g. "your name"), or null.</summary>
    public static string? Problem(string? name, string what, int minLength = 1)
    {
        var trimmed = (name ?? "").Trim();
        if (trimmed.Length == 0) return $"Enter {what}.";
        if (trimmed.Length < minLength || trimmed.Length > MaxLength)
            return minLength > 1 ? $"Use {minLength} to {MaxLength} characters." : $"Use at most {MaxLength} characters.";
        foreach (var rune in trimmed.EnumerateRunes())
        {
            var category = Rune.GetUnicodeCategory(rune);
            if (category is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.LineSeparator
                    or UnicodeCategory.ParagraphSeparator or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned
                || rune.Value is '<' or '>')
                return "Use letters, digits, spaces and punctuation only — no line breaks, < or >.";
        }
        return null;
    }
}

/// <summary><see cref="Names.Problem"/> as a form's validation attribute (the message shows beside the field).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class PlainNameAttribute(string what, int minLength = 1) : ValidationAttribute
{
    /// <summary>An empty value is fine (a field that is optional, or required only sometimes).</summary>
    public bool AllowEmpty { get; init; }

    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext) =>
        AllowEmpty && string.IsNullOrWhiteSpace(value as string) ? ValidationResult.Success
        : Names.Problem(value as string, what, minLength) is { } problem
            ? new ValidationResult(problem, validationContext.MemberName is { } member ? [member] : null)
            : ValidationResult.Success;
}
