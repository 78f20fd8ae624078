using System.Net.Http.Headers;
using System.Text;
using Microsoft.Net.Http.Headers;
using Proxy.Actors.Forwarding;
using Proxy.Actors.Requests;

namespace Proxy.Host.Forwarding;

/// <summary>Writes a request's outcome to the client: the node's answer, or the proxy's own 502/503/504.</summary>
internal static class ProxyResponseWriter
{
    /// <summary>The status logged and counted for a client that left while its answer streamed (nginx's 499).</summary>
    public const int ClientClosed = 499;

    /// <summary>
    /// Writes the outcome; returns the status the client was given (499 when it left mid-answer),
    /// and why the node's answer broke off after its head was sent, if it did.
    /// <paramref name="streamIdle"/> bounds each wait for the next bytes of a streamed answer.
    /// </summary>
    public static async Task<Written> WriteAsync(HttpContext context, RequestOutcome outcome, TimeSpan streamIdle)
    {
        switch (outcome)
        {
            case Delivered delivered:
                using (delivered.Answer)
                {
                    return await WriteAnswerAsync(context, delivered.Answer, streamIdle).ConfigureAwait(false);
                }

            case Refused { Status: 499 }:
                // The client is gone; there is nobody to write to.
                return new Written(499);
            case Refused refused:
                try
                {
                    await WriteRefusalAsync(context, refused).ConfigureAwait(false);
                }
                catch (Exception) when (context.RequestAborted.IsCancellationRequested)
                {
                    // The client left (or the stop cut the connection) before the refusal went out:
                    // logged as such, not lost with an exception.
                    return new Written(ClientClosed);
                }

                return new Written(refused.Status);
            default:
                return new Written(0);
        }
    }

    /// <summary>What the client was given: <paramref name="Status"/>, and <paramref name="Cut"/>, why the node's answer broke off midway (null: it did not).</summary>
    public readonly record struct Written(int Status, string? Cut = null);

    private static async Task<Written> WriteAnswerAsync(HttpContext context, UpstreamAnswer answer, TimeSpan streamIdle)
    {
        var response = context.Response;
        var upstream = answer.Response;
        response.StatusCode = answer.Status;
        var connectionTokens = upstream.Headers.NonValidated.TryGetValues(HeaderNames.Connection, out var connection)
            ? HopByHopHeaders.NamedByConnection(connection.ToString())
            : null;
        try
        {
            CopyHeaders(upstream.Headers, response.Headers, connectionTokens);
            CopyHeaders(upstream.Content.Headers, response.Headers, connectionTokens);
            if (answer.Status == StatusCodes.Status204NoContent)
            {
                // A 204 has no body, so no length (RFC 9110 section 8.6); Kestrel refuses to send one.
                response.Headers.ContentLength = null;
            }
        }
        catch (InvalidOperationException ex)
        {
            // A header value no HTTP/1.1 message may carry (a control character): the node's answer
            // cannot be relayed as it is, and is not half-relayed either.
            response.Headers.Clear();
            return await WriteAsync(context, new Refused(StatusCodes.Status502BadGateway, $"the node's answer has a header that cannot be forwarded: {ex.Message}", null, []), streamIdle).ConfigureAwait(false);
        }

        if (HttpMethods.IsHead(context.Request.Method) || answer.Status is StatusCodes.Status204NoContent or StatusCodes.Status304NotModified)
        {
            return new Written(answer.Status);
        }

        if (answer.Complete)
        {
            response.ContentLength ??= answer.Buffered.Length;
            await response.Body.WriteAsync(answer.Buffered, context.RequestAborted).ConfigureAwait(false);
            return new Written(answer.Status);
        }

        try
        {
            await response.Body.WriteAsync(answer.Buffered, context.RequestAborted).ConfigureAwait(false);
            await StreamRestAsync(answer.Rest!, response.Body, streamIdle, answer.Buffered.Length, context.RequestAborted).ConfigureAwait(false);
            return new Written(answer.Status);
        }
        catch (Exception) when (context.RequestAborted.IsCancellationRequested)
        {
            return new Written(ClientClosed);
        }
        catch (StreamCut cut)
        {
            // The node broke off or stalled mid-body and the head is already sent: abort so the
            // client sees a truncated answer as such, not as a complete one.
            context.Abort();
            return new Written(answer.Status, cut.Message);
        }
        catch (Exception)
        {
            // Writing to the client failed before Kestrel noticed it left: nothing to blame the node for.
            context.Abort();
            return new Written(answer.Status);
        }
    }

    // Like CopyToAsync, but a node that stops sending for streamIdle (nginx's proxy_read_timeout)
    // ends the answer instead of holding the client and the connection for ever. Throws StreamCut,
    // naming the bytes relayed, when the node breaks off.
    private static async Task StreamRestAsync(Stream rest, Stream client, TimeSpan streamIdle, long relayed, CancellationToken clientGone)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(16 * 1024);
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(clientGone);
        try
        {
            while (true)
            {
                idle.CancelAfter(streamIdle);
                int read;
                try
                {
                    read = await rest.ReadAsync(buffer, idle.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!clientGone.IsCancellationRequested)
                {
                    throw new StreamCut($"the answer stalled for {streamIdle.TotalSeconds:0.###} s after {relayed} bytes");
                }
                catch (Exception ex) when (ex is IOException or HttpRequestException && !clientGone.IsCancellationRequested)
                {
                    throw new StreamCut($"the answer broke off after {relayed} bytes: {PrintableText.Of(ex.Message)}");
                }

                if (read == 0)
                {
                    return;
                }

                idle.CancelAfter(Timeout.InfiniteTimeSpan);
                await client.WriteAsync(buffer.AsMemory(0, read), clientGone).ConfigureAwait(false);
                relayed += read;
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private sealed class StreamCut(string message) : Exception(message);

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
