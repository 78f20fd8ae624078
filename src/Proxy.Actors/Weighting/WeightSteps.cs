namespace Proxy.Actors.Weighting;

/// <summary>The arithmetic of marking a node down and giving its weight back step by step.</summary>
public static class WeightSteps
{
    /// <summary>The weight of a node just marked overloaded: almost none of the new traffic, but not zero.</summary>
    public const int Marked = 1;

    /// <summary>The weight after one restore tick: up by a fixed share of the configured weight, capped at it.</summary>
    public static int Next(int current, int configured, int steps)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        var step = Math.Max(1, (configured + steps - 1) / steps);
        return Math.Min(configured, current + step);
    }
}
