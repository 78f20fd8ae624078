using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Akka.Actor;
using BenchmarkDotNet.Attributes;
using Proxy.Actors.Classification;

namespace Proxy.Benchmarks;

/// <summary>
/// The cost of judging one answer with the default XML-RPC chain, as a node pays it: a Classify
/// message to the node's rule actor, the regex over the buffered body, the Classified reply.
/// </summary>
[MemoryDiagnoser]
public class ClassifierChainBenchmarks
{
    private ActorSystem _system = null!;
    private IActorRef _rule = null!;
    private IActorRef _replies = null!;
    private Answer _answer = null!;

    [Params(200, 4 * 1024, 64 * 1024)]
    public int BodyBytes { get; set; }

    [Params(false, true)]
    public bool IsFault { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _system = ActorSystem.Create("bench", "akka.loglevel = WARNING");
        _rule = _system.ActorOf(ClassifierSpec.DefaultChain[0].Props);
        _replies = _system.ActorOf(Props.Create(() => new ReplyCollector()));
        _answer = new Answer(Body(BodyBytes, IsFault));
    }

    [GlobalCleanup]
    public void Cleanup() => _system.Terminate().Wait();

    [Benchmark(Description = "classify one answer through the rule actor")]
    public Task<ClassifierActor.Classified> Classify()
    {
        var done = new TaskCompletionSource<ClassifierActor.Classified>(TaskCreationOptions.RunContinuationsAsynchronously);
        _rule.Tell(new ClassifierActor.Classify(_answer, [], done), _replies);
        return done.Task;
    }

    // An XML-RPC answer of about the given size: a success padded with a long string, or the fault.
    private static byte[] Body(int size, bool fault)
    {
        var head = fault
            ? "<?xml version=\"1.0\"?><methodResponse><fault><value><struct><member><name>faultCode</name><value><i4>1007</i4></value></member><member><name>faultString</name><value><string>"
            : "<?xml version=\"1.0\"?><methodResponse><params><param><value><string>";
        var tail = fault ? "</string></value></member></struct></value></fault></methodResponse>" : "</string></value></param></params></methodResponse>";
        var padding = new string('x', Math.Max(0, size - head.Length - tail.Length));
        return Encoding.UTF8.GetBytes(head + padding + tail);
    }

    private sealed class ReplyCollector : ReceiveActor
    {
        public ReplyCollector() =>
            Receive<ClassifierActor.Classified>(c => ((TaskCompletionSource<ClassifierActor.Classified>)c.Ticket).SetResult(c));
    }

    private sealed class Answer(byte[] body) : IAnswerView
    {
        private static readonly HttpResponseMessage Response = new(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };

        public int Status => 200;

        public HttpResponseHeaders Headers => Response.Headers;

        public HttpContentHeaders ContentHeaders => Response.Content.Headers;

        public ReadOnlyMemory<byte> Buffered => body;

        public bool Complete => true;
    }
}
