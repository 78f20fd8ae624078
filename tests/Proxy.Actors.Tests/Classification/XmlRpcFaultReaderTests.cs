using System.Text;
using Proxy.Actors.Classification;
using Proxy.Testing;
using Xunit;

namespace Proxy.Actors.Tests.Classification;

public sealed class XmlRpcFaultReaderTests
{
    private static readonly HashSet<int> Overload = [1007];

    [Theory]
    [MemberData(nameof(XmlRpcCorpus.Faults), MemberType = typeof(XmlRpcCorpus))]
    public void A_fault_as_a_real_server_writes_it_is_read_with_its_code(string name)
    {
        var document = XmlRpcCorpus.Fault(name);

        Assert.True(XmlRpcFaultReader.MayBeFault(document));
        Assert.True(XmlRpcFaultReader.TryReadFaultCode(document, out var code));
        Assert.Equal(1007, code);
        Assert.True(XmlRpcFaultReader.IsFault(document, Overload));
    }

    [Theory]
    [MemberData(nameof(XmlRpcCorpus.Lookalikes), MemberType = typeof(XmlRpcCorpus))]
    public void A_lookalike_is_not_an_overload_fault(string name) =>
        Assert.False(XmlRpcFaultReader.IsFault(XmlRpcCorpus.Lookalike(name), Overload));

    [Fact]
    public void Other_codes_are_read_as_what_they_are()
    {
        Assert.True(XmlRpcFaultReader.TryReadFaultCode(XmlRpcCorpus.Lookalike("fault-21007.xml"), out var code));
        Assert.Equal(21007, code);
        Assert.True(XmlRpcFaultReader.IsFault(XmlRpcCorpus.Lookalike("fault-21007.xml"), new HashSet<int> { 4, 21007 }));
    }

    [Fact]
    public void A_success_answer_is_turned_away_by_the_byte_search()
    {
        var success = Encoding.UTF8.GetBytes("<?xml version=\"1.0\"?><methodResponse><params><param><value><string>faultCode 1007 i4</string></value></param></params></methodResponse>");

        Assert.False(XmlRpcFaultReader.MayBeFault(success));
        Assert.False(XmlRpcFaultReader.MayBeFault("   not xml <fault>"u8));
        Assert.False(XmlRpcFaultReader.MayBeFault([]));
    }

    [Fact]
    public void The_start_of_a_long_fault_is_recognised_before_its_code_arrives()
    {
        var fault = XmlRpcCorpus.Fault("python-long-faultstring.xml");
        var go = XmlRpcCorpus.Fault("go-faultstring-first.xml");

        Assert.True(XmlRpcFaultReader.StartsAsFault(fault.AsMemory(0, 200)));
        Assert.True(XmlRpcFaultReader.StartsAsFault(go.AsMemory(0, 80)));
        Assert.False(XmlRpcFaultReader.StartsAsFault(XmlRpcCorpus.Lookalike("success-cdata-fault.xml")));
        Assert.False(XmlRpcFaultReader.StartsAsFault(XmlRpcCorpus.Lookalike("methodcall-echo.xml")));
    }

    [Fact]
    public void A_code_split_into_thousands_of_cdata_sections_is_read_in_linear_time_and_not_taken_as_a_code()
    {
        // Concatenating the pieces one by one took seconds of CPU per answer (quadratic).
        var pieces = string.Concat(Enumerable.Repeat("<![CDATA[            ]]>", 40_000));
        var document = Encoding.UTF8.GetBytes(Fault($"<int>{pieces}1007</int>"));

        Assert.False(XmlRpcFaultReader.IsFault(document, Overload));
    }

    [Theory]
    [InlineData("<?xml version=\"1.0\"?>", 70_000, "")]
    [InlineData("<?xml version=\"1.0\"?><!--", 70_000, "-->")]
    public void A_prefix_that_ends_before_the_roots_first_child_asks_for_the_whole_answer(string head, int padding, string tail)
    {
        var document = Encoding.UTF8.GetBytes(head + new string(' ', padding) + tail + Fault("<int>1007</int>").Replace("<?xml version=\"1.0\"?>", "", StringComparison.Ordinal));

        Assert.True(XmlRpcFaultReader.StartsAsFault(document.AsMemory(0, 65536)));
        Assert.True(XmlRpcFaultReader.IsFault(document, Overload));
    }

    [Fact]
    public void A_prefix_inside_a_long_root_tag_asks_for_the_whole_answer()
    {
        var attributes = string.Concat(Enumerable.Range(0, 10_000).Select(i => $" xmlns:n{i}=\"urn:{i}\""));
        var document = Encoding.UTF8.GetBytes(Fault("<int>1007</int>").Replace("<methodResponse>", $"<methodResponse{attributes}>", StringComparison.Ordinal));

        Assert.True(XmlRpcFaultReader.StartsAsFault(document.AsMemory(0, 65536)));
        Assert.True(XmlRpcFaultReader.IsFault(document, Overload));
        Assert.False(XmlRpcFaultReader.StartsAsFault(Encoding.UTF8.GetBytes($"<methodResponse{attributes}><params>")));
    }

    [Theory]
    [InlineData("text/xml", true)]
    [InlineData("text/xml; charset=utf-8", true)]
    [InlineData("Application/XML", true)]
    [InlineData("application/soap+xml", true)]
    [InlineData("text/plain", false)]
    [InlineData("text/html; charset=utf-8", false)]
    [InlineData("application/json", false)]
    public void Only_xml_media_types_are_judged_as_xml_rpc(string contentType, bool xml) =>
        Assert.Equal(xml, XmlRpcFaultReader.IsXmlMediaType(contentType));

    [Fact]
    public void A_long_run_of_whitespace_between_elements_is_whitespace()
    {
        // XmlReader reports 4,096 whitespace characters or more as Text.
        var spaces = new string(' ', 5000);
        var document = Encoding.UTF8.GetBytes(Fault($"{spaces}<int>1007</int>{spaces}").Replace("<fault>", "<fault>" + spaces, StringComparison.Ordinal));

        Assert.True(XmlRpcFaultReader.IsFault(document, Overload));
    }

    [Theory]
    [InlineData("text/xml; charset=utf-8", "founding-i4-compact.xml", true)]
    [InlineData("text/xml; charset=\"UTF-16\"", "utf16le-bom.xml", true)]
    [InlineData("text/xml; charset=utf-16", "founding-i4-compact.xml", false)]
    [InlineData("text/xml; charset=iso-8859-1", "utf16be-bom.xml", false)]
    [InlineData("text/xml; charset=ucs-2", "founding-i4-compact.xml", false)]
    [InlineData("text/xml; charset=utf-7", "founding-i4-compact.xml", false)]
    [InlineData("text/xml; charset=IBM037", "founding-i4-compact.xml", false)]
    [InlineData("text/xml; charset=no-such-charset", "founding-i4-compact.xml", false)]
    [InlineData("text/xml; charset=windows-1252", "php-xmlrpc-epi.xml", true)]
    [InlineData("text/xml; charset=\"windows-1252\"; q=1", "php-xmlrpc-epi.xml", true)]
    [InlineData("text/xml; charset = \"UTF-16\" ;q=1", "utf16le-bom.xml", true)]
    [InlineData("text/xml; charset=utf8", "founding-i4-compact.xml", true)]
    [InlineData("text/xml; charset=latin-1", "php-xmlrpc-epi.xml", true)]
    [InlineData("text/xml; charset=cp1252", "php-xmlrpc-epi.xml", true)]
    [InlineData("text/xml; charset=utf16", "utf16le-bom.xml", true)]
    [InlineData("text/xml; charset=utf8", "utf16le-bom.xml", false)]
    [InlineData("text/xml; charset=cp65000", "founding-i4-compact.xml", false)]
    public void A_charset_parameter_must_agree_with_how_the_document_is_encoded(string contentType, string fault, bool agrees) =>
        Assert.Equal(agrees, XmlRpcFaultReader.IsXmlMediaType(contentType, XmlRpcCorpus.Fault(fault)));

    [Theory]
    [InlineData("iso-8859-1", "Surcharg\u00e9")]
    [InlineData("latin-1", "Surcharg\u00e9")]
    [InlineData("koi8_r", "\u041f\u0435\u0440\u0435\u0433\u0440\u0443\u0436\u0435\u043d")]
    [InlineData("windows-1251", "\u041f\u0435\u0440\u0435\u0433\u0440\u0443\u0436\u0435\u043d")]
    public void A_fault_with_no_declaration_is_read_in_the_charset_it_was_sent_with(string charset, string faultString)
    {
        // http.server or a hand-written node: Content-Type text/xml; charset=..., no XML declaration.
        Assert.True(XmlRpcFaultReader.IsXmlMediaType("text/xml; charset=" + charset, "<m"u8, out var encoding));
        Assert.NotNull(encoding);
        var document = encoding.GetBytes(Fault("<int>1007</int>").Replace("<?xml version=\"1.0\"?>", "", StringComparison.Ordinal).Replace("busy", faultString, StringComparison.Ordinal));

        Assert.True(XmlRpcFaultReader.TryReadFaultCode(document, out var code, encoding));
        Assert.Equal(1007, code);
    }

    private static string Fault(string code) =>
        "<?xml version=\"1.0\"?><methodResponse><fault><value><struct><member><name>faultCode</name><value>" + code
        + "</value></member><member><name>faultString</name><value><string>busy</string></value></member></struct></value></fault></methodResponse>";

    [Fact]
    public void A_fault_as_big_as_a_billion_laughs_is_refused_without_expanding_it()
    {
        var laughs = new StringBuilder("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">");
        for (var i = 1; i < 10; i++)
        {
            laughs.Append($"<!ENTITY lol{i} \"{string.Concat(Enumerable.Repeat($"&lol{(i == 1 ? "" : i - 1)};", 10))}\">");
        }

        laughs.Append("]><methodResponse><fault><value><struct><member><name>faultCode</name><value><int>1007</int></value></member><member><name>faultString</name><value><string>&lol9;</string></value></member></struct></value></fault></methodResponse>");

        Assert.False(XmlRpcFaultReader.IsFault(Encoding.UTF8.GetBytes(laughs.ToString()), Overload));
    }
}
