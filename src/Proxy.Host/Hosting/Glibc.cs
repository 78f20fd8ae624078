namespace Proxy.Host.Hosting;

/// <summary>
/// The C library the proxy calls into on Linux, by its soname (plain "libc" needs the dev package's
/// libc.so). Every call into it catches <see cref="DllNotFoundException"/> and
/// <see cref="EntryPointNotFoundException"/>: on musl (Alpine) the library is not there.
/// </summary>
internal static class Glibc
{
    public const string Library = "libc.so.6";
}
