using System.Net;
using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Proxy.Actors.Forwarding;
using Proxy.Actors.Nodes;
using Proxy.Actors.Requests;
using Proxy.Actors.Weighting;
using Xunit;

namespace Proxy.Actors.Tests.Requests;

public sealed class RequestActorTests : TestKit
{
    private static readonly RequestSettings Settings = new(MaxRedispatch: 1, RetryAfter: TimeSpan.FromSeconds(30));

    private readonly TestProbe _a;
    private readonly TestProbe _b;
    private readonly NodeBalancer _balancer = new([1, 1]);

    public RequestActorTests()
        : base(RequestMailbox.DefaultConfig)
    {
        _a = CreateTestProbe("a");
        _b = CreateTestProbe("b");
        // a's launcher is never opened (no NodeActor behind it), so its tries come as Forwards, as b's do without one.
        _balancer.Attach(0, new NodeTarget(_a.Ref, "a", new NodeActor.TryLauncher()));
        _balancer.Attach(1, new NodeTarget(_b.Ref, "b"));
    }

    private static ProxyRequest Request(string method, RequestBody? body = null) =>
        new(1, method, "/x", [], body ?? new BufferedBody(new byte[] { 1, 2, 3 }), CancellationToken.None);

    private static UpstreamAnswer Answer() => new(new HttpResponseMessage(HttpStatusCode.OK), null, 0, complete: true, rest: null);

    // The RequestActor is a child of the test actor, which so receives its Finished.
    private (IActorRef Actor, Task<RequestOutcome> Outcome) Start(ProxyRequest request, RequestSettings? settings = null)
    {
        var actor = ChildActorOf(RequestActor.Props(settings ?? Settings, _balancer));
        return (actor, Dispatch(actor, request));
    }

    private static Task<RequestOutcome> Dispatch(IActorRef actor, ProxyRequest request)
    {
        var completion = new TaskCompletionSource<RequestOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        actor.Tell(new RequestSupervisor.Dispatch(request, completion));
        return completion.Task.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task An_answer_is_delivered_and_the_actor_then_takes_the_next_request_afresh()
    {
        var (actor, outcome) = Start(Request("GET"));

        await _a.ExpectMsgAsync<NodeActor.Forward>();
        _a.Reply(new Answered("a", Answer()));

        var delivered = Assert.IsType<Delivered>(await outcome);
        Assert.Equal([new Attempt("a", "answered")], delivered.Attempts);
        await ExpectMsgAsync<RequestActor.Finished>();
        await _b.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(50));

        // Idle: a stray outcome changes nothing. The next request starts with no attempts behind it.
        actor.Tell(new Overloaded("a", "stray"));
        var next = Dispatch(actor, Request("POST"));
        var forward = await _b.ExpectMsgAsync<NodeActor.Forward>();
        Assert.Equal("POST", forward.Request.Method);
        _b.Reply(new Answered("b", Answer()));
        Assert.Equal([new Attempt("b", "answered")], Assert.IsType<Delivered>(await next).Attempts);
        await ExpectMsgAsync<RequestActor.Finished>();
    }

    [Fact]
    public async Task A_request_handed_to_a_busy_actor_is_refused_and_the_first_goes_on()
    {
        var (actor, outcome) = Start(Request("GET"));
        await _a.ExpectMsgAsync<NodeActor.Forward>();

        var refused = Assert.IsType<Refused>(await Dispatch(actor, Request("GET")));
        Assert.Equal(502, refused.Status);

        _a.Reply(new Answered("a", Answer()));
        Assert.IsType<Delivered>(await outcome);
    }

    [Fact]
    public async Task An_overloaded_post_is_redispatched_to_the_sibling()
    {
        var (_, outcome) = Start(Request("POST"));

        var first = await _a.ExpectMsgAsync<NodeActor.Forward>();
        _a.Reply(new Overloaded("a", "xmlrpc-overload"));
        var second = await _b.ExpectMsgAsync<NodeActor.Forward>();
        _b.Reply(new Answered("b", Answer()));

        Assert.Same(first.Request, second.Request);
        var delivered = Assert.IsType<Delivered>(await outcome);
        Assert.Equal(["a:overloaded:xmlrpc-overload", "b:answered"], delivered.Attempts.Select(a => a.ToString()));
    }

    [Fact]
    public async Task When_both_nodes_are_overloaded_the_client_gets_503_with_retry_after()
    {
        var (_, outcome) = Start(Request("POST"));

        await _a.ExpectMsgAsync<NodeActor.Forward>();
        _a.Reply(new Overloaded("a", "r"));
        await _b.ExpectMsgAsync<NodeActor.Forward>();
        _b.Reply(new Overloaded("b", "r"));

        var refused = Assert.IsType<Refused>(await outcome);
        Assert.Equal(503, refused.Status);
        Assert.Equal(TimeSpan.FromSeconds(30), refused.RetryAfter);
    }

    [Fact]
    public async Task Redispatch_stops_at_the_configured_maximum()
    {
        var (_, outcome) = Start(Request("GET"), Settings with { MaxRedispatch = 0 });

        await _a.ExpectMsgAsync<NodeActor.Forward>();
        _a.Reply(new Overloaded("a", "r"));

        Assert.Equal(503, Assert.IsType<Refused>(await outcome).Status);
        await _b.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public async Task A_post_that_reached_a_failing_node_is_not_sent_again()
    {
        var (_, outcome) = Start(Request("POST"));

        await _a.ExpectMsgAsync<NodeActor.Forward>();
        _a.Reply(new Failed("a", FailureKind.Dropped, ReachedNode: true, "reset"));

        Assert.Equal(502, Assert.IsType<Refused>(await outcome).Status);
        await _b.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public async Task A_post_that_never_reached_the_node_is_redispatched()
    {
        var (_, outcome) = Start(Request("POST"));

        await _a.ExpectMsgAsync<NodeActor.Forward>();
        _a.Reply(new Failed("a", FailureKind.Refused, ReachedNode: false, "refused"));
        await _b.ExpectMsgAsync<NodeActor.Forward>();
        _b.Reply(new Answered("b", Answer()));

        Assert.IsType<Delivered>(await outcome);
    }

    [Fact]
    public async Task A_get_that_failed_after_reaching_the_node_is_redispatched()
    {
        var (_, outcome) = Start(Request("GET"));

        await _a.ExpectMsgAsync<NodeActor.Forward>();
        _a.Reply(new Failed("a", FailureKind.TimedOut, ReachedNode: true, "slow"));
        await _b.ExpectMsgAsync<NodeActor.Forward>();
        _b.Reply(new Failed("b", FailureKind.TimedOut, ReachedNode: true, "slow"));

        Assert.Equal(504, Assert.IsType<Refused>(await outcome).Status);
    }

    [Fact]
    public async Task A_streamed_body_already_sent_cannot_be_redispatched_even_on_overload()
    {
        var stream = new StreamedBody(new MemoryStream([1, 2, 3]), 3);
        Assert.Equal(1, await stream.Stream.ReadAsync(new byte[1]));
        var (_, outcome) = Start(Request("PUT", stream));

        await _a.ExpectMsgAsync<NodeActor.Forward>();
        _a.Reply(new Overloaded("a", "r"));

        Assert.Equal(503, Assert.IsType<Refused>(await outcome).Status);
        await _b.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public async Task A_request_actor_that_crashes_still_answers_the_client_once()
    {
        var (actor, outcome) = Start(Request("GET"));
        await _a.ExpectMsgAsync<NodeActor.Forward>();

        actor.Tell(PoisonPill.Instance);

        var refused = Assert.IsType<Refused>(await outcome);
        Assert.Equal(502, refused.Status);
    }

    [Fact]
    public async Task A_request_left_in_the_mailbox_of_a_stopped_actor_is_answered()
    {
        // What Akka does with the mailbox of an actor that stopped before reading all of it.
        var mailbox = new RequestMailbox.SmallMessageQueue();
        var deadLetters = new RequestMailbox.SmallMessageQueue();
        var completion = new TaskCompletionSource<RequestOutcome>();
        mailbox.Enqueue(TestActor, new Envelope(new RequestSupervisor.Dispatch(Request("GET"), completion), TestActor));

        mailbox.CleanUp(TestActor, deadLetters);

        Assert.Equal(502, Assert.IsType<Refused>(await completion.Task.WaitAsync(TimeSpan.FromSeconds(5))).Status);
        Assert.Equal(1, deadLetters.Count);
    }
}
