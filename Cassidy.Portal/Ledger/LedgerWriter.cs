using System.Diagnostics;
using System.Threading.Channels;
using Cassidy.Portal.Billing;

namespace Cassidy.Portal.Ledger;

/// <summary>
/// The one writer of credits (SPEC §6). Callers enqueue work and await it; a single loop drains whatever is queued,
/// runs it all in ONE SQLite transaction on one long-lived connection, commits, publishes the new state to the
/// <see cref="BalanceView"/>, and only then completes the callers — so a 200 means committed, and throughput does not
/// depend on one fsync per request (group commit: requests arriving during a commit join the next one).
/// </summary>
public sealed class LedgerWriter : IAsyncDisposable
{
    /// <summary>Upper bound of events per transaction, so one huge backlog does not make one huge commit.</summary>
    private const int MaxBatchWeight = 5_000;

    private readonly Channel<WriterItem> _queue = Channel.CreateUnbounded<WriterItem>(new UnboundedChannelOptions { SingleReader = true });
    private readonly string _connectionString;
    private readonly PlanCatalog _plans;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly IWriterHooks? _hooks;
    private readonly bool _manual;
    private readonly Lock _startGate = new();
    private Task? _loop;
    private LedgerStore? _store;

    public BalanceView View { get; }

    /// <param name="hooks">The simulation's fault injection and commit observer; null in production.</param>
    /// <param name="manual">No loop of its own: batches run when <see cref="Pump"/> is called (the simulation's scheduler).</param>
    public LedgerWriter(string connectionString, PlanCatalog plans, BalanceView view, TimeProvider clock, ILogger logger,
        IWriterHooks? hooks = null, bool manual = false)
    {
        _connectionString = connectionString;
        _plans = plans;
        View = view;
        _clock = clock;
        _logger = logger;
        _hooks = hooks;
        _manual = manual;
    }

    /// <summary>Items waiting for the next transaction.</summary>
    public int Queued => Volatile.Read(ref _queued);

    private int _queued;

    /// <summary>Runs <paramref name="work"/> on the writer, inside the next transaction; completes after the commit.</summary>
    internal Task<T> RunAsync<T>(string label, Func<LedgerStore, T> work, int weight = 1)
    {
        var item = new WriterItem<T>(label, work, weight);
        Enqueue(item);
        return item.Task;
    }

    private void Enqueue(WriterItem item)
    {
        EnsureStarted();
        Interlocked.Increment(ref _queued);
        if (_queue.Writer.TryWrite(item)) return;
        Interlocked.Decrement(ref _queued);
        throw new ObjectDisposedException(nameof(LedgerWriter));
    }

    private void EnsureStarted()
    {
        if (_loop is not null || _manual) return;
        lock (_startGate)
            _loop ??= Task.Factory.StartNew(Loop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    private async Task Loop()
    {
        var batch = new List<WriterItem>();
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            // After a failed open, wait out the back-off before trying again; callers queue up meanwhile.
            if (_store is null && Stopwatch.GetElapsedTime(_openFailedAt) is var since && since < _backoff)
                await Task.Delay(_backoff - since).ConfigureAwait(false);
            Drain(batch, MaxBatchWeight, int.MaxValue);
            try
            {
                Process(batch);
            }
            catch (Exception ex)
            {
                // Never let the loop die: that would leave every later caller waiting forever.
                _logger.LogError(ex, "Ingest writer failed a batch unexpectedly.");
                foreach (var item in batch) item.Fail(ex);
                ResetStore();
            }
        }
        _store?.Dispose();
        _store = null;
    }

    /// <summary>Manual mode: runs up to <paramref name="maxItems"/> queued items as one transaction; returns how many ran.</summary>
    public int Pump(int maxItems)
    {
        var batch = new List<WriterItem>();
        Drain(batch, MaxBatchWeight, maxItems);
        if (batch.Count > 0) Process(batch);
        return batch.Count;
    }

    private void Drain(List<WriterItem> batch, int maxWeight, int maxItems)
    {
        batch.Clear();
        var weight = 0;
        while (weight < maxWeight && batch.Count < maxItems && _queue.Reader.TryRead(out var item))
        {
            Interlocked.Decrement(ref _queued);
            batch.Add(item);
            weight += item.Weight;
        }
    }

    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(10);
    private TimeSpan _backoff = TimeSpan.Zero;
    private long _openFailedAt;

    private void Process(List<WriterItem> batch)
    {
        if (_store is null)
        {
            try
            {
                _hooks?.At(WriterPoint.Open);
                _store = new LedgerStore(_connectionString, _plans, View, _hooks);
                _backoff = TimeSpan.Zero;
            }
            catch (Exception ex)
            {
                // No database right now (a full disk, a missing folder, a lock): these callers get the error, and the writer
                // tries again for the next ones, waiting longer each time (up to 10 s) — it never gives up for good.
                _backoff = _backoff == TimeSpan.Zero ? TimeSpan.FromMilliseconds(100) : TimeSpan.FromTicks(Math.Min(_backoff.Ticks * 2, MaxBackoff.Ticks));
                _openFailedAt = Stopwatch.GetTimestamp();
                _logger.LogError(ex, "Ingest writer could not open the database; trying again in {Backoff} ms.", _backoff.TotalMilliseconds);
                foreach (var item in batch) item.Fail(ex);
                return;
            }
        }
        RunBatch(batch);
    }

    /// <summary>
    /// One transaction for the whole batch. If it fails before COMMIT, nothing of it happened: a storage failure fails every
    /// item (and the connection is reopened for the next batch); any other failure is retried item by item, so one bad item
    /// doesn't fail its neighbours. Once COMMIT succeeded nothing is ever run again: every item is answered as done.
    /// </summary>
    private void RunBatch(List<WriterItem> batch)
    {
        var failure = Transact(batch);
        if (failure is null) return;
        if (batch.Count == 1 || IsStorageFailure(failure))
        {
            _logger.LogError(failure, "Ingest transaction of {Count} items failed; nothing of it was committed.", batch.Count);
            foreach (var item in batch) item.Fail(failure);
            return;
        }
        _logger.LogWarning(failure, "Ingest transaction of {Count} items failed; trying them one by one.", batch.Count);
        foreach (var item in batch)
            if (Transact([item]) is { } error)
            {
                _logger.LogError(error, "Ingest work item '{Label}' failed.", item.Label);
                item.Fail(error);
            }
    }

    /// <summary>Runs the items in one transaction; null when it committed (and its items are answered), else why not.</summary>
    private Exception? Transact(List<WriterItem> items)
    {
        var store = _store;
        if (store is null) return new InvalidOperationException("The writer's database connection is closed.");
        var committed = false;
        try
        {
            store.Begin(_clock.GetUtcNow().UtcDateTime);
            foreach (var item in items) item.Execute(store);
            store.Commit(items);
            committed = true;
            _hooks?.At(WriterPoint.AfterCommit);
            store.Publish();
        }
        catch (Exception ex) when (!committed)
        {
            store.Rollback();
            if (IsStorageFailure(ex)) ResetStore();
            return ex;
        }
        catch (Exception ex)
        {
            // Committed: the callers are answered as done whatever happens now. The view may not show this commit, so the
            // organizations it touched are dropped from it and reloaded from the database at their next use.
            _logger.LogError(ex, "Publishing a committed ingest transaction failed; its organizations are reloaded.");
            store.Unpublished();
        }
        foreach (var item in items) item.Complete();
        return null;
    }

    /// <summary>The connection's fault, not the items': SQLite errors and I/O errors (a full disk, a lost file).</summary>
    private static bool IsStorageFailure(Exception error) =>
        error is IOException or Microsoft.Data.Sqlite.SqliteException { SqliteErrorCode: not SQLitePCL.raw.SQLITE_CONSTRAINT };

    private void ResetStore()
    {
        try { _store?.Dispose(); }
        catch (Exception ex) { _logger.LogWarning(ex, "Closing the writer's connection failed."); }
        _store = null;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        if (_loop is not null)
        {
            try { await _loop.ConfigureAwait(false); }
            catch (Exception ex) { _logger.LogError(ex, "Ingest writer stopped with an error."); }
        }
        else
        {
            ResetStore();
        }
    }

    internal abstract class WriterItem(string label, int weight)
    {
        private static long _lastId;
        public long Id { get; } = Interlocked.Increment(ref _lastId);
        public string Label { get; } = label;
        public int Weight { get; } = weight;
        /// <summary>Who enqueued it (<see cref="WriterCaller"/>), for the simulation's bookkeeping.</summary>
        public object? Caller { get; } = WriterCaller.Value;
        public abstract object? Result { get; }
        public abstract void Execute(LedgerStore store);
        public abstract void Complete();
        public abstract void Fail(Exception error);
    }

    private sealed class WriterItem<T>(string label, Func<LedgerStore, T> work, int weight) : WriterItem(label, weight)
    {
        private readonly TaskCompletionSource<T> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T _result = default!;

        public override object? Result => _result;
        public Task<T> Task => _done.Task;
        public override void Execute(LedgerStore store) => _result = work(store);
        public override void Complete() => _done.TrySetResult(_result);
        public override void Fail(Exception error) => _done.TrySetException(error);
    }
}
