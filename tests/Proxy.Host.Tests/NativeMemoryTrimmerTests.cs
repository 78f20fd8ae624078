using Proxy.Host.Hosting;
using Xunit;

namespace Proxy.Host.Tests;

public sealed class NativeMemoryTrimmerTests
{
    // The trimmer gives up quietly where it cannot call malloc_trim: this catches it resolving no
    // library on the glibc systems it is for (a plain "libc" did not, without the dev package).
    [Fact]
    public void On_linux_the_trimmer_reaches_glibcs_malloc_trim()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        Assert.True(NativeMemoryTrimmer.TryTrim(out var reason), reason);
    }
}
