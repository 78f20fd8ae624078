using System.Text.Json;
using Akka.Actor;

namespace Proxy.Actors.Classification;

/// <summary>
/// <c>JsonRpcError</c>, the sample custom classifier: matches a JSON-RPC 2.0 response whose
/// top-level <c>error.code</c> is the configured code (e.g. -32000 "server overloaded"), as a single
/// response or as any response of a batch. Only a whole, valid JSON document counts, and only a
/// response object (<c>"jsonrpc": "2.0"</c>, an <c>id</c>, an <c>error</c> object and no
/// <c>result</c>): an <c>error</c> nested inside a result is a look-alike and is delivered. It reads
/// the body with <see cref="Utf8JsonReader"/>, so judging an answer allocates nothing.
/// </summary>
public sealed class JsonRpcErrorClassifier(string name, Verdict verdict, long code) : ClassifierActor(name, verdict)
{
    public const string TypeName = "JsonRpcError";

    public static Props Props(string name, Verdict verdict, long code) =>
        Akka.Actor.Props.Create(() => new JsonRpcErrorClassifier(name, verdict, code));

    /// <summary>The rule's screen (<see cref="ClassifierSpec.Screen"/>): a whole answer that starts like a JSON object or array.</summary>
    public static bool CouldMatch(IAnswerView answer)
    {
        if (!answer.ContentComplete)
        {
            return false;
        }

        var body = answer.Content.Span.TrimStart(" \t\r\n"u8);
        return !body.IsEmpty && body[0] is (byte)'{' or (byte)'[';
    }

    protected override bool Matches(IAnswerView answer)
    {
        // A truncated document cannot be judged; and what is not JSON is not a JSON-RPC answer.
        if (!answer.ContentComplete || answer.Content.IsEmpty || !IsJsonContentType(answer))
        {
            return false;
        }

        try
        {
            var reader = new Utf8JsonReader(answer.Content.Span);
            if (!reader.Read())
            {
                return false;
            }

            var found = false;
            if (reader.TokenType == JsonTokenType.StartObject)
            {
                found = ResponseHasErrorCode(ref reader);
            }
            else if (reader.TokenType == JsonTokenType.StartArray)
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
                {
                    found |= ResponseHasErrorCode(ref reader);
                }

                if (reader.TokenType != JsonTokenType.EndArray)
                {
                    return false;
                }
            }

            // One document, whole: anything after it (the reader throws on it) and it is not JSON-RPC.
            return found && !reader.Read();
        }
        catch (JsonException)
        {
            // Not JSON, so not a JSON-RPC error: nothing to judge (and nothing worth a warning).
            return false;
        }
    }

    protected override string Describe() => $"Code={code}";

    private static bool IsJsonContentType(IAnswerView answer)
    {
        if (MediaType.Of(answer) is not { } contentType)
        {
            return true;
        }

        var media = MediaType.Essence(contentType, out _);
        return media.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || media.Equals("application/json-rpc", StringComparison.OrdinalIgnoreCase)
            || media.EndsWith("+json", StringComparison.OrdinalIgnoreCase);
    }

    // The reader stands on a response object's StartObject; this consumes the whole object and says
    // whether it is a JSON-RPC 2.0 error response with the configured code.
    private bool ResponseHasErrorCode(ref Utf8JsonReader reader)
    {
        bool? codeMatches = null;
        bool version = false, id = false, result = false, errors = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("jsonrpc"u8))
            {
                reader.Read();
                version = reader.TokenType == JsonTokenType.String && reader.ValueTextEquals("2.0"u8);
                reader.Skip();
            }
            else if (reader.ValueTextEquals("id"u8))
            {
                id = true;
                reader.Read();
                reader.Skip();
            }
            else if (reader.ValueTextEquals("result"u8))
            {
                result = true;
                reader.Read();
                reader.Skip();
            }
            else if (reader.ValueTextEquals("error"u8))
            {
                reader.Read();
                if (errors || reader.TokenType != JsonTokenType.StartObject)
                {
                    codeMatches = false; // Two errors, or one that is not an object: not a response we trust.
                    reader.Skip();
                    continue;
                }

                errors = true;
                codeMatches = ErrorCodeMatches(ref reader);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return version && id && !result && codeMatches == true;
    }

    // The reader stands on the error object's StartObject; this consumes it.
    private bool ErrorCodeMatches(ref Utf8JsonReader reader)
    {
        var codes = 0;
        var matches = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isCode = reader.ValueTextEquals("code"u8);
            reader.Read();
            if (isCode)
            {
                codes++;
                matches = reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var value) && value == code;
            }

            reader.Skip();
        }

        return matches && codes == 1;
    }
}
