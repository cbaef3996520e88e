using System.Threading.Channels;

namespace Cassidy.Portal.Metering;

/// <summary>
/// The one writer of credits (SPEC §6). Callers enqueue work and await it; a single loop drains whatever is queued,
/// runs it all in ONE SQLite transaction on one long-lived connection, commits, publishes the new state to the
/// <see cref="CreditView"/>, and only then completes the callers — so a 200 means committed, and throughput does not
/// depend on one fsync per request (group commit: requests arriving during a commit join the next one).
/// </summary>
public sealed class IngestWriter : IAsyncDisposable
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

    public CreditView View { get; }

    /// <param name="hooks">The simulation's fault injection and commit observer; null in production.</param>
    /// <param name="manual">No loop of its own: batches run when <see cref="Pump"/> is called (the simulation's scheduler).</param>
    public IngestWriter(string connectionString, PlanCatalog plans, CreditView view, TimeProvider clock, ILogger logger,
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
        throw new ObjectDisposedException(nameof(IngestWriter));
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
            Drain(batch, MaxBatchWeight, int.MaxValue);
            Process(batch);
        }
        _store?.Dispose();
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

    private void Process(List<WriterItem> batch)
    {
        if (_store is null)
        {
            try
            {
                _hooks?.At(WriterPoint.Open);
                _store = new LedgerStore(_connectionString, _plans, View, _hooks);
            }
            catch (Exception ex)
            {
                // No database: every caller gets the error instead of waiting forever.
                _logger.LogError(ex, "Ingest writer could not open the database.");
                _queue.Writer.TryComplete(ex);
                foreach (var item in batch) item.Fail(ex);
                while (_queue.Reader.TryRead(out var waiting))
                {
                    Interlocked.Decrement(ref _queued);
                    waiting.Fail(ex);
                }
                lock (_startGate) _loop = null;
                throw;
            }
        }
        RunBatch(_store, batch);
    }

    private void RunBatch(LedgerStore store, List<WriterItem> batch)
    {
        try
        {
            RunInTransaction(store, batch);
            foreach (var item in batch) item.Complete();
            return;
        }
        catch (Exception ex) when (batch.Count > 1)
        {
            // One bad item (or a cache made stale by another writer) must not fail its neighbours: retry one by one.
            _logger.LogWarning(ex, "Ingest batch of {Count} items failed; retrying them one by one.", batch.Count);
        }
        catch (Exception ex)
        {
            batch[0].Fail(ex);
            return;
        }
        foreach (var item in batch)
        {
            try
            {
                RunInTransaction(store, [item]);
                item.Complete();
            }
            catch (Exception ex)
            {
                _logger.LogError(ex, "Ingest work item failed.");
                item.Fail(ex);
            }
        }
    }

    private void RunInTransaction(LedgerStore store, List<WriterItem> items)
    {
        try
        {
            store.Begin(_clock.GetUtcNow().UtcDateTime);
            foreach (var item in items) item.Execute(store);
            store.Commit(items);
        }
        catch
        {
            store.Rollback();
            throw;
        }
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
            _store?.Dispose();
            _store = null;
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
