namespace Cassidy.Portal.Ledger;

/// <summary>Where the writer asks <see cref="IWriterHooks.At"/> before going on: the points a crash or a fault is injected at.</summary>
public enum WriterPoint
{
    /// <summary>Opening the writer's connection.</summary>
    Open,
    /// <summary>Beginning a transaction.</summary>
    Begin,
    /// <summary>Between two statements of a transaction.</summary>
    Statement,
    /// <summary>Just before COMMIT.</summary>
    BeforeCommit,
    /// <summary>Just after COMMIT, before the view hears of it and before any caller is answered.</summary>
    AfterCommit,
    /// <summary>Publishing a committed organization to the view.</summary>
    Publish,
}

/// <summary>One work item of a committed transaction: its number, what it was, who enqueued it, what it returned.</summary>
public readonly record struct WriterItemInfo(long Id, string Label, object? Caller, object? Result);

/// <summary>
/// Lets the deterministic simulation (<c>Simulation/</c>) watch and break the writer: <see cref="At"/> may throw at each
/// <see cref="WriterPoint"/>, and <see cref="Committed"/> tells which items a COMMIT made durable, in order, and which
/// organizations it touched. Production runs without hooks.
/// </summary>
public interface IWriterHooks
{
    void At(WriterPoint point);

    void Committed(IReadOnlyList<WriterItemInfo> items, IReadOnlyList<int> organizations);
}

/// <summary>Who enqueued a writer item: set by the simulation around each of its callers, null otherwise.</summary>
public static class WriterCaller
{
    private static readonly AsyncLocal<object?> Current = new();

    public static object? Value => Current.Value;

    public static void Set(object? caller) => Current.Value = caller;
}
