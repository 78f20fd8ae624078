namespace Proxy.Actors.Classification;

/// <summary>The parts of a <c>Content-Type</c> value the rules look at.</summary>
internal static class MediaType
{
    /// <summary>The answer's Content-Type value, or null when it has none (no allocation for a single value).</summary>
    public static string? Of(IAnswerView answer) =>
        answer.ContentHeaders.NonValidated.TryGetValues("Content-Type", out var values) ? values.ToString() : null;

    /// <summary>"type/subtype" without parameters or surrounding whitespace, and the parameters after the first ';'.</summary>
    public static ReadOnlySpan<char> Essence(ReadOnlySpan<char> contentType, out ReadOnlySpan<char> parameters)
    {
        var semicolon = contentType.IndexOf(';');
        parameters = semicolon >= 0 ? contentType[(semicolon + 1)..] : [];
        return (semicolon >= 0 ? contentType[..semicolon] : contentType).Trim();
    }
}
