using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Xml;

namespace Proxy.Actors.Classification;

/// <summary>
/// Reads an answer body as the XML-RPC specification defines a fault response: a well-formed
/// document whose root <c>methodResponse</c> holds exactly one <c>fault</c>, whose single
/// <c>value</c> is a <c>struct</c> with one <c>faultCode</c> member typed <c>i4</c> or <c>int</c>.
/// Anything else (a success answer, a look-alike, a struct member named faultCode inside params,
/// malformed or trailing content) is not a fault. Never resolves DTDs or external entities.
/// </summary>
/// <remarks>
/// A look at the first tags comes first (<see cref="MayBeFault"/>): a success answer's root holds
/// <c>params</c>, so it is turned away without a parser or an allocation, however long it is. Only
/// a document that passes is read by <see cref="XmlReader"/>, in time linear in its size, with its
/// depth and size bounded.
/// </remarks>
public static class XmlRpcFaultReader
{
    /// <summary>Deeper nesting than this inside a fault is not something an XML-RPC server writes.</summary>
    public const int MaxDepth = 64;

    // Longer member names and integers than these are compared as "too long": no faultCode.
    private const int MaxNameLength = 256;
    private const int MaxIntegerLength = 64;

    // Never equal to a name, never an integer.
    private const string TooLong = "\0";

    private static readonly Lock CodePagesRegistration = new();
    private static volatile bool _codePagesRegistered;

    private static ReadOnlySpan<byte> FaultTag => "<fault"u8;

    private static ReadOnlySpan<byte> FaultTagUtf16LE => "<\0f\0a\0u\0l\0t\0"u8;

    private static ReadOnlySpan<byte> FaultTagUtf16BE => "\0<\0f\0a\0u\0l\0t"u8;

    /// <summary>
    /// True when the Content-Type says XML (<c>text/xml</c>, <c>application/xml</c>, <c>*+xml</c>),
    /// or is absent; and a <c>charset</c> parameter, which RFC 7303 makes authoritative, agrees with
    /// how <paramref name="body"/> is encoded (a UTF-16 charset over single-byte text, or the reverse,
    /// is not this document).
    /// </summary>
    public static bool IsXmlContentType(IAnswerView answer, ReadOnlySpan<byte> body) => IsXmlContentType(answer, body, out _);

    /// <summary>
    /// As <see cref="IsXmlContentType(IAnswerView, ReadOnlySpan{byte})"/>, with the encoding the
    /// <c>charset</c> parameter names (by its IANA or Python name; null without one), in which a
    /// document with no XML declaration is read: Python's http.server or a hand-written node may
    /// send Latin-1 so.
    /// </summary>
    public static bool IsXmlContentType(IAnswerView answer, ReadOnlySpan<byte> body, out Encoding? charset)
    {
        charset = null;
        return MediaType.Of(answer) is not { } contentType || IsXmlMediaType(contentType, body, out charset);
    }

    internal static bool IsXmlMediaType(string contentType, ReadOnlySpan<byte> body = default) => IsXmlMediaType(contentType, body, out _);

    internal static bool IsXmlMediaType(string contentType, ReadOnlySpan<byte> body, out Encoding? charset)
    {
        charset = null;
        var media = MediaType.Essence(contentType, out var parameters);
        if (!media.Equals("text/xml", StringComparison.OrdinalIgnoreCase)
            && !media.Equals("application/xml", StringComparison.OrdinalIgnoreCase)
            && !media.EndsWith("+xml", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        if (body.IsEmpty || CharsetParameter(parameters) is not { } name)
        {
            return true;
        }

        charset = KnownEncoding(name);
        return CharsetAgrees(charset, body);
    }

    private static string? CharsetParameter(ReadOnlySpan<char> parameters)
    {
        var charset = parameters.IndexOf("charset", StringComparison.OrdinalIgnoreCase);
        if (charset < 0)
        {
            return null;
        }

        var value = parameters[(charset + "charset".Length)..].TrimStart();
        value = value.StartsWith('=') ? value[1..].TrimStart() : [];
        var end = value.IndexOfAny(';', ' ');
        // Unquoted only after the value is cut at the next parameter: charset="x"; q=1 names x.
        return (end < 0 ? value : value[..end]).Trim().Trim('"').ToString();
    }

    // The charset must be one .NET knows, and write '<' as the body does: one ASCII byte (not
    // EBCDIC, not UTF-7), or two, or four.
    private static bool CharsetAgrees(Encoding? encoding, ReadOnlySpan<byte> body)
    {
        if (encoding is null)
        {
            return false; // Unknown, or known and refused (UTF-7).
        }

        Span<byte> tag = stackalloc byte[16];
        var written = encoding.GetBytes("<m", tag);
        var width = Width(body);
        return written switch
        {
            2 => width == 1 && tag[0] == (byte)'<' && tag[1] == (byte)'m',
            4 => width == 2,
            8 => width == 4,
            _ => false,
        };
    }

    // XML-RPC servers declare windows-125x and other legacy encodings; .NET knows only the Unicode
    // ones and Latin-1 until the code-page provider is registered. Registered at the first charset
    // .NET does not know, or the first answer parsed as XML, not at start-up: its assembly and
    // tables are 0.4 MB resident. A charset unknown once the provider is in costs one failed
    // lookup, as before.
    private static Encoding? KnownEncoding(string charset)
    {
        var withCodePages = _codePagesRegistered;
        var known = Lookup(charset);
        if (known is not null || withCodePages)
        {
            return known ?? PythonCodec(charset);
        }

        EnsureCodePages();
        return Lookup(charset) ?? PythonCodec(charset);
    }

    // Python's codec names, which its xmlrpc.server declares as given (SimpleXMLRPCServer(encoding=
    // "utf8") writes encoding='utf8'), and which its client reads: "utf8", "latin-1", "us_ascii",
    // "cp1251", "koi8_r", "mac-roman", "utf_8_sig". .NET knows the IANA names; these are not all
    // among them. Python ignores case, '_' and '-' alike (utf_8 is utf-8); "cpNNNN" is a code page.
    private static Encoding? PythonCodec(string name)
    {
        var codec = name.Trim().ToLowerInvariant().Replace('_', '-').Replace(' ', '-');
        var canonical = codec switch
        {
            "utf8" or "u8" or "utf" or "utf-8-sig" or "utf8-ucs2" or "utf8-ucs4" or "cp65001" => "utf-8",
            "latin" or "latin-1" or "l1" or "iso8859-1" or "8859" or "iso-8859-1" => "iso-8859-1",
            "ascii" or "646" or "us" or "us-ascii" => "us-ascii",
            "mac-roman" or "macroman" or "macintosh" => "macintosh",
            "u16" or "utf16" => "utf-16",
            "utf-16-le" or "utf16le" => "utf-16LE",
            "utf-16-be" or "utf16be" => "utf-16BE",
            "u32" or "utf32" => "utf-32",
            "utf-32-le" or "utf32le" => "utf-32LE",
            "utf-32-be" or "utf32be" => "utf-32BE",
            "hz" => "hz-gb-2312",
            _ when codec.StartsWith("mac-", StringComparison.Ordinal) => "x-" + codec, // mac_cyrillic: x-mac-cyrillic
            _ when codec.StartsWith("iso2022-", StringComparison.Ordinal) => "iso-2022-" + codec["iso2022-".Length..],
            _ => codec,
        };
        if (Lookup(canonical) is { } known)
        {
            return known;
        }

        // "cp1251", "windows_1250", "ibm866", "iso8859_2": by number.
        foreach (var prefix in (ReadOnlySpan<string>)["cp", "windows-", "ibm", "iso8859-", "iso-8859-"])
        {
            if (codec.StartsWith(prefix, StringComparison.Ordinal)
                && int.TryParse(codec.AsSpan(prefix.Length), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number))
            {
                return Lookup(prefix.StartsWith("iso", StringComparison.Ordinal) ? "iso-8859-" + number : "windows-" + number)
                    ?? CodePage(number);
            }
        }

        return null;
    }

    private static Encoding? CodePage(int number)
    {
        try
        {
            return number is > 0 and < 65536 and not 65000 ? Encoding.GetEncoding(number) : null; // 65000: UTF-7, refused
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException)
        {
            return null;
        }
    }

    private static Encoding? Lookup(string charset)
    {
        try
        {
            return Encoding.GetEncoding(charset);
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException)
        {
            return null;
        }
    }

    // Apart and never inlined: compiling a method that names the provider loads its assembly.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void EnsureCodePages()
    {
        if (_codePagesRegistered)
        {
            return;
        }

        lock (CodePagesRegistration)
        {
            if (!_codePagesRegistered)
            {
                Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
                _codePagesRegistered = true;
            }
        }
    }

    // Bytes per code unit of the document, from its first bytes: 4 (UTF-32), 2 (UTF-16) or 1.
    private static int Width(ReadOnlySpan<byte> body) =>
        body.Length >= 4 && IsUtf32(body) ? 4
        : body.Length >= 2 && ((body[0] == 0xFF && body[1] == 0xFE) || (body[0] == 0xFE && body[1] == 0xFF) || (body[0] == (byte)'<' && body[1] == 0) || (body[0] == 0 && body[1] == (byte)'<')) ? 2
        : 1;

    /// <summary>
    /// The cheap first look: could this whole body be an XML-RPC fault at all? Its root must be
    /// <c>methodResponse</c> (after a byte-order mark, the XML declaration, comments and whitespace)
    /// and the root's first child <c>fault</c>; in UTF-16 or UTF-32, it must contain a
    /// <c>&lt;fault</c> tag. False for every success answer, after reading only its first tags,
    /// without allocating.
    /// </summary>
    public static bool MayBeFault(ReadOnlySpan<byte> body) => Walk(body, whole: true) == Prefix.MaybeFault;

    private enum Prefix
    {
        NotFault,
        MaybeFault,
        Undecided,
    }

    // How far the first tags tell: not a fault, maybe one (the root's first child is <fault>), or
    // undecided (the bytes end before the root's first child: a prefix of a longer answer; a whole
    // document that ends there is no fault).
    private static Prefix Walk(ReadOnlySpan<byte> body, bool whole)
    {
        switch (Width(body))
        {
            case 4:
                return Prefix.MaybeFault; // Rare enough to leave to the parser.
            case 2:
                var tag = body[0] == 0xFF || body[0] == (byte)'<' ? FaultTagUtf16LE : FaultTagUtf16BE;
                return body.IndexOf(tag) >= 0 ? Prefix.MaybeFault : whole ? Prefix.NotFault : Prefix.Undecided;
        }

        // UTF-8 and every ASCII-compatible encoding: walk the prolog to the root, then to the root's
        // first child, which must be <fault>. A success answer is turned away at <params>, after its
        // first hundred bytes or so, however long it is.
        var rest = body.Length >= 3 && body[0] == 0xEF && body[1] == 0xBB && body[2] == 0xBF ? body[3..] : body;
        if (!SkipMarkup(ref rest))
        {
            return Prefix.Undecided;
        }

        var root = StartsWithTag(rest, MethodResponseTag);
        if (root != Prefix.MaybeFault)
        {
            return root;
        }

        // '<' cannot occur inside an attribute value, so the next one starts the root's first child.
        var next = rest[MethodResponseTag.Length..].IndexOf((byte)'<');
        if (next < 0)
        {
            return Prefix.Undecided;
        }

        rest = rest[(MethodResponseTag.Length + next)..];
        return SkipMarkup(ref rest) ? StartsWithTag(rest, FaultTag) : Prefix.Undecided;
    }

    private static ReadOnlySpan<byte> MethodResponseTag => "<methodResponse"u8;

    // Whether rest starts with the start tag named by tag ("<fault", not "<faultX"); undecided when
    // rest ends too soon to tell.
    private static Prefix StartsWithTag(ReadOnlySpan<byte> rest, ReadOnlySpan<byte> tag)
    {
        if (rest.Length <= tag.Length)
        {
            return tag.StartsWith(rest) ? Prefix.Undecided : Prefix.NotFault;
        }

        return rest.StartsWith(tag) && rest[tag.Length] is (byte)'>' or (byte)'/' or (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'
            ? Prefix.MaybeFault
            : Prefix.NotFault;
    }

    // Skips whitespace, comments and processing instructions (the XML declaration is one); true
    // when what follows is a tag, false when the bytes end first.
    private static bool SkipMarkup(ref ReadOnlySpan<byte> rest)
    {
        while (true)
        {
            rest = rest.TrimStart(" \t\r\n"u8);
            int end;
            if (rest.StartsWith("<!--"u8))
            {
                end = rest[4..].IndexOf("-->"u8);
                if (end < 0)
                {
                    return false;
                }

                rest = rest[(end + 7)..];
            }
            else if (rest.StartsWith("<?"u8))
            {
                end = rest[2..].IndexOf("?>"u8);
                if (end < 0)
                {
                    return false;
                }

                rest = rest[(end + 4)..];
            }
            else
            {
                return !rest.IsEmpty;
            }
        }
    }

    // A UTF-32 byte-order mark, or '<' as the first UTF-32 character, either byte order.
    private static bool IsUtf32(ReadOnlySpan<byte> body) =>
        (body[0] == 0 && body[1] == 0 && ((body[2] == 0xFE && body[3] == 0xFF) || (body[2] == 0 && body[3] == (byte)'<')))
        || (body[2] == 0 && body[3] == 0 && ((body[0] == 0xFF && body[1] == 0xFE) || (body[0] == (byte)'<' && body[1] == 0)));

    /// <summary>
    /// True when <paramref name="document"/> is a whole, well-formed XML-RPC fault response whose
    /// <c>faultCode</c> is one of <paramref name="codes"/>.
    /// </summary>
    public static bool IsFault(ReadOnlyMemory<byte> document, IReadOnlySet<int> codes) =>
        MayBeFault(document.Span) && TryReadFaultCode(document, out var code) && codes.Contains(code);

    /// <summary>
    /// True when <paramref name="prefix"/>, the start of an answer longer than the response buffer,
    /// is a <c>methodResponse</c> whose first child is <c>fault</c>, or cannot yet tell (a long prolog
    /// or root tag): the answer is worth buffering whole, up to the fault buffer, and judging then.
    /// </summary>
    public static bool StartsAsFault(ReadOnlyMemory<byte> prefix)
    {
        var walk = Walk(prefix.Span, whole: false);
        if (walk != Prefix.MaybeFault || Width(prefix.Span) == 1)
        {
            return walk != Prefix.NotFault;
        }

        // UTF-16 holding a <fault> tag somewhere: let the parser find the root's first child.
        try
        {
            using var reader = Open(prefix);
            return reader.MoveToContent() == XmlNodeType.Element && IsPlain(reader, "methodResponse") && !reader.IsEmptyElement
                && Next(reader) && IsPlain(reader, "fault");
        }
        catch (XmlException)
        {
            return true; // The prefix ended first (or is malformed): the whole answer will tell.
        }
    }

    /// <summary>
    /// Reads a whole fault response; false for anything that is not exactly one. A document with no
    /// XML declaration naming its encoding is read in <paramref name="charset"/> (the answer's
    /// Content-Type charset), else as XML's default.
    /// </summary>
    public static bool TryReadFaultCode(ReadOnlyMemory<byte> document, out int code, Encoding? charset = null)
    {
        code = 0;
        try
        {
            using var reader = Open(document, charset);
            if (!ReadFault(reader, out code))
            {
                return false;
            }

            // Well-formed to the end: nothing but comments, processing instructions or whitespace may follow.
            while (reader.Read())
            {
                if (reader.NodeType is not (XmlNodeType.Whitespace or XmlNodeType.SignificantWhitespace))
                {
                    return false;
                }
            }

            return true;
        }
        catch (XmlException)
        {
            return false;
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException)
        {
            // An encoding the declaration names but .NET does not know, or refuses (UTF-7).
            return false;
        }
    }

    private static XmlReader Open(ReadOnlyMemory<byte> document, Encoding? charset = null)
    {
        // The XML declaration may name a legacy encoding (Python's xmlrpc.server writes the one it
        // was given, with no charset in its Content-Type). Only answers that look like faults get
        // here, so a healthy fleet's proxy still never loads the provider.
        EnsureCodePages();
        var stream = MemoryMarshal.TryGetArray(document, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(document.ToArray(), writable: false);

        // A declared encoding only Python's name for it tells (encoding='utf8'): decoded here, as
        // the parser would refuse the name. Read from text, the parser takes the declaration as is.
        var declared = DeclaredEncoding(document.Span);
        if (declared is not null && Lookup(declared) is null && PythonCodec(declared) is { } codec)
        {
            return XmlReader.Create(new StreamReader(stream, codec, detectEncodingFromByteOrderMarks: true), Settings(document.Length));
        }

        // No declaration to name it: the charset the answer was sent with (a byte-order mark still wins).
        if (declared is null && charset is not null && charset.CodePage != Encoding.UTF8.CodePage)
        {
            return XmlReader.Create(new StreamReader(stream, charset, detectEncodingFromByteOrderMarks: true), Settings(document.Length));
        }

        return XmlReader.Create(stream, Settings(document.Length));
    }

    private static XmlReaderSettings Settings(int length) =>
        new()
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            IgnoreComments = true,
            IgnoreProcessingInstructions = true,
            IgnoreWhitespace = true,
            CloseInput = true,
            MaxCharactersFromEntities = 1024,
            MaxCharactersInDocument = length * 4L + 1024,
        };

    // The encoding the XML declaration names, if any: <?xml version='1.0' encoding='utf8'?>, in
    // an ASCII-compatible document (after a UTF-8 byte-order mark) or a UTF-16 one.
    private static string? DeclaredEncoding(ReadOnlySpan<byte> body)
    {
        var head = body[..Math.Min(body.Length, 512)];
        string text;
        switch (Width(head))
        {
            case 1:
                text = Encoding.Latin1.GetString(head is [0xEF, 0xBB, 0xBF, ..] ? head[3..] : head);
                break;
            case 2:
                var bigEndian = head[0] == 0xFE || head[0] == 0;
                text = (bigEndian ? Encoding.BigEndianUnicode : Encoding.Unicode).GetString(head[..(head.Length & ~1)]).TrimStart('\uFEFF');
                break;
            default:
                return null;
        }

        if (!text.StartsWith("<?xml", StringComparison.Ordinal))
        {
            return null;
        }

        var end = text.IndexOf("?>", StringComparison.Ordinal);
        var declaration = end < 0 ? text : text[..end];
        var at = declaration.IndexOf("encoding", StringComparison.Ordinal);
        if (at < 0)
        {
            return null;
        }

        var value = declaration.AsSpan(at + "encoding".Length).TrimStart();
        if (value.IsEmpty || value[0] != '=')
        {
            return null;
        }

        value = value[1..].TrimStart();
        if (value.IsEmpty || value[0] is not ('\'' or '"'))
        {
            return null;
        }

        var close = value[1..].IndexOf(value[0]);
        return close < 0 ? null : value.Slice(1, close).ToString();
    }

    private static bool ReadFault(XmlReader reader, out int code)
    {
        code = 0;
        if (reader.MoveToContent() != XmlNodeType.Element || !IsPlain(reader, "methodResponse") || reader.IsEmptyElement)
        {
            return false;
        }

        // methodResponse > fault > value > struct, each the only child of its parent.
        if (!EnterOnly(reader, "fault") || !EnterOnly(reader, "value") || !EnterOnly(reader, "struct"))
        {
            return false;
        }

        var seen = false;
        if (!Next(reader))
        {
            return false;
        }

        while (reader.NodeType == XmlNodeType.Element)
        {
            if (!IsPlain(reader, "member") || reader.IsEmptyElement || !ReadMember(reader, out var isFaultCode, out var memberCode))
            {
                return false;
            }

            if (isFaultCode)
            {
                if (seen || memberCode is null)
                {
                    return false; // Two faultCodes, or one that is not an integer: not a fault we can trust.
                }

                seen = true;
                code = memberCode.Value;
            }
        }

        // </struct> </value> </fault> </methodResponse>, with nothing between them.
        for (var i = 0; i < 4; i++)
        {
            if (reader.NodeType != XmlNodeType.EndElement || (i < 3 && !Next(reader)))
            {
                return false;
            }
        }

        return seen;
    }

    // The reader stands on <member>; on return it stands on the node after </member>.
    private static bool ReadMember(XmlReader reader, out bool isFaultCode, out int? code)
    {
        isFaultCode = false;
        code = null;
        string? name = null;
        var hasValue = false;
        int? valueCode = null;
        if (!Next(reader))
        {
            return false;
        }

        while (reader.NodeType == XmlNodeType.Element)
        {
            if (IsPlain(reader, "name") && name is null)
            {
                if (reader.IsEmptyElement)
                {
                    name = "";
                    if (!Next(reader))
                    {
                        return false;
                    }
                }
                else if ((name = ReadText(reader, MaxNameLength)) is null)
                {
                    return false;
                }
            }
            else if (IsPlain(reader, "value") && !hasValue && name is not null)
            {
                // After its name, as the specification writes a member (Python would read a value
                // first as the key of the next pair).
                hasValue = true;
                if (!ReadValue(reader, out valueCode))
                {
                    return false;
                }
            }
            else
            {
                return false;
            }
        }

        if (reader.NodeType != XmlNodeType.EndElement || name is null || !hasValue)
        {
            return false;
        }

        isFaultCode = name == "faultCode";
        code = valueCode;
        return Next(reader);
    }

    // The reader stands on <value>; on return it stands on the node after </value>. The code is set
    // when the value is exactly one <i4> or <int> holding an integer.
    private static bool ReadValue(XmlReader reader, out int? code)
    {
        code = null;
        if (reader.IsEmptyElement)
        {
            return Next(reader);
        }

        var depth = reader.Depth;
        if (!Next(reader))
        {
            return false;
        }

        if (reader.NodeType == XmlNodeType.Element && (IsPlain(reader, "i4") || IsPlain(reader, "int")) && !reader.IsEmptyElement)
        {
            var text = ReadText(reader, MaxIntegerLength);
            if (text is null)
            {
                return false;
            }

            if (reader.NodeType == XmlNodeType.EndElement && reader.Depth == depth)
            {
                code = int.TryParse(text.AsSpan().Trim(" \t\r\n"), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed) ? parsed : null;
                return Next(reader);
            }
        }

        // Any other value (a string, a struct, ...): walk past it, bounding the depth.
        while (reader.Depth > depth || reader.NodeType != XmlNodeType.EndElement)
        {
            if (reader.Depth - depth > MaxDepth || !reader.Read())
            {
                return false;
            }
        }

        return Next(reader);
    }

    // The reader stands on a non-empty element whose content must be text only; on return it stands
    // on the node after its end tag. Null when the element holds other elements; TooLong when its
    // text is longer than any value worth comparing (read on in linear time, never concatenated:
    // a node could split it into thousands of CDATA sections).
    private static string? ReadText(XmlReader reader, int maxLength)
    {
        string? text = null;
        StringBuilder? pieces = null;
        var length = 0;
        while (reader.Read())
        {
            switch (reader.NodeType)
            {
                case XmlNodeType.Text or XmlNodeType.CDATA or XmlNodeType.Whitespace or XmlNodeType.SignificantWhitespace:
                    var value = reader.Value;
                    length += value.Length;
                    if (length > maxLength)
                    {
                        continue;
                    }

                    if (text is null)
                    {
                        text = value;
                    }
                    else
                    {
                        (pieces ??= new StringBuilder(text)).Append(value);
                    }

                    break;
                case XmlNodeType.EndElement:
                    return !Next(reader) ? null
                        : length > maxLength ? TooLong
                        : pieces?.ToString() ?? text ?? "";
                default:
                    return null;
            }
        }

        return null;
    }

    // The reader stands on a non-empty element; moves to its first child, which must be <name/> and
    // the only element child (checked when the parent's end is reached).
    private static bool EnterOnly(XmlReader reader, string name)
    {
        if (reader.IsEmptyElement || !Next(reader) || reader.NodeType != XmlNodeType.Element || !IsPlain(reader, name) || reader.IsEmptyElement)
        {
            return false;
        }

        return true;
    }

    // Reads on, past insignificant whitespace; text where structure is expected stops the walk.
    // (XmlReader reports a run of 4,096 or more whitespace characters as Text.)
    private static bool Next(XmlReader reader)
    {
        while (reader.Read())
        {
            if (reader.NodeType is XmlNodeType.Whitespace or XmlNodeType.SignificantWhitespace
                || (reader.NodeType == XmlNodeType.Text && reader.Value.AsSpan().TrimStart(" \t\r\n").IsEmpty))
            {
                continue;
            }

            return true;
        }

        return false;
    }

    private static bool IsPlain(XmlReader reader, string name) =>
        reader.NodeType == XmlNodeType.Element && reader.NamespaceURI.Length == 0 && reader.LocalName == name;
}
