using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Proxy.Actors.Classification;
using Proxy.Testing;
using Xunit;

namespace Proxy.Actors.Tests.Classification;

public sealed class ClassifierActorTests : TestKit
{
    private sealed class Answer : IAnswerView, IDisposable
    {
        private readonly HttpResponseMessage _response;

        public Answer(string body, int status = 200, bool complete = true, (string, string)? header = null, string? contentType = null)
            : this(Encoding.UTF8.GetBytes(body), status, complete, header, contentType)
        {
        }

        public Answer(byte[] body, int status = 200, bool complete = true, (string, string)? header = null, string? contentType = null)
        {
            _response = new HttpResponseMessage((HttpStatusCode)status) { Content = new ByteArrayContent([]) };
            if (header is var (name, value))
            {
                _response.Headers.TryAddWithoutValidation(name, value);
            }

            if (contentType is not null)
            {
                _response.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            }

            Buffered = body;
            Complete = complete;
        }

        public int Status => (int)_response.StatusCode;

        public HttpResponseHeaders Headers => _response.Headers;

        public HttpContentHeaders ContentHeaders => _response.Content.Headers;

        public ReadOnlyMemory<byte> Buffered { get; }

        public bool Complete { get; }

        public void Dispose() => _response.Dispose();
    }

    private async Task<(Verdict Verdict, string? Rule)> Classify(IReadOnlyList<Props> chain, Answer answer)
    {
        using (answer)
        {
            var actors = chain.Select(p => Sys.ActorOf(p)).ToArray();
            actors[0].Tell(new ClassifierActor.Classify(answer, actors.Skip(1).ToArray(), "ticket"));
            var classified = await ExpectMsgAsync<ClassifierActor.Classified>();
            Assert.Equal("ticket", classified.Ticket);
            return (classified.Verdict, classified.Rule);
        }
    }

    private static Props XmlRpcRule() => ClassifierSpec.DefaultChain[0].Props;

    [Fact]
    public async Task The_default_rule_finds_the_xmlrpc_overload_fault_across_lines()
    {
        Assert.Equal((Verdict.Overloaded, "xmlrpc-overload"), await Classify([XmlRpcRule()], new Answer(TestNode.OverloadFault)));
    }

    [Fact]
    public async Task The_default_rule_delivers_successes_and_other_faults()
    {
        Assert.Equal((Verdict.Deliver, null), await Classify([XmlRpcRule()], new Answer("<methodResponse><params><param><value><i4>1007</i4></value></param></params></methodResponse>")));
        Assert.Equal((Verdict.Deliver, null), await Classify([XmlRpcRule()], new Answer(TestNode.OverloadFault.Replace("1007", "1008", StringComparison.Ordinal))));
        Assert.Equal((Verdict.Deliver, null), await Classify([XmlRpcRule()], new Answer("")));
    }

    [Fact]
    public async Task The_first_matching_rule_decides()
    {
        Props[] chain =
        [
            StatusClassifier.Props("gateway", Verdict.Failed, [502, 503]),
            BodyRegexClassifier.Props("busy", Verdict.Overloaded, BodyRegexClassifier.Compile("busy")),
        ];

        Assert.Equal((Verdict.Failed, "gateway"), await Classify(chain, new Answer("busy", 503)));
        Assert.Equal((Verdict.Overloaded, "busy"), await Classify(chain, new Answer("busy")));
        Assert.Equal((Verdict.Deliver, null), await Classify(chain, new Answer("fine")));
    }

    [Fact]
    public async Task A_header_rule_matches_the_header_value()
    {
        Props[] chain = [HeaderClassifier.Props("shed", Verdict.Overloaded, "X-Load", BodyRegexClassifier.Compile("^shed"))];

        Assert.Equal((Verdict.Overloaded, "shed"), await Classify(chain, new Answer("", header: ("X-Load", "shed; retry"))));
        Assert.Equal((Verdict.Deliver, null), await Classify(chain, new Answer("", header: ("X-Load", "ok"))));
        Assert.Equal((Verdict.Deliver, null), await Classify(chain, new Answer("")));
    }

    [Fact]
    public async Task A_pattern_that_needs_backtracking_times_out_delivers_the_answer_and_is_counted()
    {
        // The backreference keeps this pattern on the backtracking engine.
        var pattern = BodyRegexClassifier.Compile(@"(a+)+\1b", TimeSpan.FromMilliseconds(10));
        Assert.True(BodyRegexClassifier.Backtracks(pattern));
        var rule = Sys.ActorOf(BodyRegexClassifier.Props("evil", Verdict.Overloaded, pattern));
        using var answer = new Answer(new string('a', 5000) + "c");

        rule.Tell(new ClassifierActor.Classify(answer, [], 1));

        Assert.Equal(Verdict.Deliver, (await ExpectMsgAsync<ClassifierActor.Classified>()).Verdict);
        var state = await rule.Ask<ClassifierActor.ClassifierState>(ClassifierActor.GetClassifierState.Instance);
        Assert.Equal(1, state.Timeouts);
        Assert.Equal(0, state.Faults);
        Assert.Equal(1, state.Evaluated);
        Assert.Equal(0, state.Matched);
    }

    [Fact]
    public async Task An_answer_that_waited_too_long_for_a_rule_that_can_be_driven_slow_passes_it_unjudged_and_is_counted()
    {
        var rule = Sys.ActorOf(BodyRegexClassifier.Props("busy", Verdict.Overloaded, BodyRegexClassifier.Compile(@"(fault)Code.+1007(?<=7)")));
        using var answer = new Answer(TestNode.OverloadFault, contentType: "text/xml");
        var sentLongAgo = System.Diagnostics.Stopwatch.GetTimestamp() - (long)(2 * ClassifierActor.MaxQueueWait.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);

        rule.Tell(new ClassifierActor.Classify(answer, [], 1, sentLongAgo));
        rule.Tell(new ClassifierActor.Classify(answer, [], 2, System.Diagnostics.Stopwatch.GetTimestamp()));

        Assert.Equal(Verdict.Deliver, (await ExpectMsgAsync<ClassifierActor.Classified>()).Verdict);
        Assert.Equal(Verdict.Overloaded, (await ExpectMsgAsync<ClassifierActor.Classified>()).Verdict);
        var state = await rule.Ask<ClassifierActor.ClassifierState>(ClassifierActor.GetClassifierState.Instance);
        Assert.Equal((1L, 1L, 1L), (state.Skipped, state.Evaluated, state.Matched));
    }

    [Fact]
    public async Task The_default_rule_judges_an_answer_however_long_it_waited()
    {
        var rule = Sys.ActorOf(XmlRpcRule());
        using var answer = new Answer(TestNode.OverloadFault, contentType: "text/xml");
        var sentLongAgo = System.Diagnostics.Stopwatch.GetTimestamp() - (long)(2 * ClassifierActor.MaxQueueWait.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);

        rule.Tell(new ClassifierActor.Classify(answer, [], 1, sentLongAgo));

        Assert.Equal(Verdict.Overloaded, (await ExpectMsgAsync<ClassifierActor.Classified>()).Verdict);
    }

    [Fact]
    public async Task A_catastrophic_looking_pattern_runs_on_the_linear_engine_and_never_times_out()
    {
        var pattern = BodyRegexClassifier.Compile("(a+)+b", TimeSpan.FromMilliseconds(10));
        Assert.False(BodyRegexClassifier.Backtracks(pattern));
        var rule = Sys.ActorOf(BodyRegexClassifier.Props("evil", Verdict.Overloaded, pattern));
        using var crafted = new Answer(new string('a', 60_000) + "c");
        using var matching = new Answer(new string('a', 60_000) + "b");

        rule.Tell(new ClassifierActor.Classify(crafted, [], 1));
        rule.Tell(new ClassifierActor.Classify(matching, [], 2));

        Assert.Equal(Verdict.Deliver, (await ExpectMsgAsync<ClassifierActor.Classified>()).Verdict);
        Assert.Equal(Verdict.Overloaded, (await ExpectMsgAsync<ClassifierActor.Classified>()).Verdict);
        var state = await rule.Ask<ClassifierActor.ClassifierState>(ClassifierActor.GetClassifierState.Instance);
        Assert.Equal(0, state.Timeouts);
    }

    [Theory]
    [MemberData(nameof(XmlRpcCorpus.Faults), MemberType = typeof(XmlRpcCorpus))]
    public async Task The_default_rule_catches_the_overload_fault_as_every_server_writes_it(string name) =>
        Assert.Equal((Verdict.Overloaded, "xmlrpc-overload"), await Classify([XmlRpcRule()], new Answer(XmlRpcCorpus.Fault(name), contentType: "text/xml")));

    [Theory]
    [MemberData(nameof(XmlRpcCorpus.Lookalikes), MemberType = typeof(XmlRpcCorpus))]
    public async Task The_default_rule_delivers_every_lookalike(string name) =>
        Assert.Equal((Verdict.Deliver, null), await Classify([XmlRpcRule()], new Answer(XmlRpcCorpus.Lookalike(name), contentType: "text/xml")));

    [Theory]
    [InlineData("text/plain")]
    [InlineData("text/html")]
    [InlineData("application/octet-stream")]
    public async Task The_default_rule_never_judges_an_answer_that_is_not_xml(string contentType) =>
        Assert.Equal((Verdict.Deliver, null), await Classify([XmlRpcRule()], new Answer(TestNode.OverloadFault, contentType: contentType)));

    [Fact]
    public async Task The_default_rule_does_not_judge_a_truncated_fault() =>
        Assert.Equal((Verdict.Deliver, null), await Classify([XmlRpcRule()], new Answer(TestNode.OverloadFault, complete: false)));

    [Theory]
    [InlineData("""{"jsonrpc":"2.0","error":{"code":-32000,"message":"server overloaded"},"id":1}""", Verdict.Overloaded)]
    [InlineData("""{"jsonrpc":"2.0","id":1,"error":{"message":"busy","data":{"code":1},"code":-32000}}""", Verdict.Overloaded)]
    [InlineData("""[{"jsonrpc":"2.0","result":1,"id":1},{"jsonrpc":"2.0","error":{"code":-32000},"id":2}]""", Verdict.Overloaded)]
    [InlineData("""{"jsonrpc":"2.0","error":{"code":-32601,"message":"method not found"},"id":1}""", Verdict.Deliver)]
    [InlineData("""{"jsonrpc":"2.0","result":{"code":-32000},"id":1}""", Verdict.Deliver)]
    [InlineData("""{"jsonrpc":"2.0","result":{"error":{"code":-32000}},"id":1}""", Verdict.Deliver)]
    [InlineData("""{"jsonrpc":"2.0","result":[{"jsonrpc":"2.0","error":{"code":-32000},"id":1}],"id":1}""", Verdict.Deliver)]
    [InlineData("""{"error":{"code":-32000},"id":1}""", Verdict.Deliver)]
    [InlineData("""{"jsonrpc":"1.0","error":{"code":-32000},"id":1}""", Verdict.Deliver)]
    [InlineData("""{"jsonrpc":"2.0","error":{"code":-32000}}""", Verdict.Deliver)]
    [InlineData("""{"jsonrpc":"2.0","error":{"code":-32000},"result":null,"id":1}""", Verdict.Deliver)]
    [InlineData("""{"jsonrpc":"2.0","error":{"code":-32000.5},"id":1}""", Verdict.Deliver)]
    [InlineData("""{"jsonrpc":"2.0","error":{"code":-32000},"id":1} {"more":1}""", Verdict.Deliver)]
    [InlineData("""{"jsonrpc":"2.0","error":{"code":-32000},"id":null}""", Verdict.Overloaded)]
    [InlineData("""not json at all""", Verdict.Deliver)]
    public async Task The_json_rpc_sample_matches_only_its_error_code(string body, Verdict expected)
    {
        var (verdict, _) = await Classify([JsonRpcErrorClassifier.Props("jsonrpc-overload", Verdict.Overloaded, -32000)], new Answer(body));

        Assert.Equal(expected, verdict);
    }

    [Fact]
    public async Task The_json_rpc_sample_judges_only_json()
    {
        var body = """{"jsonrpc":"2.0","error":{"code":-32000},"id":1}""";
        var rule = JsonRpcErrorClassifier.Props("j", Verdict.Overloaded, -32000);

        Assert.Equal(Verdict.Overloaded, (await Classify([rule], new Answer(body, contentType: "application/json; charset=utf-8"))).Verdict);
        Assert.Equal(Verdict.Deliver, (await Classify([rule], new Answer(body, contentType: "text/plain"))).Verdict);
    }

    [Fact]
    public async Task The_json_rpc_sample_does_not_judge_a_truncated_answer()
    {
        var body = """{"jsonrpc":"2.0","error":{"code":-32000},"id":1}""";

        var (verdict, _) = await Classify([JsonRpcErrorClassifier.Props("j", Verdict.Overloaded, -32000)], new Answer(body, complete: false));

        Assert.Equal(Verdict.Deliver, verdict);
    }

    [Theory]
    [InlineData("faultCode.+value.+i4.+1007.+i4", "faultCode")]
    [InlineData("<fault>.*1007", "<fault>")]
    [InlineData("overloaded+", "overloaded")]
    [InlineData("overloaded?", "overloade")]
    [InlineData("busy|overloaded", null)]
    [InlineData("^faultCode", null)]
    [InlineData("ab.*c", null)]
    [InlineData(@"fault\s*Code", "fault")]
    public void A_body_rule_searches_the_bytes_only_for_a_literal_every_match_starts_with(string pattern, string? literal) =>
        Assert.Equal(literal, BodyRegexClassifier.RequiredLeadingLiteral(BodyRegexClassifier.Compile(pattern)));

    [Fact]
    public void A_case_insensitive_body_rule_always_runs_its_regex() =>
        Assert.Null(BodyRegexClassifier.RequiredLeadingLiteral(new System.Text.RegularExpressions.Regex("faultCode", System.Text.RegularExpressions.RegexOptions.IgnoreCase)));

    [Fact]
    public async Task A_body_rule_matches_its_literal_anywhere_and_an_alternation_on_either_side()
    {
        var literal = BodyRegexClassifier.Props("literal", Verdict.Overloaded, BodyRegexClassifier.Compile("faultCode.+1007"));
        var either = BodyRegexClassifier.Props("either", Verdict.Failed, BodyRegexClassifier.Compile("busy|overloaded"));

        Assert.Equal((Verdict.Overloaded, "literal"), await Classify([literal], new Answer("<a>\n<faultCode>1007</faultCode>")));
        Assert.Equal((Verdict.Deliver, null), await Classify([literal], new Answer("<a>1007</a>")));
        Assert.Equal((Verdict.Failed, "either"), await Classify([either], new Answer("the node is overloaded")));
    }
}
