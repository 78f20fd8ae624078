namespace Proxy.Testing;

/// <summary>
/// XML-RPC answers as real servers write them (<c>Corpus/xmlrpc</c>, made by <c>make_corpus.py</c>):
/// faults carrying faultCode 1007, which must be caught, and look-alikes, which must be delivered.
/// </summary>
public static class XmlRpcCorpus
{
    public static IEnumerable<object[]> Faults => Names("faults");

    public static IEnumerable<object[]> Lookalikes => Names("lookalikes");

    public static byte[] Fault(string name) => File.ReadAllBytes(Path.Combine(Folder, "faults", name));

    public static byte[] Lookalike(string name) => File.ReadAllBytes(Path.Combine(Folder, "lookalikes", name));

    private static string Folder => Path.Combine(AppContext.BaseDirectory, "Corpus", "xmlrpc");

    private static IEnumerable<object[]> Names(string kind) =>
        Directory.GetFiles(Path.Combine(Folder, kind), "*.xml").Select(Path.GetFileName).Order(StringComparer.Ordinal).Select(n => new object[] { n! });
}
