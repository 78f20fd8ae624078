namespace Proxy.Actors.Requests;

/// <summary>
/// A client request as the proxy forwards it: headers already stripped of hop-by-hop fields and
/// carrying the X-Forwarded-* fields, and a body that can be replayed on redispatch or not.
/// </summary>
public sealed record ProxyRequest(
    long Id,
    string Method,
    string PathAndQuery,
    IReadOnlyList<KeyValuePair<string, string>> Headers,
    RequestBody Body,
    CancellationToken ClientAborted)
{
    /// <summary>Idempotent methods (RFC 9110 section 9.2.2): safe to send again after a failure.</summary>
    public bool IsIdempotent { get; } = Method is "GET" or "HEAD" or "OPTIONS" or "TRACE" or "PUT" or "DELETE";

    /// <summary>The request's place in its trace (ADR 0019); the default when tracing is off.</summary>
    public Telemetry.RequestTrace Trace { get; init; }
}

/// <summary>A request body: none, buffered (replayable), or streamed once from the client.</summary>
public abstract record RequestBody
{
    /// <summary>True when the body can be sent to another node after a try.</summary>
    public abstract bool CanReplay { get; }

    public static RequestBody None { get; } = new NoBody();

    private sealed record NoBody : RequestBody
    {
        public override bool CanReplay => true;
    }
}

/// <summary>A body read whole before the first try; sent again as is on redispatch.</summary>
public sealed record BufferedBody(ReadOnlyMemory<byte> Content) : RequestBody
{
    public override bool CanReplay => true;
}

/// <summary>
/// A body too large to buffer: it streams to the first node. It can be replayed only while no
/// byte of it has been read, i.e. when the try failed before reaching the node.
/// </summary>
public sealed record StreamedBody : RequestBody
{
    private readonly OnceReadStream _stream;

    public StreamedBody(Stream source, long? length)
    {
        _stream = new OnceReadStream(source);
        Length = length;
    }

    public long? Length { get; }

    public override bool CanReplay => !_stream.WasRead;

    /// <summary>The client's body; disposing it leaves the client's stream open.</summary>
    public Stream Stream => _stream;

    /// <summary>Why reading the client's body failed (too large, cut off, too slow), if it did.</summary>
    public Exception? ReadFailure => _stream.ReadFailure;

    /// <summary>True once the client's body has been read to its end.</summary>
    public bool Finished => _stream.Finished;

    private sealed class OnceReadStream(Stream inner) : Stream
    {
        private int _wasRead;
        private Exception? _readFailure;
        private int _finished;

        public bool WasRead => Volatile.Read(ref _wasRead) == 1;

        public Exception? ReadFailure => Volatile.Read(ref _readFailure);

        public bool Finished => Volatile.Read(ref _finished) == 1;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            Volatile.Write(ref _wasRead, 1);
            try
            {
                return Ended(inner.Read(buffer, offset, count));
            }
            catch (Exception ex)
            {
                Volatile.Write(ref _readFailure, ex);
                throw;
            }
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Volatile.Write(ref _wasRead, 1);
            try
            {
                return Ended(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // The client's side failed (too large, cut off, too slow): not the node's fault.
                Volatile.Write(ref _readFailure, ex);
                throw;
            }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        private int Ended(int read)
        {
            if (read == 0)
            {
                Volatile.Write(ref _finished, 1);
            }

            return read;
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        // The client's stream belongs to the server; a try must not close it.
        protected override void Dispose(bool disposing)
        {
        }
    }
}
