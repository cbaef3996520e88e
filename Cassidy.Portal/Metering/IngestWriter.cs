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
    private readonly Lock _startGate = new();
    private Task? _loop;

    public CreditView View { get; }

    public IngestWriter(string connectionString, PlanCatalog plans, CreditView view, TimeProvider clock, ILogger logger)
    {
        _connectionString = connectionString;
        _plans = plans;
        View = view;
        _clock = clock;
        _logger = logger;
    }

    /// <summary>Runs <paramref name="work"/> on the writer, inside the next transaction; completes after the commit.</summary>
    internal Task<T> RunAsync<T>(Func<LedgerStore, T> work, int weight = 1)
    {
        var item = new WriterItem<T>(work, weight);
        Enqueue(item);
        return item.Task;
    }

    private void Enqueue(WriterItem item)
    {
        EnsureStarted();
        if (!_queue.Writer.TryWrite(item)) throw new ObjectDisposedException(nameof(IngestWriter));
    }

    private void EnsureStarted()
    {
        if (_loop is not null) return;
        lock (_startGate)
            _loop ??= Task.Factory.StartNew(Loop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    private async Task Loop()
    {
        LedgerStore store;
        try
        {
            store = new LedgerStore(_connectionString, _plans, View);
        }
        catch (Exception ex)
        {
            // No database: every caller gets the error instead of waiting forever.
            _logger.LogError(ex, "Ingest writer could not open the database.");
            _queue.Writer.TryComplete(ex);
            while (_queue.Reader.TryRead(out var waiting)) waiting.Fail(ex);
            lock (_startGate) _loop = null;
            throw;
        }
        using var _ = store;
        var batch = new List<WriterItem>();
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            var weight = 0;
            while (weight < MaxBatchWeight && reader.TryRead(out var item))
            {
                batch.Add(item);
                weight += item.Weight;
            }
            RunBatch(store, batch);
        }
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
            store.Commit();
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
    }

    internal abstract class WriterItem(int weight)
    {
        public int Weight { get; } = weight;
        public abstract void Execute(LedgerStore store);
        public abstract void Complete();
        public abstract void Fail(Exception error);
    }

    private sealed class WriterItem<T>(Func<LedgerStore, T> work, int weight) : WriterItem(weight)
    {
        private readonly TaskCompletionSource<T> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T _result = default!;

        public Task<T> Task => _done.Task;
        public override void Execute(LedgerStore store) => _result = work(store);
        public override void Complete() => _done.TrySetResult(_result);
        public override void Fail(Exception error) => _done.TrySetException(error);
    }
}
