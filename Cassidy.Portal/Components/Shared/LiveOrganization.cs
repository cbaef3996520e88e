using Cassidy.Portal.Ledger;

namespace Cassidy.Portal.Components.Shared;

/// <summary>
/// Keeps a component in step with an organization: after a commit of the ledger's writer touching it (usage, a plan change,
/// a package) or a change of its name, <c>onChange</c> runs — at most once per <c>every</c>, however many commits came
/// (under load the writer commits hundreds of times a second). Dispose to stop.
/// </summary>
public sealed class LiveOrganization : IDisposable
{
    private readonly BalanceView _view;
    private readonly int _organizationId;
    private readonly Func<Task> _onChange;
    private readonly TimeSpan _every;
    private int _pending;
    private volatile bool _disposed;

    private LiveOrganization(BalanceView view, int organizationId, Func<Task> onChange, TimeSpan every)
    {
        _view = view;
        _organizationId = organizationId;
        _onChange = onChange;
        _every = every;
        view.Published += OnPublished;
    }

    public static LiveOrganization Watch(CreditLedger ledger, int organizationId, Func<Task> onChange, TimeSpan? every = null) =>
        new(ledger.View, organizationId, onChange, every ?? TimeSpan.FromSeconds(1));

    private void OnPublished(int organizationId)
    {
        // Runs on the writer's thread: only take note, the work happens later on the thread pool.
        if (organizationId != _organizationId || _disposed || Interlocked.Exchange(ref _pending, 1) == 1) return;
        _ = RunLaterAsync();
    }

    private async Task RunLaterAsync()
    {
        await Task.Delay(_every);
        Volatile.Write(ref _pending, 0);
        if (_disposed) return;
        try { await _onChange(); }
        catch (ObjectDisposedException) { } // the circuit went away meanwhile
    }

    public void Dispose()
    {
        _disposed = true;
        _view.Published -= OnPublished;
    }
}
