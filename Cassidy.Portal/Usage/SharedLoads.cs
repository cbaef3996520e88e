using System.Collections.Concurrent;
using System.Diagnostics;

namespace Cassidy.Portal.Usage;

/// <summary>
/// One load shared by every open page that asks the same question at about the same time: the live Usage tabs, member
/// pages and My usage of one organization cost one report query per <see cref="MaxAge"/>, however many people watch them
/// (200 admins on one Usage tab while the AI runtime sends thousands of calls a second would otherwise be 200 report
/// queries every few seconds). Results are shared read-only; a load runs without the asking page's cancellation, since
/// others may be waiting for it; a failed load is not kept. Ages are real time, as the pages' poll timer is.
/// </summary>
public sealed class SharedLoads
{
    private static readonly TimeSpan Forget = TimeSpan.FromMinutes(1);

    private sealed record Entry(long LoadedAt, Lazy<Task<object?>> Load);

    private readonly ConcurrentDictionary<object, Entry> _entries = new();
    private long _loads;

    /// <summary>How long a result is handed out again. With the pages' poll every 2 s, new usage shows within about 4 s.</summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How many loads actually ran (the rest were shared).</summary>
    public long Loads => Interlocked.Read(ref _loads);

    /// <summary>The result for <paramref name="key"/> (a value: record or tuple) loaded less than <see cref="MaxAge"/> ago, or a new load.</summary>
    public async Task<T> GetAsync<T>(object key, Func<Task<T>> load) where T : class?
    {
        while (true)
        {
            var found = _entries.TryGetValue(key, out var entry);
            if (found && Stopwatch.GetElapsedTime(entry!.LoadedAt) < MaxAge && entry.Load.Value is { IsFaulted: false, IsCanceled: false } running)
                return (T)(await running)!;
            // The load runs on its own pool thread: SQLite's reads are synchronous, and run inside Lazy.Value they would
            // hold its lock, blocking every page that asks meanwhile on a pool thread of its own (50 tabs, 50 threads).
            var fresh = new Entry(Stopwatch.GetTimestamp(), new Lazy<Task<object?>>(() => Task.Run(async () =>
            {
                Interlocked.Increment(ref _loads);
                return (object?)await load();
            })));
            if (found ? _entries.TryUpdate(key, fresh, entry!) : _entries.TryAdd(key, fresh))
            {
                if (!found) ForgetOld();
                return (T)(await fresh.Load.Value)!;
            }
        }
    }

    /// <summary>Drops results nobody asked for in a minute (ranges people looked at once).</summary>
    private void ForgetOld()
    {
        foreach (var (key, entry) in _entries)
            if (Stopwatch.GetElapsedTime(entry.LoadedAt) > Forget) _entries.TryRemove(new KeyValuePair<object, Entry>(key, entry));
    }
}
