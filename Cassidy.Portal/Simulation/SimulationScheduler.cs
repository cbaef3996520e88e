namespace Cassidy.Portal.Simulation;

/// <summary>
/// The simulation's only thread of execution: every continuation of every simulated caller is posted here, and the
/// simulation runs them one at a time, choosing which with its seeded random stream. Together with the writer pumped
/// by hand (<see cref="Metering.LedgerWriter.Pump"/>) and a fake clock, a seed decides the whole interleaving, so a
/// failing run replays exactly.
/// </summary>
internal sealed class SimulationScheduler : SynchronizationContext
{
    private readonly List<(SendOrPostCallback Callback, object? State)> _ready = [];
    private readonly Thread _owner;

    public SimulationScheduler(Thread owner) => _owner = owner;

    /// <summary>Continuations that arrived from another thread: each one is a place where the run is not deterministic.</summary>
    public int ForeignPosts { get; private set; }

    public int Ready
    {
        get { lock (_ready) return _ready.Count; }
    }

    public override void Post(SendOrPostCallback d, object? state)
    {
        lock (_ready)
        {
            if (Thread.CurrentThread != _owner) ForeignPosts++;
            _ready.Add((d, state));
        }
    }

    public override void Send(SendOrPostCallback d, object? state) =>
        throw new NotSupportedException("The simulation never blocks on its own thread.");

    public override SynchronizationContext CreateCopy() => this;

    /// <summary>Runs one ready continuation, picked at random; false when none is ready.</summary>
    public bool RunOne(Random random)
    {
        (SendOrPostCallback Callback, object? State) next;
        lock (_ready)
        {
            if (_ready.Count == 0) return false;
            var index = random.Next(_ready.Count);
            next = _ready[index];
            _ready.RemoveAt(index);
        }
        next.Callback(next.State);
        return true;
    }

    /// <summary>A crash: whatever was about to run never does.</summary>
    public void Clear()
    {
        lock (_ready) _ready.Clear();
    }
}
