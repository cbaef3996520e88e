using System.Threading.Channels;

namespace Cassidy.Portal.Notifications;

/// <summary>
/// Tells a background sender (the e-mail outbox, the webhook dispatcher) to look now rather than at its next poll; any
/// number of wakes before it looks again collapse into one round.
/// </summary>
public sealed class WakeSignal(TimeProvider time)
{
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public void Wake() => _wake.Writer.TryWrite(true);

    /// <summary>Returns when woken, after <paramref name="timeout"/>, or throws when <paramref name="ct"/> is cancelled.</summary>
    public async Task WaitAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var timer = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, timer.Token);
        try
        {
            await _wake.Reader.ReadAsync(linked.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // The poll interval elapsed.
        }
    }
}
