using Bunit;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;

namespace Cassidy.Portal.Tests.Infrastructure;

/// <summary>
/// bUnit with MudBlazor's services and loose JS interop. xUnit v2 only calls Dispose(), and MudBlazor registers
/// services that are only IAsyncDisposable, so disposal goes through IAsyncLifetime.
/// </summary>
public abstract class MudTestContext : BunitContext, IAsyncLifetime
{
    protected MudTestContext()
    {
        Services.AddMudServices();
        JSInterop.Mode = JSRuntimeMode.Loose;
    }

    public virtual Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync()
    {
        await base.DisposeAsync();
        await DisposeResourcesAsync();
    }

    /// <summary>Releases what a test class set up beyond the bUnit context (databases, temp folders).</summary>
    public virtual Task DisposeResourcesAsync() => Task.CompletedTask;
}
