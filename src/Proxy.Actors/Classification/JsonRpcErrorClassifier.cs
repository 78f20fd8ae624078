using System.Text.Json;
using Akka.Actor;

namespace Proxy.Actors.Classification;

/// <summary>
/// <c>JsonRpcError</c>, the sample custom classifier: matches a JSON-RPC 2.0 answer whose
/// <c>error.code</c> is the configured code (e.g. -32000 "server overloaded"), in a single response
/// or in any response of a batch. It reads the buffered bytes with <see cref="Utf8JsonReader"/>, so
/// judging an answer allocates nothing.
/// </summary>
public sealed class JsonRpcErrorClassifier(string name, Verdict verdict, long code) : ClassifierActor(name, verdict)
{
    public const string TypeName = "JsonRpcError";

    public static Props Props(string name, Verdict verdict, long code) =>
        Akka.Actor.Props.Create(() => new JsonRpcErrorClassifier(name, verdict, code));

    protected override bool Matches(IAnswerView answer)
    {
        // A truncated document cannot be judged; a huge answer is not an error object anyway.
        if (!answer.Complete || answer.Buffered.IsEmpty)
        {
            return false;
        }

        try
        {
            var reader = new Utf8JsonReader(answer.Buffered.Span);
            if (!reader.Read())
            {
                return false;
            }

            if (reader.TokenType == JsonTokenType.StartObject)
            {
                return ResponseHasErrorCode(ref reader);
            }

            if (reader.TokenType == JsonTokenType.StartArray)
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
                {
                    if (ResponseHasErrorCode(ref reader))
                    {
                        return true;
                    }
                }
            }

            return false;
        }
        catch (JsonException)
        {
            // Not JSON, so not a JSON-RPC error: nothing to judge (and nothing worth a warning).
            return false;
        }
    }

    protected override string Describe() => $"Code={code}";

    // The reader stands on a response object's StartObject; this consumes the whole object.
    private bool ResponseHasErrorCode(ref Utf8JsonReader reader)
    {
        var found = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isError = reader.ValueTextEquals("error"u8);
            reader.Read();
            if (!isError || reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                continue;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isCode = reader.ValueTextEquals("code"u8);
                reader.Read();
                if (isCode && reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var value) && value == code)
                {
                    found = true;
                }

                reader.Skip();
            }
        }

        return found;
    }
}
