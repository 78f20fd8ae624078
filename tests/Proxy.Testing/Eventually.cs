using System.Diagnostics;

namespace Proxy.Testing;

/// <summary>
/// The one polling helper of the tests: runs an assertion until it stops throwing, and once the
/// time is up rethrows its last failure (so the test reports what was still wrong).
/// </summary>
public static class Eventually
{
    /// <summary>How long <see cref="AssertAsync"/> keeps trying when not told.</summary>
    public static readonly TimeSpan DefaultWithin = TimeSpan.FromSeconds(10);

    /// <summary>The pause between two tries when not told.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Runs <paramref name="assertion"/> every <paramref name="interval"/> (default 50 ms) until it
    /// completes without throwing; once <paramref name="within"/> (default 10 s) has passed, the
    /// failure of the last try is rethrown. An exception made by <see cref="GiveUp"/> is rethrown at
    /// once: for a wait that cannot succeed any more (the process waited for has exited).
    /// </summary>
    public static async Task AssertAsync(Func<Task> assertion, TimeSpan? within = null, TimeSpan? interval = null)
    {
        ArgumentNullException.ThrowIfNull(assertion);
        var limit = within ?? DefaultWithin;
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            try
            {
                await assertion().ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (ex is not GiveUpException && Stopwatch.GetElapsedTime(started) < limit)
            {
            }

            await Task.Delay(interval ?? DefaultInterval).ConfigureAwait(false);
        }
    }

    /// <summary>As <see cref="AssertAsync(Func{Task}, TimeSpan?, TimeSpan?)"/> for an assertion that does not await.</summary>
    public static Task AssertAsync(Action assertion, TimeSpan? within = null, TimeSpan? interval = null)
    {
        ArgumentNullException.ThrowIfNull(assertion);
        return AssertAsync(() =>
        {
            assertion();
            return Task.CompletedTask;
        }, within, interval);
    }

    /// <summary>An exception that ends <see cref="AssertAsync(Func{Task}, TimeSpan?, TimeSpan?)"/> at once, rethrown as is.</summary>
    public static Exception GiveUp(string message) => new GiveUpException(message);

    private sealed class GiveUpException(string message) : InvalidOperationException(message);
}
