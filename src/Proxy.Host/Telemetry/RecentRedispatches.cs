using System.Diagnostics;
using Proxy.Actors.Requests;

namespace Proxy.Host.Telemetry;

/// <summary>One redispatched request as <c>/debug/redispatches</c> shows it.</summary>
public sealed record RedispatchedRequest(DateTime At, string Method, string Target, int Status, string? TraceId, IReadOnlyList<Attempt> Tries);

/// <summary>
/// The last <see cref="Capacity"/> requests that went to more than one node, newest first, each
/// with its trace id: where an operator starts when a node is being redispatched from. Only
/// redispatched requests reach it, so the lock is off the common path.
/// </summary>
public sealed class RecentRedispatches
{
    public const int Capacity = 20;

    private readonly RedispatchedRequest[] _ring = new RedispatchedRequest[Capacity];
    private readonly Lock _lock = new();
    private long _count;

    /// <summary>Records a request if it was tried on more than one node.</summary>
    public void Record(string method, string target, int status, ActivityTraceId traceId, IReadOnlyList<Attempt> tries)
    {
        if (tries.Count < 2)
        {
            return;
        }

        var entry = new RedispatchedRequest(DateTime.UtcNow, method, target, status, traceId == default ? null : traceId.ToHexString(), tries);
        lock (_lock)
        {
            _ring[_count++ % Capacity] = entry;
        }
    }

    /// <summary>Newest first.</summary>
    public IReadOnlyList<RedispatchedRequest> Read()
    {
        lock (_lock)
        {
            var length = (int)Math.Min(_count, Capacity);
            var result = new RedispatchedRequest[length];
            for (var i = 0; i < length; i++)
            {
                result[i] = _ring[(_count - 1 - i) % Capacity];
            }

            return result;
        }
    }
}
