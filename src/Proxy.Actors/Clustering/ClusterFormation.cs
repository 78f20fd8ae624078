using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace Proxy.Actors.Clustering;

/// <summary>
/// Forms the fleet and keeps it one (ADR 0014). Lives at <c>/user/formation</c> of every membership
/// incarnation and asks the contact points (the configured seeds, the addresses a DNS name resolves
/// to, and the members the previous incarnation knew) who they are, every <c>round</c>:
/// <list type="bullet">
/// <item>while not a member: if a contact is in a cluster, join it; if none is, the lowest address
/// among this member and the contacts that answered founds one, once the same set has answered
/// twice and it holds every contact point, or has held for five rounds. Seed order and which
/// member starts first do not matter.</item>
/// <item>once a member, every second round: a contact that answers from another cluster means the fleet is split (a
/// partition that healed after each side formed, or a seed restarted alone). The smaller cluster
/// (on a tie, the one whose lowest address is higher) yields: its members start a new incarnation
/// that joins the larger one. Members of the larger cluster tell the smaller one so, in case its
/// members do not list them.</item>
/// </list>
/// </summary>
public sealed class ClusterFormation : ReceiveActor, IWithTimers
{
    private const string TickKey = "tick";

    // Rounds the same set of answering members must hold before the lowest founds a cluster
    // without hearing from every contact point.
    private const int FoundingPatience = 5;

    // Once a member, look for another cluster every this many rounds.
    private const int ReunionEvery = 2;

    // A Rejoin names addresses to probe, never to believe: at most this many, for this many rounds.
    private const int MaxHints = 16;
    private const int HintRounds = 5;

    // No fleet is this large; a longer member list is not an answer.
    private const int MaxMembers = 256;

    private readonly Cluster _cluster;
    private readonly Address _self;
    private readonly Func<Task<IReadOnlyList<Address>>> _contacts;
    private readonly IReadOnlyList<Address> _knownPeers;
    private readonly Action<IReadOnlyList<string>> _yield;
    private readonly TimeSpan _round;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<Address, Introduction> _answers = [];
    private string _lastCandidates = "";
    private int _stableRounds;
    private IReadOnlyList<Address> _expected = [];
    private readonly Dictionary<Address, int> _hints = [];
    private int _rounds;
    private DateTime _joinRequestedAt = DateTime.MinValue;
    private bool _yielded;

    /// <param name="contacts">Looks up the contact points (may resolve DNS); called once per round.</param>
    /// <param name="knownPeers">Members the previous incarnation of this member knew.</param>
    /// <param name="yield">Called once when this incarnation must give way to a larger cluster, with that cluster's members.</param>
    /// <param name="round">How often contacts are asked (the reunion check runs every second round once a member).</param>
    public ClusterFormation(Func<Task<IReadOnlyList<Address>>> contacts, IReadOnlyList<Address> knownPeers, Action<IReadOnlyList<string>> yield, TimeSpan round)
    {
        _cluster = Cluster.Get(Context.System);
        _self = _cluster.SelfAddress;
        _contacts = contacts;
        _knownPeers = knownPeers;
        _yield = yield;
        _round = round;

        Forming();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(Func<Task<IReadOnlyList<Address>>> contacts, IReadOnlyList<Address> knownPeers, Action<IReadOnlyList<string>> yield, TimeSpan round) =>
        Akka.Actor.Props.Create(() => new ClusterFormation(contacts, knownPeers, yield, round));

    protected override void PreStart()
    {
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.MemberUp));
        Timers.StartPeriodicTimer(TickKey, Tick.Instance, TimeSpan.Zero, _round);
    }

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private void Forming()
    {
        Receive<Tick>(_ =>
        {
            DecideWhileForming();
            LookUpContacts();
        });
        CommonReceives();
        Receive<ClusterEvent.MemberUp>(up =>
        {
            if (up.Member.Address.Equals(_self))
            {
                _log.Info("This member is up in the proxy cluster");
                _answers.Clear();
                Timers.StartPeriodicTimer(TickKey, Tick.Instance, _round * ReunionEvery);
                Become(Member);
            }
        });
        Receive<Rejoin>(_ => { });
    }

    private void Member()
    {
        Receive<Tick>(_ =>
        {
            CheckForOtherClusters();
            LookUpContacts();
        });
        CommonReceives();
        Receive<ClusterEvent.MemberUp>(_ => { });

        // Another cluster says it is the larger: probe the members it names; only their own
        // answers can make this one give way (a stranger's Rejoin cannot eject anyone).
        Receive<Rejoin>(r =>
        {
            var ours = Members();
            foreach (var address in Parse(r.Members.Take(MaxMembers)).Where(a => !ours.Contains(a) && !a.Equals(_self)))
            {
                if (_hints.Count >= MaxHints && !_hints.ContainsKey(address))
                {
                    break;
                }

                _hints[address] = _rounds + HintRounds;
            }
        });
    }

    private void CommonReceives()
    {
        Receive<ContactsFound>(found =>
        {
            _rounds++;
            foreach (var expired in _hints.Where(h => h.Value < _rounds).Select(h => h.Key).ToArray())
            {
                _hints.Remove(expired);
            }

            var ours = Members();
            _expected = found.Contacts.Concat(_knownPeers).Where(c => !c.Equals(_self)).Distinct().ToArray();
            foreach (var contact in _expected.Concat(_hints.Keys).Distinct())
            {
                if (!ours.Contains(contact))
                {
                    Context.ActorSelection(new RootActorPath(contact) / "user" / "formation").Tell(WhoAreYou.Instance);
                }
            }
        });
        Receive<Status.Failure>(f => _log.Warning("Could not look up the cluster's contact points: {0}", f.Cause.Message));
        Receive<WhoAreYou>(_ =>
        {
            var up = IsUp();
            Sender.Tell(new Introduction(_self.ToString(), up ? Members().Select(a => a.ToString()).ToArray() : [], up));
        });
        Receive<Introduction>(i =>
        {
            // Only an answer to a probe of ours, from the member it names, with a plausible list.
            if (Address.TryParse(i.Address, out var address)
                && !address.Equals(_self)
                && address.Equals(Sender.Path.Address)
                && (_expected.Contains(address) || _hints.ContainsKey(address))
                && i.Members.Length <= MaxMembers)
            {
                _answers[address] = i;
            }
        });
    }

    private void LookUpContacts() => _contacts().PipeTo(Self, success: found => new ContactsFound(found));

    private void DecideWhileForming()
    {
        var answers = _answers.Values.ToArray();
        _answers.Clear();
        if (IsUp() || DateTime.UtcNow - _joinRequestedAt < _round * 10)
        {
            return;
        }

        var cluster = answers.FirstOrDefault(a => a.Up && a.Members.Length > 0);
        if (cluster is not null)
        {
            var seeds = Parse(cluster.Members).Where(a => !a.Equals(_self)).ToList();
            _log.Info("Joining the proxy cluster of {0}", string.Join(", ", seeds));
            _joinRequestedAt = DateTime.UtcNow;
            _cluster.JoinSeedNodes(seeds);
            return;
        }

        // Nobody is in a cluster yet: the lowest address of those that answered founds one, once
        // the same set has answered twice and every contact point is among them, or, when some
        // never answer (down, or still starting), once the set has held for FoundingPatience
        // rounds: members that start a second apart then found one cluster, not two.
        var candidates = answers.Select(a => Address.Parse(a.Address)).Append(_self).OrderBy(a => a, AddressOrder.Instance).ToList();
        var signature = string.Join(",", candidates);
        _stableRounds = signature == _lastCandidates ? _stableRounds + 1 : 0;
        _lastCandidates = signature;
        var everyoneAnswered = _expected.All(candidates.Contains);
        if (candidates[0].Equals(_self) && (_stableRounds >= FoundingPatience || (everyoneAnswered && _stableRounds >= 1)))
        {
            _log.Info("Founding the proxy cluster: lowest address of those that answered ({0}; expected {1})", signature, _expected.Count + 1);
            _joinRequestedAt = DateTime.UtcNow;
            _cluster.Join(_self);
        }
    }

    private void CheckForOtherClusters()
    {
        var answers = _answers.Values.ToArray();
        _answers.Clear();
        foreach (var other in answers.Where(a => a.Up && a.Members.Length > 0))
        {
            ConsiderYielding(other.Members);
            if (!_yielded && !Parse(other.Members).Contains(_self))
            {
                // They are the smaller one; they may not list us, so say so.
                Context.ActorSelection(new RootActorPath(Address.Parse(other.Address)) / "user" / "formation")
                    .Tell(new Rejoin(Members().Select(a => a.ToString()).ToArray()));
            }
        }
    }

    private void ConsiderYielding(string[] otherMembers)
    {
        var theirs = Parse(otherMembers).ToHashSet();
        var ours = Members();
        if (_yielded || theirs.Count == 0 || theirs.Contains(_self) || theirs.Overlaps(ours))
        {
            return;
        }

        var theyWin = theirs.Count > ours.Count
            || (theirs.Count == ours.Count && AddressOrder.Instance.Compare(theirs.Min(AddressOrder.Instance)!, ours.Min(AddressOrder.Instance)!) < 0);
        if (theyWin)
        {
            _yielded = true;
            _log.Warning(
                "The proxy fleet is split: this cluster ({0} members) gives way to the one of {1}; rejoining as a new incarnation",
                ours.Count,
                string.Join(", ", theirs));
            _yield(otherMembers);
        }
    }

    private bool IsUp() => _cluster.SelfMember.Status is MemberStatus.Up or MemberStatus.WeaklyUp;

    private HashSet<Address> Members() =>
        _cluster.State.Members.Where(m => m.Status is MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Leaving).Select(m => m.Address).ToHashSet();

    private static IEnumerable<Address> Parse(IEnumerable<string> addresses)
    {
        foreach (var text in addresses)
        {
            if (Address.TryParse(text, out var address))
            {
                yield return address;
            }
        }
    }

    /// <summary>Asks a member of another incarnation or cluster who it is; answered with <see cref="Introduction"/>.</summary>
    public sealed record WhoAreYou
    {
        public static WhoAreYou Instance { get; } = new();
    }

    /// <summary>A member's address and, when it is up, the members of its cluster.</summary>
    public sealed record Introduction(string Address, string[] Members, bool Up);

    /// <summary>A larger cluster found this one: give way if it really is larger.</summary>
    public sealed record Rejoin(string[] Members);

    private sealed record Tick
    {
        public static Tick Instance { get; } = new();
    }

    private sealed record ContactsFound(IReadOnlyList<Address> Contacts);
}

/// <summary>Addresses ordered by host, then port: the same order on every member.</summary>
public sealed class AddressOrder : IComparer<Address>
{
    public static AddressOrder Instance { get; } = new();

    public int Compare(Address? x, Address? y)
    {
        if (x is null || y is null)
        {
            return x is null ? (y is null ? 0 : -1) : 1;
        }

        var host = string.CompareOrdinal(x.Host, y.Host);
        return host != 0 ? host : Nullable.Compare(x.Port, y.Port);
    }
}
