using Cassidy.Portal.Data;
using Cassidy.Portal.Limits;

namespace Cassidy.Portal.Components.Pages.Settings;

/// <summary>What the Limits page says and checks as people type: who would be blocked, and a limit being edited in a row.</summary>
public static class LimitWording
{
    /// <summary>"Ana, Ben have" / "Ana, Ben and 3 others have".</summary>
    public static string Names(IReadOnlyList<MemberCapRow> rows) =>
        rows.Count <= 3 ? string.Join(", ", rows.Select(r => r.Name)) + (rows.Count == 1 ? " has" : " have")
            : $"{rows[0].Name}, {rows[1].Name} and {rows.Count - 2} others have";

    /// <summary>A message beside a field is re-checked as it is typed into, so a fixed value clears it at once.</summary>
    public static string? Recheck(string? error, string? text) => error is null ? null : MemberCaps.ParseCredits(text).Error;
}

/// <summary>A member's limit as edited in its row, before it is saved.</summary>
public sealed class CapEdit
{
    public MemberCapMode Mode { get; set; }
    public string? Text { get; set; }
    public string? Error { get; set; }

    public bool Changed(MemberCapRow row) =>
        Mode != row.Mode || (Mode == MemberCapMode.Custom && (MemberCaps.ParseCredits(Text).Millicredits != row.CustomCap || MemberCaps.ParseCredits(Text).Error is not null));
}
