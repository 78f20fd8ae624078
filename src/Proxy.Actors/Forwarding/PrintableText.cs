namespace Proxy.Actors.Forwarding;

/// <summary>
/// Text from the outside (a client's target, a node's bytes quoted in an exception message) as it
/// may go into a log line or a span: anything but visible ASCII and space as <c>\xNN</c>, so a byte
/// a client or a node chose cannot break a line, forge one, or drive an operator's terminal.
/// </summary>
public static class PrintableText
{
    public static string Of(string text)
    {
        if (text.AsSpan().IndexOfAnyExceptInRange('\x20', '\x7e') < 0)
        {
            return text;
        }

        var printable = new System.Text.StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            if (c is >= '\x20' and <= '\x7e')
            {
                printable.Append(c);
            }
            else
            {
                printable.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\x{(int)c:X2}");
            }
        }

        return printable.ToString();
    }
}
