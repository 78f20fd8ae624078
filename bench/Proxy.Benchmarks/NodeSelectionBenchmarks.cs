using BenchmarkDotNet.Attributes;
using Proxy.Actors.Weighting;

namespace Proxy.Benchmarks;

/// <summary>
/// What every request pays to choose a node, what a redispatch pays to choose another, and what a
/// weight change (a mark, a restore step, an operator's weight) pays to rebuild the table: with 500
/// and 2,000 nodes, the pool is large enough to use the weight line (WeightLine).
/// </summary>
[MemoryDiagnoser]
public class NodeSelectionBenchmarks
{
    private NodeBalancer _balancer = null!;
    private int[] _tried = null!;

    [Params(2, 16, 500, 2000)]
    public int Nodes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _balancer = new NodeBalancer(Enumerable.Repeat(128, Nodes).ToArray());
        _balancer.Publish(0, WeightSteps.Marked);
        _tried = [1];
    }

    [Benchmark(Description = "pick a node")]
    public int Pick() => _balancer.Pick();

    [Benchmark(Description = "pick a sibling (redispatch)")]
    public int PickSibling() => _balancer.Pick(_tried);

    [Benchmark(Description = "a node's weight changes (table rebuilt)")]
    public void WeightChanges()
    {
        _balancer.Publish(1, 97);
        _balancer.Publish(1, 128);
    }
}
