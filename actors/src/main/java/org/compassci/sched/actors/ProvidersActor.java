package org.compassci.sched.actors;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * The VM and container providers' sockets: starts a {@link ProviderActor} for each, and knows
 * which socket is each host's, so that {@code terminate-job} reaches the provider that holds the
 * job. A host that connects again while its older socket is still open takes over; the older
 * socket is closed.
 */
public final class ProvidersActor extends AbstractBehavior<ProvidersActor.Command> {

  public sealed interface Command {}

  /**
   * A provider's socket is being opened: answered with the actor that serves it, which the
   * socket then gives its outgoing side ({@link ProviderActor.Attach}). {@code connection}: its
   * TCP connection.
   */
  public record Connect(String host, org.compassci.sched.model.ConnectionId connection,
      ActorRef<ActorRef<ProviderActor.Command>> replyTo) implements Command {}

  /** Tell {@code host}'s provider to stop the job; answers whether a socket of it was open. */
  public record TerminateJob(long jobId, String host, ActorRef<Boolean> replyTo) implements Command {}

  public record GetStats(ActorRef<ActorStats> replyTo) implements Command {}

  /**
   * The scheduler stops (after the matcher stopped parking): every socket is closed with 1001
   * once what it was sent is written, so that a boot-job on its way is not cut off with the
   * connection; answered when all their connections have closed.
   */
  public record CloseAll(ActorRef<Done> replyTo) implements Command {}

  /**
   * An HTTP connection has closed (any: most are not a provider's). A provider's socket hears
   * of it: at shutdown, what it wrote has then left.
   */
  public record ConnectionClosed(org.compassci.sched.model.ConnectionId connection) implements Command {}

  private record Ended(String host, ActorRef<ProviderActor.Command> provider,
      org.compassci.sched.model.ConnectionId connection) implements Command {}

  private record SocketDone(ActorRef<ProviderActor.Command> provider) implements Command {}

  /** The longest a socket is waited for at shutdown: the peer may not read its close. */
  static final Duration CLOSE_WAIT = Duration.ofSeconds(30);

  private final ActorRef<MatcherActor.Command> matcher;
  private final ActorRef<HostRegistryActor.Command> hosts;
  private final Duration requestTtl;
  private final Duration sendWithin;
  private final Duration linger;
  private final Activity activity;
  /** Each connected host's socket; an older socket of the same host may still be closing. */
  private final Map<String, ActorRef<ProviderActor.Command>> current = new HashMap<>();
  /** Every socket's actor until it stops, the replaced ones too. */
  private final Set<ActorRef<ProviderActor.Command>> live = new HashSet<>();
  /** Each socket's actor by its connection, until it stops. */
  private final Map<org.compassci.sched.model.ConnectionId, ActorRef<ProviderActor.Command>> byConnection =
      new HashMap<>();
  /** CloseAll came: the scheduler stops, and a socket that opens now is closed at once. */
  private boolean stopping;
  /** At shutdown: the sockets not closed yet, and who waits for them all. */
  private final Set<ActorRef<ProviderActor.Command>> closingAll = new HashSet<>();
  private final List<ActorRef<Done>> closeWaiters = new ArrayList<>();
  private long connects;
  private long terminates;

  /**
   * {@code requestTtl}: how long a standing request stands; {@code handOut}: how long a hand-out
   * waits for its box's first report (the socket has half of it to send the boot-job);
   * {@code linger}: how long a closed socket's actor stays to send hand-outs that were on their
   * way back to the queue.
   */
  public static Behavior<Command> create(ActorRef<MatcherActor.Command> matcher,
      ActorRef<HostRegistryActor.Command> hosts, Duration requestTtl, Duration handOut, Duration linger,
      Clock clock) {
    return Behaviors.setup(ctx -> new ProvidersActor(ctx, matcher, hosts, requestTtl, handOut, linger, clock));
  }

  private ProvidersActor(ActorContext<Command> ctx, ActorRef<MatcherActor.Command> matcher,
      ActorRef<HostRegistryActor.Command> hosts, Duration requestTtl, Duration handOut, Duration linger,
      Clock clock) {
    super(ctx);
    this.matcher = matcher;
    this.hosts = hosts;
    this.requestTtl = requestTtl;
    this.sendWithin = handOut.dividedBy(2);
    this.linger = linger;
    this.activity = new Activity(clock);
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Connect.class, this::onConnect)
        .onMessage(TerminateJob.class, this::onTerminateJob)
        .onMessage(Ended.class, this::onEnded)
        .onMessage(GetStats.class, this::onGetStats)
        .onMessage(CloseAll.class, this::onCloseAll)
        .onMessage(ConnectionClosed.class, c -> {
          ActorRef<ProviderActor.Command> p = byConnection.get(c.connection());
          if (p != null) {
            p.tell(new ProviderActor.ConnectionClosed());
          }
          return this;
        })
        .onMessage(SocketDone.class, d -> {
          socketClosed(d.provider());
          return this;
        })
        .build();
  }

  private Behavior<Command> onConnect(Connect c) {
    activity.touch();
    connects++;
    ActorRef<ProviderActor.Command> provider = getContext().spawnAnonymous(ProviderActor.create(
        c.host(), c.connection(), matcher, hosts, requestTtl, sendWithin, linger));
    getContext().watchWith(provider, new Ended(c.host(), provider, c.connection()));
    live.add(provider);
    if (c.connection() != null) {
      byConnection.put(c.connection(), provider);
    }
    if (stopping) {
      // it passed the drain's turning away just before: closed with the others
      goAway(provider);
    }
    ActorRef<ProviderActor.Command> older = current.put(c.host(), provider);
    if (older != null) {
      older.tell(new ProviderActor.Replaced());
    }
    c.replyTo().tell(provider);
    return this;
  }

  private Behavior<Command> onTerminateJob(TerminateJob t) {
    activity.touch();
    terminates++;
    ActorRef<ProviderActor.Command> provider = current.get(t.host());
    if (provider == null) {
      t.replyTo().tell(false);
    } else {
      provider.tell(new ProviderActor.TerminateJob(t.jobId(), t.replyTo()));
    }
    return this;
  }

  private Behavior<Command> onEnded(Ended e) {
    current.remove(e.host(), e.provider());
    live.remove(e.provider());
    if (e.connection() != null) {
      byConnection.remove(e.connection(), e.provider());
    }
    socketClosed(e.provider());
    return this;
  }

  private Behavior<Command> onCloseAll(CloseAll c) {
    stopping = true;
    closeWaiters.add(c.replyTo());
    live.forEach(this::goAway);
    answerCloseWaiters();
    return this;
  }

  private void goAway(ActorRef<ProviderActor.Command> p) {
    if (closingAll.add(p)) {
      // an ask per socket, not one message adapter: an adapter of the same class replaces the
      // one before, and every answer would name the last socket. Its timeout only bounds the
      // wait here; the shutdown's own deadline is the caller's
      getContext().ask(Done.class, p, CLOSE_WAIT, ProviderActor.GoAway::new, (ok, failed) -> new SocketDone(p));
    }
  }

  private void socketClosed(ActorRef<ProviderActor.Command> provider) {
    if (closingAll.remove(provider)) {
      answerCloseWaiters();
    }
  }

  private void answerCloseWaiters() {
    if (closingAll.isEmpty()) {
      closeWaiters.forEach(w -> w.tell(Done.getInstance()));
      closeWaiters.clear();
    }
  }

  private Behavior<Command> onGetStats(GetStats g) {
    g.replyTo().tell(new ActorStats("providers", Map.of("connected_hosts", (long) current.size(),
        "sockets", (long) live.size(), "connects", connects, "terminates", terminates),
        activity.messages(), activity.last()));
    return this;
  }
}
