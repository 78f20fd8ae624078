using System.Diagnostics;
using Proxy.Actors.Nodes;
using Proxy.Actors.Telemetry;
using Xunit;

namespace Proxy.Actors.Tests.Telemetry;

public sealed class ProxyTracingTests
{
    private static readonly NodeSpanTags Node = NodeSpanTags.Of(new NodeSettings("n1", NodeAddress.Parse("http://10.0.0.5:8080/xmlrpc"), 128));

    [Fact]
    public void A_valid_traceparent_is_continued_with_the_clients_flags_and_state()
    {
        var request = ProxyTracing.StartRequest("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "congo=t61rcWkgMzE", "POST");

        var first = ProxyTracing.StartTry(request, "POST", Node, "/RPC2", 0);
        var second = ProxyTracing.StartTry(request, "POST", Node, "/RPC2", 1);

        Assert.Matches("^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$", first.TraceParent);
        Assert.Matches("^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$", second.TraceParent);
        Assert.NotEqual(first.TraceParent, second.TraceParent);
        Assert.DoesNotContain("00f067aa0ba902b7", first.TraceParent, StringComparison.Ordinal);
        Assert.Equal("congo=t61rcWkgMzE", request.Context.TraceState);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7")]
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01")]
    [InlineData("zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra")]
    [InlineData("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]
    [InlineData("00x4bf92f3577b34da6a3ce929d0e0e4736x00f067aa0ba902b7x01")]
    [InlineData("00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01")]
    public void Anything_else_starts_a_new_unsampled_trace_without_the_state(string? traceparent)
    {
        var request = ProxyTracing.StartRequest(traceparent, "congo=t61rcWkgMzE", "POST");

        var attempt = ProxyTracing.StartTry(request, "POST", Node, "/RPC2", 0);

        Assert.True(request.IsActive);
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-00$", attempt.TraceParent);
        Assert.DoesNotContain("4bf92f3577b34da6a3ce929d0e0e4736", attempt.TraceParent, StringComparison.Ordinal);
        Assert.Null(request.Context.TraceState);
    }

    [Fact]
    public void Flags_this_proxy_does_not_know_are_zeroed()
    {
        var request = ProxyTracing.StartRequest("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff", null, "POST");

        Assert.EndsWith("-01", ProxyTracing.StartTry(request, "POST", Node, "/", 0).TraceParent, StringComparison.Ordinal);
    }

    [Fact]
    public void A_later_version_is_read_by_its_first_four_fields()
    {
        var request = ProxyTracing.StartRequest("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-next", null, "POST");

        Assert.Matches("^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$", ProxyTracing.StartTry(request, "POST", Node, "/", 0).TraceParent);
    }

    [Fact]
    public void Tracing_off_sends_no_traceparent_of_its_own()
    {
        var attempt = ProxyTracing.StartTry(default, "POST", Node, "/RPC2", 0);

        Assert.Null(attempt.TraceParent);
        Assert.Null(attempt.Span);
    }

    [Fact]
    public void A_traceparent_is_the_w3c_form_of_a_context()
    {
        var context = new ActivityContext(
            ActivityTraceId.CreateFromString("4bf92f3577b34da6a3ce929d0e0e4736"), ActivitySpanId.CreateFromString("00f067aa0ba902b7"), ActivityTraceFlags.Recorded);

        Assert.Equal("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ProxyTracing.TraceParent(context));
        Assert.Equal("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", ProxyTracing.TraceParent(new ActivityContext(context.TraceId, context.SpanId, ActivityTraceFlags.None)));
    }

    [Fact]
    public void A_nodes_span_attributes_name_its_address()
    {
        Assert.Equal(new NodeSpanTags("n1", "10.0.0.5", 8080, "http://10.0.0.5:8080/xmlrpc"), Node);
        var unix = NodeSpanTags.Of(new NodeSettings("u", NodeAddress.Parse("unix:/run/node.sock"), 128));
        Assert.Equal("/run/node.sock", unix.ServerAddress);
        Assert.Null(unix.ServerPort);
    }
}
