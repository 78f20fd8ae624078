using System.Net.Http.Headers;
using System.Text;
using Microsoft.Net.Http.Headers;
using Proxy.Actors.Forwarding;
using Proxy.Actors.Requests;

namespace Proxy.Host.Forwarding;

/// <summary>Writes a request's outcome to the client: the node's answer, or the proxy's own 502/503/504.</summary>
internal static class ProxyResponseWriter
{
    public static async Task WriteAsync(HttpContext context, RequestOutcome outcome)
    {
        switch (outcome)
        {
            case Delivered delivered:
                using (delivered.Answer)
                {
                    await WriteAnswerAsync(context, delivered.Answer).ConfigureAwait(false);
                }

                break;
            case Refused { Status: 499 }:
                // The client is gone; there is nobody to write to.
                break;
            case Refused refused:
                await WriteRefusalAsync(context, refused).ConfigureAwait(false);
                break;
        }
    }

    private static async Task WriteAnswerAsync(HttpContext context, UpstreamAnswer answer)
    {
        var response = context.Response;
        var upstream = answer.Response;
        response.StatusCode = answer.Status;
        var connectionTokens = upstream.Headers.NonValidated.TryGetValues(HeaderNames.Connection, out var connection)
            ? HopByHopHeaders.NamedByConnection(connection.ToString())
            : null;
        CopyHeaders(upstream.Headers, response.Headers, connectionTokens);
        CopyHeaders(upstream.Content.Headers, response.Headers, connectionTokens);

        if (HttpMethods.IsHead(context.Request.Method) || answer.Status is StatusCodes.Status204NoContent or StatusCodes.Status304NotModified)
        {
            return;
        }

        if (answer.Complete)
        {
            response.ContentLength ??= answer.Buffered.Length;
            await response.Body.WriteAsync(answer.Buffered, context.RequestAborted).ConfigureAwait(false);
            return;
        }

        try
        {
            await response.Body.WriteAsync(answer.Buffered, context.RequestAborted).ConfigureAwait(false);
            await answer.Rest!.CopyToAsync(response.Body, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception) when (!context.RequestAborted.IsCancellationRequested)
        {
            // The node broke off mid-body and the head is already sent: abort so the client sees
            // a truncated answer as such, not as a complete one.
            context.Abort();
        }
    }

    private static void CopyHeaders(HttpHeaders source, IHeaderDictionary target, string[]? connectionTokens)
    {
        foreach (var (name, values) in source.NonValidated)
        {
            if (HopByHopHeaders.IsHopByHop(name, connectionTokens))
            {
                continue;
            }

            target[name] = values.Count == 1 ? values.ToString() : values.ToArray();
        }
    }

    private static Task WriteRefusalAsync(HttpContext context, Refused refused)
    {
        var response = context.Response;
        response.StatusCode = refused.Status;
        response.ContentType = "text/plain; charset=utf-8";
        if (refused.RetryAfter is { } retryAfter)
        {
            response.Headers[HeaderNames.RetryAfter] = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        var body = Encoding.UTF8.GetBytes($"{refused.Status} {ReasonPhrase(refused.Status)}: {refused.Reason.ReplaceLineEndings(" ")}\n");
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body, context.RequestAborted).AsTask();
    }

    private static string ReasonPhrase(int status) => status switch
    {
        400 => "Bad Request",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    };
}
