using BenchmarkDotNet.Attributes;
using Proxy.Actors.Weighting;

namespace Proxy.Benchmarks;

/// <summary>What every request pays to choose a node, and what a redispatch pays to choose another.</summary>
[MemoryDiagnoser]
public class NodeSelectionBenchmarks
{
    private NodeBalancer _balancer = null!;
    private int[] _tried = null!;

    [Params(2, 16)]
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
}
