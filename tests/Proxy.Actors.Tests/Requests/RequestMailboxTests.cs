using Akka.Actor;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;
using Proxy.Actors.Requests;
using Xunit;

namespace Proxy.Actors.Tests.Requests;

public sealed class RequestMailboxTests
{
    [Fact]
    public void Messages_come_out_in_the_order_they_were_sent()
    {
        var queue = new RequestMailbox.SmallMessageQueue();
        for (var i = 0; i < 5; i++)
        {
            queue.Enqueue(ActorRefs.Nobody, new Envelope(i, ActorRefs.NoSender));
        }

        Assert.Equal(5, queue.Count);
        for (var i = 0; i < 5; i++)
        {
            Assert.True(queue.TryDequeue(out var envelope));
            Assert.Equal(i, envelope.Message);
        }

        Assert.False(queue.HasMessages);
    }

    [Fact]
    public void Messages_left_when_the_actor_stops_go_to_dead_letters()
    {
        var queue = new RequestMailbox.SmallMessageQueue();
        queue.Enqueue(ActorRefs.Nobody, new Envelope("late answer", ActorRefs.NoSender));
        var deadLetters = new UnboundedMessageQueue();

        queue.CleanUp(ActorRefs.Nobody, deadLetters);

        Assert.False(queue.HasMessages);
        Assert.True(deadLetters.TryDequeue(out var envelope));
        Assert.Equal("late answer", envelope.Message);
    }
}
