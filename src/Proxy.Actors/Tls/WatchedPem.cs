namespace Proxy.Actors.Tls;

/// <summary>
/// What PEM files hold, read again when their bytes change: an ACME client or a Kubernetes secret
/// swaps certificates under a running proxy, and new connections must get the new one without a
/// restart. The bytes are compared, not the timestamps: a symlinked secret swapped within the same
/// second, or a file copied with its old time, is still seen. A change that does not load (a key
/// written before its certificate, a broken file) keeps the last good value and is reported.
/// </summary>
/// <remarks>Thread-safe: handshakes on any thread read <see cref="Current"/>.</remarks>
public sealed class WatchedPem<T>
    where T : class
{
    private readonly (string File, bool IsKey)[] _files;
    private readonly Func<byte[][], T> _parse;
    private readonly Action<Change>? _changed;
    private readonly long _checkEveryMs;
    private readonly Lock _gate = new();
    private byte[][] _bytes;
    private volatile T _current;
    private long _nextCheck;

    /// <summary>
    /// Reads the files now; throws <see cref="PemFileException"/> when they cannot be used.
    /// <paramref name="changed"/> hears of each renewal and each new problem that a look at
    /// <see cref="Current"/> finds (a caller that calls <see cref="Refresh"/> itself reads its answer instead).
    /// <see cref="Current"/> looks at the files again once <paramref name="checkEvery"/> (a second by default) has passed.
    /// </summary>
    public WatchedPem(IReadOnlyList<(string File, bool IsKey)> files, Func<byte[][], T> parse, Action<Change>? changed = null, TimeSpan? checkEvery = null)
    {
        _files = files.ToArray();
        _parse = parse;
        _changed = changed;
        _checkEveryMs = (long)(checkEvery ?? TimeSpan.FromSeconds(1)).TotalMilliseconds;
        _bytes = ReadAll();
        _current = parse(_bytes);
        _nextCheck = Environment.TickCount64 + _checkEveryMs;
    }

    /// <summary>The value of the files as last read well; read again first when a second has passed since the last look.</summary>
    public T Current
    {
        get
        {
            if (Environment.TickCount64 >= Volatile.Read(ref _nextCheck))
            {
                var change = Refresh();
                if (change.Reloaded || (change.Problem is not null && !change.Repeated))
                {
                    _changed?.Invoke(change);
                }
            }

            return _current;
        }
    }

    /// <summary>Why the files' latest change could not be used (null when the current value is their latest).</summary>
    public string? Problem { get; private set; }

    /// <summary>Looks at the files now. Never throws.</summary>
    public Change Refresh()
    {
        lock (_gate)
        {
            Volatile.Write(ref _nextCheck, Environment.TickCount64 + _checkEveryMs);
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
                return Problem is null ? Change.None : new Change(false, Problem, Repeated: true);
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

    private byte[][] ReadAll() => _files.Select(f => PemFiles.Read(f.File, f.IsKey)).ToArray();

    private Change Report(string problem)
    {
        var repeated = problem == Problem;
        Problem = problem;
        return new Change(false, problem, repeated);
    }

    /// <summary>What a look found: a new value, a problem (said before or new), or nothing.</summary>
    public sealed record Change(bool Reloaded, string? Problem, bool Repeated)
    {
        public static Change None { get; } = new(false, null, false);
    }
}

/// <summary>The watched PEM files of a certificate and its key.</summary>
public static class WatchedCertificate
{
    public static WatchedPem<CertificateWithChain> Open(string certificateFile, string? keyFile, Action<WatchedPem<CertificateWithChain>.Change>? changed = null) =>
        new(keyFile is null ? [(certificateFile, false)] : [(certificateFile, false), (keyFile, true)],
            bytes => PemFiles.ParseCertificate(certificateFile, bytes[0], keyFile, keyFile is null ? null : bytes[1]),
            changed);
}

/// <summary>A watched PEM bundle of CA certificates.</summary>
public static class WatchedBundle
{
    public static WatchedPem<System.Security.Cryptography.X509Certificates.X509Certificate2Collection> Open(
        string file, Action<WatchedPem<System.Security.Cryptography.X509Certificates.X509Certificate2Collection>.Change>? changed = null) =>
        new([(file, false)], bytes => PemFiles.ParseBundle(file, bytes[0]), changed);
}
