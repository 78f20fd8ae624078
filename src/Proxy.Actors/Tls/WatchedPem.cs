using System.Security.Cryptography.X509Certificates;

namespace Proxy.Actors.Tls;

/// <summary>
/// What PEM files hold, read again when their bytes change: an ACME client or a Kubernetes secret
/// swaps certificates under a running proxy, and new connections must get the new one without a
/// restart. The bytes are compared, not the timestamps: a symlinked secret swapped within the same
/// second, or a file copied with its old time, is still seen. A change that does not load (a key
/// written before its certificate, a broken file) keeps the last good value and is reported.
/// </summary>
/// <remarks>
/// Thread-safe. <see cref="Current"/> never touches the files: handshakes read it, and a file that
/// blocks (a FIFO, a hung mount) must never hold a handshake. The files are looked at by
/// <see cref="Refresh"/>, called by this object's own timer (when given an interval) or by its owner;
/// each read ends within five seconds (<see cref="PemFiles"/>).
/// </remarks>
public sealed class WatchedPem<T> : IDisposable
    where T : class
{
    private readonly (string File, bool IsKey)[] _files;
    private readonly Func<byte[][], T> _parse;
    private readonly Lock _gate = new();
    private readonly Timer? _timer;
    private byte[][] _bytes;
    private volatile T _current;
    private int _refreshing;

    /// <summary>
    /// Reads the files now; throws <see cref="PemFileException"/> when they cannot be used. With
    /// <paramref name="checkEvery"/>, a timer looks at them that often and tells
    /// <see cref="Changed"/> of each renewal, each new problem and each recovery.
    /// </summary>
    public WatchedPem(IReadOnlyList<(string File, bool IsKey)> files, Func<byte[][], T> parse, TimeSpan? checkEvery = null)
    {
        _files = files.ToArray();
        _parse = parse;
        _bytes = ReadAll();
        _current = parse(_bytes);
        if (checkEvery is { } interval)
        {
            _timer = new Timer(static state => ((WatchedPem<T>)state!).Tick(), this, interval, interval);
        }
    }

    /// <summary>The value of the files as last read well.</summary>
    public T Current => _current;

    /// <summary>Why the files' latest change could not be used (null when the current value is their latest).</summary>
    public string? Problem { get; private set; }

    /// <summary>Hears what the timer's looks find (set it before the first tick matters; a look in progress may miss it).</summary>
    public Action<Change>? Changed { get; set; }

    /// <summary>Looks at the files now. Never throws.</summary>
    public Change Refresh()
    {
        lock (_gate)
        {
            byte[][] bytes;
            try
            {
                bytes = ReadAll();
            }
            catch (PemFileException ex)
            {
                return Report(ex.Message);
            }

            if (bytes.Length == _bytes.Length && bytes.Zip(_bytes).All(pair => pair.First.AsSpan().SequenceEqual(pair.Second)))
            {
                // The last good bytes again (a broken change undone): nothing new to serve, but the problem is over.
                if (Problem is not null)
                {
                    Problem = null;
                    return new Change(false, null, false, Recovered: true);
                }

                return Change.None;
            }

            try
            {
                _current = _parse(bytes);
                _bytes = bytes;
                Problem = null;
                return new Change(true, null, false);
            }
            catch (PemFileException ex)
            {
                // Not remembered as read: the next look tries again (the other file may be on its way).
                return Report(ex.Message);
            }
        }
    }

    public void Dispose() => _timer?.Dispose();

    private void Tick()
    {
        // One look at a time: a read stuck on a FIFO is waited for by the next look, not joined by another.
        if (Interlocked.Exchange(ref _refreshing, 1) == 1)
        {
            return;
        }

        try
        {
            var change = Refresh();
            if (change.Reloaded || change.Recovered || (change.Problem is not null && !change.Repeated))
            {
                Changed?.Invoke(change);
            }
        }
        catch (Exception)
        {
            // A listener's own failure must not end the watching.
        }
        finally
        {
            Volatile.Write(ref _refreshing, 0);
        }
    }

    private byte[][] ReadAll() => _files.Select(f => PemFiles.Read(f.File, f.IsKey)).ToArray();

    private Change Report(string problem)
    {
        var repeated = problem == Problem;
        Problem = problem;
        return new Change(false, problem, repeated);
    }

    /// <summary>
    /// What a look found: a new value (<see cref="Reloaded"/>), a problem (said before or new), the
    /// files whole again after a problem without a new value (<see cref="Recovered"/>), or nothing.
    /// </summary>
    public sealed record Change(bool Reloaded, string? Problem, bool Repeated, bool Recovered = false)
    {
        public static Change None { get; } = new(false, null, false);
    }
}

/// <summary>The watched PEM files of a certificate and its key.</summary>
public static class WatchedCertificate
{
    public static WatchedPem<CertificateWithChain> Open(string certificateFile, string? keyFile, TimeSpan? checkEvery = null) =>
        new(keyFile is null ? [(certificateFile, false)] : [(certificateFile, false), (keyFile, true)],
            bytes => PemFiles.ParseCertificate(certificateFile, bytes[0], keyFile, keyFile is null ? null : bytes[1]),
            checkEvery);
}

/// <summary>A watched PEM bundle of CA certificates.</summary>
public static class WatchedBundle
{
    public static WatchedPem<X509Certificate2Collection> Open(string file, TimeSpan? checkEvery = null) =>
        new([(file, false)], bytes => PemFiles.ParseBundle(file, bytes[0]), checkEvery);
}
