using System.Net;
using System.Text;
using Proxy.Actors.Classification;
using Proxy.Testing;
using Xunit;

namespace Proxy.Actors.Tests.Classification;

public sealed class ClassifierChainTests
{
    private static (Verdict, string?) Classify(ClassifierChain chain, string body, HttpStatusCode status = HttpStatusCode.OK, (string, string)? header = null)
    {
        using var response = new HttpResponseMessage(status) { Content = new ByteArrayContent([]) };
        if (header is var (name, value))
        {
            response.Headers.TryAddWithoutValidation(name, value);
        }

        return chain.Classify((int)status, response.Headers, response.Content.Headers, Encoding.UTF8.GetBytes(body));
    }

    [Fact]
    public void The_default_rule_finds_the_xmlrpc_overload_fault_across_lines()
    {
        Assert.Equal((Verdict.Overloaded, "xmlrpc-overload"), Classify(ClassifierChain.Default, TestNode.OverloadFault));
    }

    [Fact]
    public void The_default_rule_delivers_successes_and_other_faults()
    {
        Assert.Equal((Verdict.Deliver, null), Classify(ClassifierChain.Default, "<methodResponse><params><param><value><i4>1007</i4></value></param></params></methodResponse>"));
        Assert.Equal((Verdict.Deliver, null), Classify(ClassifierChain.Default, TestNode.OverloadFault.Replace("1007", "1008", StringComparison.Ordinal)));
        Assert.Equal((Verdict.Deliver, null), Classify(ClassifierChain.Default, ""));
    }

    [Fact]
    public void The_first_matching_rule_decides()
    {
        var chain = new ClassifierChain([
            new StatusClassifier("gateway", [502, 503], Verdict.Failed),
            new BodyRegexClassifier("busy", "busy", Verdict.Overloaded),
        ]);

        Assert.Equal((Verdict.Failed, "gateway"), Classify(chain, "busy", HttpStatusCode.ServiceUnavailable));
        Assert.Equal((Verdict.Overloaded, "busy"), Classify(chain, "busy"));
        Assert.Equal((Verdict.Deliver, null), Classify(chain, "fine"));
    }

    [Fact]
    public void A_header_rule_matches_the_header_value()
    {
        var chain = new ClassifierChain([new HeaderClassifier("shed", "X-Load", "^shed", Verdict.Overloaded)]);

        Assert.Equal((Verdict.Overloaded, "shed"), Classify(chain, "", header: ("X-Load", "shed; retry")));
        Assert.Equal((Verdict.Deliver, null), Classify(chain, "", header: ("X-Load", "ok")));
        Assert.Equal((Verdict.Deliver, null), Classify(chain, ""));
    }

    [Fact]
    public void A_catastrophic_pattern_times_out_delivers_the_answer_and_is_counted()
    {
        var rule = new BodyRegexClassifier("evil", "(a+)+b", Verdict.Overloaded, TimeSpan.FromMilliseconds(10));
        var chain = new ClassifierChain([rule]);

        Assert.Equal((Verdict.Deliver, null), Classify(chain, new string('a', 5000) + "c"));
        Assert.Equal(1, rule.Timeouts);
    }
}
