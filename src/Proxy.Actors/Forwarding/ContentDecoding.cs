using System.Buffers;
using System.IO.Compression;

namespace Proxy.Actors.Forwarding;

/// <summary>
/// Decodes the buffered body of an answer with a <c>Content-Encoding</c> for judging only: the client
/// still receives the node's bytes. The decoded size is capped, so a decompression bomb is judged on
/// what fitted and never inflated whole.
/// </summary>
internal static class ContentDecoding
{
    public enum Coding
    {
        Identity,
        Gzip,
        Deflate,
        Brotli,
        Unknown,
    }

    public static Coding Of(HttpResponseMessage response)
    {
        if (!response.Content.Headers.NonValidated.TryGetValues("Content-Encoding", out var values))
        {
            return Coding.Identity;
        }

        if (values.Count != 1)
        {
            return Coding.Unknown; // Stacked codings: not something a node sends to be judged.
        }

        var value = values.ToString().AsSpan().Trim();
        return value switch
        {
            _ when value.IsEmpty || value.Equals("identity", StringComparison.OrdinalIgnoreCase) => Coding.Identity,
            _ when value.Equals("gzip", StringComparison.OrdinalIgnoreCase) || value.Equals("x-gzip", StringComparison.OrdinalIgnoreCase) => Coding.Gzip,
            _ when value.Equals("deflate", StringComparison.OrdinalIgnoreCase) => Coding.Deflate,
            _ when value.Equals("br", StringComparison.OrdinalIgnoreCase) => Coding.Brotli,
            _ => Coding.Unknown,
        };
    }

    /// <summary>
    /// Decodes <paramref name="encoded"/> into a rented buffer of at most <paramref name="limit"/>
    /// bytes. <paramref name="complete"/> is true when the whole encoded body was given and decoded
    /// within the limit. A broken or truncated stream yields what decoded before the break.
    /// </summary>
    public static byte[]? Decode(Coding coding, ReadOnlyMemory<byte> encoded, bool encodedComplete, int limit, out int length, out bool complete)
    {
        length = 0;
        complete = false;
        if (coding is Coding.Identity or Coding.Unknown || limit <= 0)
        {
            return null;
        }

        var rented = ArrayPool<byte>.Shared.Rent(Math.Min(limit, Math.Max(4096, encoded.Length * 4)));
        try
        {
            using var source = new ReadOnlyMemoryStream(encoded);
            using Stream decoder = coding switch
            {
                Coding.Gzip => new GZipStream(source, CompressionMode.Decompress),
                Coding.Brotli => new BrotliStream(source, CompressionMode.Decompress),
                _ => IsZlib(encoded.Span) ? new ZLibStream(source, CompressionMode.Decompress) : new DeflateStream(source, CompressionMode.Decompress),
            };

            Span<byte> probe = stackalloc byte[1];
            while (true)
            {
                if (length == rented.Length)
                {
                    if (rented.Length >= limit)
                    {
                        // Full: complete only if the stream has nothing more to give.
                        complete = encodedComplete && decoder.Read(probe) == 0 && (coding != Coding.Gzip || GzipTrailerMatches(encoded.Span, length));
                        return rented;
                    }

                    var larger = ArrayPool<byte>.Shared.Rent(Math.Min(limit, rented.Length * 2));
                    rented.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(rented);
                    rented = larger;
                }

                var n = decoder.Read(rented, length, Math.Min(rented.Length, limit) - length);
                if (n == 0)
                {
                    complete = encodedComplete && (coding != Coding.Gzip || GzipTrailerMatches(encoded.Span, length));
                    return rented;
                }

                length += n;
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or InvalidOperationException)
        {
            // Corrupt, cut short or not that coding at all (BrotliStream throws its own kinds): judge
            // what decoded, as an incomplete body. The node's bytes still go to the client.
            complete = false;
            return rented;
        }
    }

    // GZipStream ends quietly where a member's trailer is missing, and skips what follows the last
    // member; a client's decoder refuses both. The trailer's ISIZE (the decoded length, mod 2^32)
    // must be the last four bytes. A body of several members fails this too, and is not judged.
    private static bool GzipTrailerMatches(ReadOnlySpan<byte> encoded, int decodedLength) =>
        encoded.Length >= 18 && System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(encoded[^4..]) == (uint)decodedLength;

    // RFC 9110's "deflate" is the zlib format; some servers send raw deflate, as browsers tolerate.
    private static bool IsZlib(ReadOnlySpan<byte> data) =>
        data.Length >= 2 && (data[0] & 0x0F) == 8 && ((data[0] << 8) | data[1]) % 31 == 0;

    /// <summary>A read-only stream over memory, without copying it.</summary>
    private sealed class ReadOnlyMemoryStream(ReadOnlyMemory<byte> memory) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => memory.Length;

        public override long Position
        {
            get => _position;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = Math.Min(buffer.Length, memory.Length - _position);
            memory.Span.Slice(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
