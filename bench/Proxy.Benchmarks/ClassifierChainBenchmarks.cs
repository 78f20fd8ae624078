using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Akka.Actor;
using BenchmarkDotNet.Attributes;
using Proxy.Actors.Classification;

namespace Proxy.Benchmarks;

/// <summary>
/// The cost of judging one answer with an XML-RPC overload rule, as a node pays it: a Classify
/// message to the node's rule actor, the rule over the buffered body, the Classified reply. The
/// default <c>XmlRpcFault</c> rule against the founding pattern as a <c>BodyRegex</c> rule.
/// </summary>
[MemoryDiagnoser]
public class ClassifierChainBenchmarks
{
    private ActorSystem _system = null!;
    private IActorRef _rule = null!;
    private IActorRef _replies = null!;
    private Answer _answer = null!;

    [Params("XmlRpcFault", "BodyRegex")]
    public string Rule { get; set; } = "XmlRpcFault";

    [Params(200, 4 * 1024, 64 * 1024)]
    public int BodyBytes { get; set; }

    [Params(false, true)]
    public bool IsFault { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _system = ActorSystem.Create("bench", "akka.loglevel = WARNING");
        _rule = _system.ActorOf(Rule == "XmlRpcFault"
            ? ClassifierSpec.DefaultChain[0].Props
            : BodyRegexClassifier.Props("founding", Verdict.Overloaded, BodyRegexClassifier.Compile(ClassifierSpec.FoundingPattern)));
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
        private static readonly HttpResponseMessage Response = CreateResponse();

        public int Status => 200;

        public HttpResponseHeaders Headers => Response.Headers;

        public HttpContentHeaders ContentHeaders => Response.Content.Headers;

        public ReadOnlyMemory<byte> Buffered => body;

        public bool Complete => true;

        // As a node sends it: an XML-RPC answer says text/xml.
        private static HttpResponseMessage CreateResponse()
        {
            var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };
            response.Content.Headers.TryAddWithoutValidation("Content-Type", "text/xml");
            return response;
        }
    }
}
