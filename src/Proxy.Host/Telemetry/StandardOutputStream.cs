using System.Runtime.InteropServices;
using Proxy.Host.Hosting;

namespace Proxy.Host.Telemetry;

/// <summary>
/// Standard output for the access log, written with <c>write(2)</c> on descriptor 1 so that every
/// failure is an <see cref="IOException"/> the log counts. .NET's console stream reports a write
/// to a pipe whose reader has gone (EPIPE) as done, so lines sent to a log collector that exited
/// vanished uncounted.
/// </summary>
internal sealed class StandardOutputStream : Stream
{
    private const int Descriptor = 1;
    private const int SeekCurrent = 1;
    private const short PollOut = 4;
    private const int Interrupted = 4; // EINTR
    private const int WouldBlock = 11; // EAGAIN on Linux

    private StandardOutputStream()
    {
    }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>
    /// This stream over a pipe, a socket or a terminal. Over a regular file (or off glibc Linux) the
    /// console stream: a file has no reader to lose, and sharing its offset with the console
    /// logger's writes keeps both sets of lines whole (a stream with an offset of its own, as
    /// <see cref="FileStream"/> keeps, would write over the other's).
    /// </summary>
    public static Stream Open()
    {
        if (!OperatingSystem.IsLinux())
        {
            return Console.OpenStandardOutput();
        }

        try
        {
            return SeekDescriptor(Descriptor, 0, SeekCurrent) >= 0 ? Console.OpenStandardOutput() : new StandardOutputStream();
        }
        catch (DllNotFoundException)
        {
            // musl: no glibc to call.
            return Console.OpenStandardOutput();
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        // Under System.Console's lock, as its own stream writes: a write larger than the pipe's
        // atomic size (4 KiB; a batch is up to 64 KiB) is done in parts as the reader makes room,
        // and a line of the proxy's own log (Serilog's console sink, through Console.Out) would
        // land between two of them, cutting an access-log line in two.
        lock (Console.Out)
        {
            WriteAll(buffer);
        }
    }

    private static void WriteAll(ReadOnlySpan<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var written = WriteDescriptor(Descriptor, ref MemoryMarshal.GetReference(buffer), (nuint)buffer.Length);
            if (written >= 0)
            {
                buffer = buffer[(int)written..];
                continue;
            }

            var error = Marshal.GetLastPInvokeError();
            if (error == WouldBlock)
            {
                // A descriptor another process set non-blocking: wait until the pipe has room, as a
                // blocking write would (this is the access log's own thread, no request waits on it).
                var poll = new PollDescriptor { Descriptor = Descriptor, Events = PollOut };
                _ = Poll(ref poll, 1, -1);
            }
            else if (error != Interrupted)
            {
                throw new IOException(Marshal.GetPInvokeErrorMessage(error), error);
            }
        }
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    [StructLayout(LayoutKind.Sequential)]
    private struct PollDescriptor
    {
        public int Descriptor;
        public short Events;
        public short Returned;
    }

    // DllImport: blittable calls need no marshalling code, nor the unsafe blocks LibraryImport asks for.
    [DllImport(Glibc.Library, EntryPoint = "write", SetLastError = true)]
    private static extern nint WriteDescriptor(int descriptor, ref byte buffer, nuint count);

    [DllImport(Glibc.Library, EntryPoint = "lseek", SetLastError = true)]
    private static extern long SeekDescriptor(int descriptor, long offset, int whence);

    [DllImport(Glibc.Library, EntryPoint = "poll", SetLastError = true)]
    private static extern int Poll(ref PollDescriptor descriptors, nuint count, int timeout);
}
