using System.Collections.Frozen;
using Akka.Actor;

namespace Proxy.Actors.Classification;

/// <summary>
/// <c>XmlRpcFault</c>: matches a well-formed XML-RPC fault response whose <c>faultCode</c> is one of
/// <c>Codes</c> (the default rule: 1007, "overloaded"), however the server writes it: <c>i4</c> or
/// <c>int</c>, any whitespace, member order, XML declaration, byte-order mark or encoding, and
/// decoded from its <c>Content-Encoding</c>. A success answer, a fault with another code, a struct
/// member named faultCode inside a success, or an answer that is not XML is never a match.
/// </summary>
/// <remarks>
/// Judges only a whole document: the node buffers an answer that starts as a fault up to
/// <c>Proxy:Limits:FaultBuffer</c> (see <see cref="StartsAsFault"/>); one larger than that is delivered.
/// </remarks>
public sealed class XmlRpcFaultClassifier : ClassifierActor
{
    public const string TypeName = "XmlRpcFault";

    private readonly FrozenSet<int> _codes;

    public XmlRpcFaultClassifier(string name, Verdict verdict, IReadOnlyCollection<int> codes)
        : base(name, verdict)
    {
        if (codes.Count == 0)
        {
            throw new ArgumentException("At least one fault code is required.", nameof(codes));
        }

        _codes = codes.ToFrozenSet();
    }

    public static Props Props(string name, Verdict verdict, IReadOnlyCollection<int> codes) =>
        Akka.Actor.Props.Create(() => new XmlRpcFaultClassifier(name, verdict, codes));

    /// <summary>
    /// The node's test, before judging, of an answer larger than its response buffer: an XML answer
    /// that is recognisably a fault is read whole (up to the fault buffer) so a long faultString
    /// cannot carry the faultCode past the part that is judged.
    /// </summary>
    public static bool StartsAsFault(IAnswerView answer) =>
        XmlRpcFaultReader.IsXmlContentType(answer, answer.Content.Span) && XmlRpcFaultReader.StartsAsFault(answer.Content);

    /// <summary>The rule's screen (<see cref="ClassifierSpec.Screen"/>): a whole answer whose first tags are a fault's.</summary>
    public static bool CouldMatch(IAnswerView answer) => answer.ContentComplete && XmlRpcFaultReader.MayBeFault(answer.Content.Span);

    protected override bool Matches(IAnswerView answer) =>
        answer.ContentComplete
        && XmlRpcFaultReader.MayBeFault(answer.Content.Span)
        && XmlRpcFaultReader.IsXmlContentType(answer, answer.Content.Span, out var charset)
        && XmlRpcFaultReader.TryReadFaultCode(answer.Content, out var code, charset)
        && _codes.Contains(code);

    protected override string Describe() => $"Codes={string.Join(',', _codes.Order())}";
}
