namespace Proxy.Actors.Forwarding;

/// <summary>
/// A connection of a node's unpooled route, used by one try as soon as it is made. SocketsHttpHandler
/// finishes a connect whose try was given up meanwhile and parks the connection unused; a node that
/// serves one connection at a time (Python's <c>xmlrpc.server</c>) then waits on it for a request that
/// never comes, and every later try queues behind it until the circuit opens (seen: a node wedged for
/// good after a pause). A connection nothing is written to within <see cref="UnusedFor"/> is closed.
/// </summary>
internal sealed class SingleTryConnection : Stream
{
    /// <summary>How long a made connection may wait for its try's first byte.</summary>
    public static readonly TimeSpan UnusedFor = TimeSpan.FromSeconds(1);

    private readonly Stream _inner;
    private readonly ITimer _unused;
    private int _written;

    public SingleTryConnection(Stream inner, TimeProvider time)
    {
        _inner = inner;
        _unused = time.CreateTimer(static state => ((SingleTryConnection)state!).CloseIfUnused(), this, UnusedFor, Timeout.InfiniteTimeSpan);
    }

    public override bool CanRead => _inner.CanRead;

    public override bool CanSeek => false;

    public override bool CanWrite => _inner.CanWrite;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);

    public override int Read(Span<byte> buffer) => _inner.Read(buffer);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        _inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _inner.ReadAsync(buffer, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count)
    {
        Used();
        _inner.Write(buffer, offset, count);
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        Used();
        _inner.Write(buffer);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Used();
        return _inner.WriteAsync(buffer, offset, count, cancellationToken);
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Used();
        return _inner.WriteAsync(buffer, cancellationToken);
    }

    public override void Flush() => _inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _unused.Dispose();
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await _unused.DisposeAsync().ConfigureAwait(false);
        await _inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }

    private void Used()
    {
        if (_written == 0 && Interlocked.Exchange(ref _written, 1) == 0)
        {
            _unused.Dispose();
        }
    }

    // The try's first write and this timer race for _written: whichever sets it decides.
    private void CloseIfUnused()
    {
        if (Interlocked.CompareExchange(ref _written, 1, 0) == 0)
        {
            _inner.Dispose();
        }
    }
}
