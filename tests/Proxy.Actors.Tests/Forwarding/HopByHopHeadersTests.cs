using Proxy.Actors.Forwarding;
using Xunit;

namespace Proxy.Actors.Tests.Forwarding;

public sealed class HopByHopHeadersTests
{
    [Theory]
    [InlineData("Connection")]
    [InlineData("keep-alive")]
    [InlineData("Transfer-Encoding")]
    [InlineData("TE")]
    [InlineData("Upgrade")]
    [InlineData("Proxy-Connection")]
    [InlineData("Trailer")]
    public void The_rfc_9110_connection_fields_are_hop_by_hop(string name) =>
        Assert.True(HopByHopHeaders.IsHopByHop(name, null));

    [Fact]
    public void Fields_named_in_the_connection_header_are_hop_by_hop()
    {
        var connection = HopByHopHeaders.NamedByConnection("keep-alive, X-Private,x-other");

        Assert.True(HopByHopHeaders.IsHopByHop("x-private", connection));
        Assert.True(HopByHopHeaders.IsHopByHop("X-Other", connection));
        Assert.False(HopByHopHeaders.IsHopByHop("X-Public", connection));
        Assert.False(HopByHopHeaders.IsHopByHop("Content-Type", null));
    }

    [Fact]
    public void Keep_alive_and_close_are_options_not_header_names() =>
        Assert.Null(HopByHopHeaders.NamedByConnection("keep-alive, Close ,"));
}
