using System.Globalization;
using Proxy.Host.Hosting;
using Proxy.Testing;
using Xunit;

namespace Proxy.Host.Tests;

// Each test runs the proxy as its own process: the policy is a property of the process's threads,
// and an in-process host would set it on the test runner's shared socket thread.
public sealed class SocketThreadSchedulingTests
{
    private const int SchedOther = 0;
    private const int SchedBatch = 3;

    [Fact]
    public async Task On_linux_the_proxys_socket_event_threads_run_under_sched_batch()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        await using var node = await TestNode.StartAsync("n1");
        await using var proxy = ProxyProcess.Start("--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={node.Address}");
        await proxy.WaitUntilServingAsync();
        await proxy.WaitForOutputAsync("Socket event threads scheduled as SCHED_BATCH: ");

        // One event thread per 30 cores, at least one.
        var policies = SocketThreadPolicies(proxy.Id);
        Assert.NotEmpty(policies);
        Assert.All(policies, policy => Assert.Equal(SchedBatch, policy));
        Assert.Contains(SchedOther, OtherThreadPolicies(proxy.Id));
        using var http = new HttpClient();
        Assert.Contains("n1", await http.GetStringAsync(new Uri(proxy.Client, "/who")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_kernels_default_is_kept_when_the_operator_turns_it_off()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        await using var node = await TestNode.StartAsync("n1");
        await using var proxy = ProxyProcess.Start(
            "--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={node.Address}", "--Proxy:Tuning:BatchScheduleSocketThreads=false");
        await proxy.WaitUntilServingAsync();
        await proxy.WaitForOutputAsync("keep the default scheduling: Proxy:Tuning:BatchScheduleSocketThreads is false");

        var policies = SocketThreadPolicies(proxy.Id);
        Assert.NotEmpty(policies);
        Assert.All(policies, policy => Assert.Equal(SchedOther, policy));
    }

    private static List<int> SocketThreadPolicies(int pid) => Policies(pid, name => name == SocketThreadScheduling.SocketThreadName);

    private static List<int> OtherThreadPolicies(int pid) => Policies(pid, name => name != SocketThreadScheduling.SocketThreadName);

    // The scheduling policy is field 41 of /proc/<pid>/task/<tid>/stat, counted after the
    // parenthesised thread name (which may hold spaces).
    private static List<int> Policies(int pid, Func<string, bool> named)
    {
        var policies = new List<int>();
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                if (!named(File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n')))
                {
                    continue;
                }

                var stat = File.ReadAllText(Path.Combine(task, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                policies.Add(int.Parse(fields[41 - 3], CultureInfo.InvariantCulture));
            }
            catch (IOException)
            {
                // the thread ended while being read
            }
        }

        return policies;
    }
}
