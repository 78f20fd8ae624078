using System.Runtime.InteropServices;
using Proxy.Host.Hosting;

namespace Proxy.Host.Telemetry;

/// <summary>
/// The access log's destination written with <c>write(2)</c> on a file descriptor, so that every
/// failure is an <see cref="IOException"/> the log counts and a file is appended to as the kernel
/// appends. .NET's console stream reports a write to a pipe whose reader has gone (EPIPE) as done,
/// so lines sent to a log collector that exited vanished uncounted; and its
/// <see cref="FileMode.Append"/> keeps an offset of its own instead of <c>O_APPEND</c>, so after
/// logrotate's <c>copytruncate</c> the next lines landed at the old end, behind a run of NUL bytes.
/// </summary>
internal sealed class DescriptorStream : Stream
{
    private const int StandardOutput = 1;
    private const int SeekCurrent = 1;
    private const short PollOut = 4;
    private const int Interrupted = 4; // EINTR
    private const int WouldBlock = 11; // EAGAIN on Linux

    // open(2) flags on Linux: O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC.
    private const int AppendFlags = 0x1 | 0x40 | 0x400 | 0x80000;
    private const int CreatedPermissions = 0x1A4; // 0644, as nginx creates its logs

    private readonly int _descriptor;
    private bool _closed;

    private DescriptorStream(int descriptor) => _descriptor = descriptor;

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
    /// Standard output, over a pipe, a socket or a terminal. Over a regular file (or off glibc
    /// Linux) the console stream: a file has no reader to lose, and sharing its offset with the
    /// console logger's writes keeps both sets of lines whole (a stream with an offset of its own,
    /// as <see cref="FileStream"/> keeps, would write over the other's).
    /// </summary>
    public static Stream OpenStandardOutput()
    {
        if (!OperatingSystem.IsLinux())
        {
            return Console.OpenStandardOutput();
        }

        try
        {
            return SeekDescriptor(StandardOutput, 0, SeekCurrent) >= 0 ? Console.OpenStandardOutput() : new DescriptorStream(StandardOutput);
        }
        catch (DllNotFoundException)
        {
            // musl: no glibc to call.
            return Console.OpenStandardOutput();
        }
    }

    /// <summary>
    /// The file at <paramref name="path"/>, created if missing, every write appended at its end as
    /// it is then (<c>O_APPEND</c>, as nginx and HAProxy open their logs): a file truncated in place
    /// (logrotate's <c>copytruncate</c>) is written from its start again. Off glibc Linux, a
    /// <see cref="FileStream"/> in <see cref="FileMode.Append"/>.
    /// </summary>
    public static Stream OpenAppending(string path)
    {
        if (OperatingSystem.IsLinux())
        {
            try
            {
                var descriptor = OpenDescriptor(path, AppendFlags, CreatedPermissions);
                if (descriptor < 0)
                {
                    throw Failure(Marshal.GetLastPInvokeError());
                }

                return new DescriptorStream(descriptor);
            }
            catch (DllNotFoundException)
            {
                // musl: the stream below.
            }
        }

        return new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        if (_descriptor != StandardOutput)
        {
            WriteAll(_descriptor, buffer);
            return;
        }

        // Under System.Console's lock, as its own stream writes: a write larger than the pipe's
        // atomic size (4 KiB; a batch is up to 64 KiB) is done in parts as the reader makes room,
        // and a line of the proxy's own log (Serilog's console sink, through Console.Out) would
        // land between two of them, cutting an access-log line in two.
        lock (Console.Out)
        {
            WriteAll(_descriptor, buffer);
        }
    }

    private static void WriteAll(int descriptor, ReadOnlySpan<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var written = WriteDescriptor(descriptor, ref MemoryMarshal.GetReference(buffer), (nuint)buffer.Length);
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
                var poll = new PollDescriptor { Descriptor = descriptor, Events = PollOut };
                _ = Poll(ref poll, 1, -1);
            }
            else if (error != Interrupted)
            {
                throw Failure(error);
            }
        }
    }

    // The message is the system's ("No such file or directory"); the log's line names the file.
    private static IOException Failure(int error) => new(Marshal.GetPInvokeErrorMessage(error), error);

    public override void Flush()
    {
    }

    protected override void Dispose(bool disposing)
    {
        // Standard output is the process's, not this stream's.
        if (!_closed && _descriptor != StandardOutput)
        {
            _ = CloseDescriptor(_descriptor);
        }

        _closed = true;
        base.Dispose(disposing);
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

    // DllImport: blittable calls need no marshalling code, nor the unsafe blocks LibraryImport asks
    // for; the path is the one string, marshalled as UTF-8 as the file system takes it.
    [DllImport(Glibc.Library, EntryPoint = "open", SetLastError = true)]
    private static extern int OpenDescriptor([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, int mode);

    [DllImport(Glibc.Library, EntryPoint = "close", SetLastError = true)]
    private static extern int CloseDescriptor(int descriptor);

    [DllImport(Glibc.Library, EntryPoint = "write", SetLastError = true)]
    private static extern nint WriteDescriptor(int descriptor, ref byte buffer, nuint count);

    [DllImport(Glibc.Library, EntryPoint = "lseek", SetLastError = true)]
    private static extern long SeekDescriptor(int descriptor, long offset, int whence);

    [DllImport(Glibc.Library, EntryPoint = "poll", SetLastError = true)]
    private static extern int Poll(ref PollDescriptor descriptors, nuint count, int timeout);
}
