using Cassidy.Portal.Ledger;

namespace Cassidy.Portal.Simulation;

/// <summary>The process died here: nothing after this point runs, and nothing uncommitted survives.</summary>
internal sealed class SimulatedCrash(WriterPoint point) : Exception($"simulated crash at {point}")
{
    public WriterPoint Point { get; } = point;
}

/// <summary>A transient failure (a full disk, an I/O error): the process lives on and must recover.</summary>
internal sealed class SimulatedFault(WriterPoint point) : IOException($"simulated fault at {point}")
{
    public WriterPoint Point { get; } = point;
}

/// <summary>
/// The simulation's side of <see cref="IWriterHooks"/>: crashes and transient faults armed at a point (after a number of
/// passes through it), and every commit handed to the simulation. After a crash every point throws again, as a dead
/// process runs nothing.
/// </summary>
internal sealed class SimulationHooks(Action<IReadOnlyList<WriterItemInfo>, IReadOnlyList<int>> committed) : IWriterHooks
{
    private (WriterPoint Point, int Skip, bool Crash)? _armed;

    public bool Crashed { get; private set; }
    public WriterPoint? CrashedAt { get; private set; }
    /// <summary>Faults and crashes thrown since the simulation last looked (it resets the count).</summary>
    public int Injected { get; set; }
    public bool IsArmed => _armed is not null;

    public void ArmCrash(WriterPoint point, int skip) => _armed = (point, skip, true);

    public void ArmFault(WriterPoint point, int skip) => _armed = (point, skip, false);

    /// <summary>A new process: nothing armed, nothing crashed.</summary>
    public void Reset()
    {
        _armed = null;
        Crashed = false;
        CrashedAt = null;
    }

    public void At(WriterPoint point)
    {
        if (Crashed) throw new SimulatedCrash(point);
        if (_armed is not { } armed || armed.Point != point) return;
        if (armed.Skip > 0)
        {
            _armed = armed with { Skip = armed.Skip - 1 };
            return;
        }
        _armed = null;
        Injected++;
        if (!armed.Crash) throw new SimulatedFault(point);
        Crashed = true;
        CrashedAt = point;
        throw new SimulatedCrash(point);
    }

    public void Committed(IReadOnlyList<WriterItemInfo> items, IReadOnlyList<int> organizations) => committed(items, organizations);
}
