package org.compassci.sched.actors;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.compassci.sched.boot.JobPackage;
import org.compassci.sched.model.Testbox;

/**
 * One VM and container provider's WebSocket. The provider's newest {@code host-job-request} is
 * its standing request for work: the matcher parks it as it parks a long-poll dispatch, and a
 * hand-out (durable before the matcher answers) goes to the socket as a boot-job. One request
 * gets at most one job; the provider asks again with the memory it has left. (Its reports go
 * from the socket to the lifecycle as {@code jobs/{id}/update} does: see ProviderRoutes.)
 *
 * <p>When the socket closes, the parked request is withdrawn at once. A hand-out that comes back
 * after that was never sent: it goes back to the queue at once. One sent but never acknowledged
 * goes back after the dispatch-ack timeout, as for any testbox.
 */
public final class ProviderActor extends AbstractBehavior<ProviderActor.Command> {

  public sealed interface Command {}

  /**
   * A {@code host-job-request}: the box it offers (hostname, arch, types, tags, free memory),
   * what else it told of itself, and where its machines reach the scheduler.
   */
  public record Request(Testbox box, ObjectNode info, JobPackage.Endpoint at) implements Command {}

  /** Send {@code terminate-job}; answers whether the socket was open to take it. */
  public record TerminateJob(long jobId, ActorRef<Boolean> replyTo) implements Command {}

  /**
   * The socket's outgoing side is up: from now on messages for the provider go to {@code out}.
   * Until then everything waits; a socket that never comes up stops the actor after a while.
   */
  public record Attach(ActorRef<Outbound> out) implements Command {}

  /** A message of the provider was refused at the edge: say so on the socket. */
  public record Refuse(long jobId, String message) implements Command {}

  /** Another socket of the same host took over: this one closes. */
  public record Replaced() implements Command {}

  /** The socket has closed, whoever closed it. */
  public record SocketClosed() implements Command {}

  /**
   * The scheduler stops: the socket is closed with 1001 after what is already on its way to the
   * provider, and {@code replyTo} is answered once its TCP connection has closed, so that what
   * was written has left (at once if it has). A hand-out that comes after the close was sent
   * goes back to the queue.
   */
  public record GoAway(ActorRef<Done> replyTo) implements Command {}

  /**
   * The socket's stream passed the boot-job of {@code jobId}'s hand-out {@code token} on to the
   * socket: from here on it counts as sent (told before the stream passes it on, so an end after
   * it is heard later; the mailbox keeps the order of tells that happen one after the other).
   */
  public record Written(long jobId, String token) implements Command {}

  /**
   * The socket's stream dropped the boot-job of {@code jobId}'s hand-out {@code token}: it
   * waited behind a provider that did not read past its {@link BootJob#sendBy}, so it goes back
   * to the queue instead of reaching a box after its dispatch-ack may have given it to another.
   */
  public record Unsent(long jobId, String token) implements Command {}

  /**
   * The socket's outgoing stream has ended, whatever ended it: nothing more will be written. A
   * boot-job told to it and never {@link Written} was never sent, and goes back to the queue.
   */
  public record OutboxEnded() implements Command {}

  /** The socket's TCP connection has closed: what was written has left, or never will. */
  public record ConnectionClosed() implements Command {}

  private record Dispatched(MatcherActor.DispatchResult result) implements Command {}

  private record Linger() implements Command {}

  private record NeverAttached() implements Command {}

  /** How long a socket may take to come up after its handshake was answered. */
  static final Duration ATTACH_TIMEOUT = Duration.ofMinutes(1);

  /** What goes to the socket; the HTTP edge writes each as one JSON message. */
  public sealed interface Outbound {}

  /**
   * A job for the provider to boot: the hand-out, already durable, and the address for its URLs.
   * {@code sendBy}, in {@link System#nanoTime()}'s terms: the stream writes it no later, or drops
   * it and tells {@link Unsent}.
   */
  public record BootJob(MatcherActor.Assigned assigned, JobPackage.Endpoint at, long sendBy) implements Outbound {}

  public record Terminate(long jobId) implements Outbound {}

  /** A request or report refused; {@code jobId} 0 when it was about no job. */
  public record Problem(long jobId, String message) implements Outbound {}

  /** Close the socket with this WebSocket close code and reason. */
  public record Close(int code, String reason) implements Outbound {}

  /** WebSocket close code 1008: the other socket of this host is the newer one. */
  public static final int POLICY_VIOLATION = 1008;

  /** WebSocket close code 1001: the scheduler is going away; the provider connects again. */
  public static final int GOING_AWAY = 1001;

  private final String host;
  private final org.compassci.sched.model.ConnectionId connection;
  private ActorRef<Outbound> out;
  private final ActorRef<MatcherActor.Command> matcher;
  private final ActorRef<HostRegistryActor.Command> hosts;
  private final Duration requestTtl;
  /**
   * How long a boot-job may wait in the socket's outbox: half the hand-out's dispatch-ack, so
   * that one written at the last moment still leaves its box time to report before the job may
   * be given to another.
   */
  private final Duration sendWithin;
  /** How long a closed socket's actor stays to send late hand-outs back to the queue. */
  private final Duration linger;
  private final ActorRef<MatcherActor.DispatchResult> dispatched;
  /** How the provider's machines reach the scheduler: its {@code services}, else the socket's Host. */
  private JobPackage.Endpoint at;
  /** What the provider last told of itself (arch, types, tags, ...), null before its first request. */
  private ObjectNode info;
  /** Boot-jobs told to the socket's stream and not yet passed on to the socket by it. */
  private final java.util.Map<Long, MatcherActor.Assigned> unwritten = new java.util.LinkedHashMap<>();
  /** The TCP connection has closed. */
  private boolean connectionClosed;
  /** Who waits for the connection's close ({@link GoAway}). */
  private final List<ActorRef<Done>> closeWaiters = new ArrayList<>();

  /**
   * {@code connection}: the socket's TCP connection, whose parked request the matcher drops when
   * it closes. The socket's outgoing side comes with {@link Attach}.
   */
  public static Behavior<Command> create(String host, org.compassci.sched.model.ConnectionId connection,
      ActorRef<MatcherActor.Command> matcher, ActorRef<HostRegistryActor.Command> hosts,
      Duration requestTtl, Duration sendWithin, Duration linger) {
    return Behaviors.withStash(64, stash -> Behaviors.setup(ctx -> {
      ctx.scheduleOnce(ATTACH_TIMEOUT, ctx.getSelf(), new NeverAttached());
      return new ProviderActor(ctx, host, connection, matcher, hosts, requestTtl, sendWithin, linger).detached(stash);
    }));
  }

  private ProviderActor(ActorContext<Command> ctx, String host, org.compassci.sched.model.ConnectionId connection,
      ActorRef<MatcherActor.Command> matcher, ActorRef<HostRegistryActor.Command> hosts,
      Duration requestTtl, Duration sendWithin, Duration linger) {
    super(ctx);
    // its own name, not Pekko's guess from the call stack (see LifecycleActor)
    ctx.setLoggerName(ProviderActor.class);
    this.host = host;
    this.connection = connection;
    this.matcher = matcher;
    this.hosts = hosts;
    this.requestTtl = requestTtl;
    this.sendWithin = sendWithin;
    this.linger = linger;
    this.dispatched = ctx.messageAdapter(MatcherActor.DispatchResult.class, Dispatched::new);
  }

  /** Until the socket's outgoing side is up, what comes waits: a hand-out must not be lost. */
  private Behavior<Command> detached(org.apache.pekko.actor.typed.javadsl.StashBuffer<Command> stash) {
    return Behaviors.receive(Command.class)
        .onMessage(Attach.class, a -> {
          out = a.out();
          // the outgoing side can end first (the peer gone, or a takeover's close sent), while
          // the incoming side still waits on reports in flight: a hand-out told to it then would
          // be lost, so its end closes this socket as the incoming side's end does
          getContext().watchWith(out, new SocketClosed());
          return stash.unstashAll(this);
        })
        // what waited (a hand-out among it) is handled as by a closed socket: sent back
        .onMessage(NeverAttached.class, n -> stash.unstashAll(closed()))
        .onMessage(SocketClosed.class, c -> stash.unstashAll(closed()))
        .onMessage(ConnectionClosed.class, c -> {
          onConnectionClosed();
          return stash.unstashAll(closed());
        })
        .onMessage(GoAway.class, g -> {
          // the close waits for the socket, but the shutdown hears of the connection's end
          awaitConnectionClosed(g.replyTo());
          if (stash.isFull()) {
            return stash.unstashAll(closed());
          }
          stash.stash(new GoAway(getContext().getSystem().ignoreRef()));
          return Behaviors.same();
        })
        .onAnyMessage(m -> {
          if (stash.isFull()) {
            getContext().getLog().warn("provider {}: its socket never came up; dropped", host);
            return stash.unstashAll(closed());
          }
          stash.stash(m);
          return Behaviors.same();
        })
        .build();
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Request.class, this::onRequest)
        .onMessage(Dispatched.class, this::onDispatched)
        .onMessage(TerminateJob.class, this::onTerminateJob)
        .onMessage(Replaced.class, this::onReplaced)
        .onMessage(GoAway.class, this::onGoAway)
        .onMessage(Refuse.class, r -> {
          out.tell(new Problem(r.jobId(), r.message()));
          return this;
        })
        .onMessage(NeverAttached.class, n -> this)
        .onMessage(SocketClosed.class, s -> closed())
        .onMessage(Written.class, this::onWritten)
        .onMessage(Unsent.class, this::onUnsent)
        .onMessage(OutboxEnded.class, this::closedByOutboxEnd)
        .onMessage(ConnectionClosed.class, this::closedByConnection)
        .build();
  }

  private Behavior<Command> onWritten(Written w) {
    // by the hand-out, not the job alone: an older boot-job of the same job (requeued, then
    // handed here again) passed on late must not count for the newer one
    MatcherActor.Assigned a = unwritten.get(w.jobId());
    if (a != null && a.token().equals(w.token())) {
      unwritten.remove(w.jobId());
    }
    return Behaviors.same();
  }

  private Behavior<Command> onUnsent(Unsent u) {
    MatcherActor.Assigned a = unwritten.get(u.jobId());
    if (a != null && a.token().equals(u.token())) {
      unwritten.remove(u.jobId());
      requeue(a, "provider " + host + ": its boot-job waited " + sendWithin.toSeconds()
          + " s for the provider to read its socket");
    }
    return Behaviors.same();
  }

  /**
   * What the stream was told and never passed on was never sent: a close from inside the stream
   * (a bad frame, the idle timeout, an outbox the provider did not read, the connection cut)
   * drops it, and it goes back to the queue at once instead of waiting out its dispatch-ack.
   */
  private void onOutboxEnded() {
    unwritten.values().forEach(a -> requeue(a, "provider " + host + ": its socket closed before the boot-job was sent"));
    unwritten.clear();
  }

  private Behavior<Command> closedByOutboxEnd(OutboxEnded e) {
    onOutboxEnded();
    return closed();
  }

  private Behavior<Command> closedByConnection(ConnectionClosed c) {
    onConnectionClosed();
    return closed();
  }

  private void onConnectionClosed() {
    connectionClosed = true;
    closeWaiters.forEach(w -> w.tell(Done.getInstance()));
    closeWaiters.clear();
  }

  /** {@code replyTo} hears once the connection has closed: at once if it has. */
  private void awaitConnectionClosed(ActorRef<Done> replyTo) {
    if (connectionClosed) {
      replyTo.tell(Done.getInstance());
    } else {
      closeWaiters.add(replyTo);
    }
  }

  private Behavior<Command> onRequest(Request r) {
    at = r.at();
    if (!r.info().equals(info)) {
      info = r.info();
      hosts.tell(new HostRegistryActor.ProviderState(host, providerInfo(true)));
    }
    // a newer request replaces the parked one, which the matcher answers "no job"
    matcher.tell(new MatcherActor.Dispatch(r.box(), requestTtl, connection, dispatched));
    return this;
  }

  private Behavior<Command> onDispatched(Dispatched d) {
    if (d.result() instanceof MatcherActor.Assigned a) {
      unwritten.put(a.id(), a);
      out.tell(new BootJob(a, at, System.nanoTime() + sendWithin.toNanos()));
    }
    // no job (replaced, or the request's time ran out) or unavailable: the provider asks again
    return this;
  }

  private Behavior<Command> onTerminateJob(TerminateJob t) {
    out.tell(new Terminate(t.jobId()));
    t.replyTo().tell(true);
    return this;
  }

  private Behavior<Command> onReplaced(Replaced r) {
    return closing(new Close(POLICY_VIOLATION, "a newer socket of " + host + " took over"));
  }

  private Behavior<Command> onGoAway(GoAway g) {
    awaitConnectionClosed(g.replyTo());
    return closing(new Close(GOING_AWAY, "the scheduler is shutting down: connect again"));
  }

  /**
   * {@code close} goes out behind what the socket was already sent, so those messages are
   * written first; until the socket has closed, a hand-out that comes is not told to it (it
   * would wait behind the close and be dropped with the socket) but goes back to the queue.
   */
  private Behavior<Command> closing(Close close) {
    out.tell(close);
    return unsendable()
        .onMessage(OutboxEnded.class, this::closedByOutboxEnd)
        .onMessage(ConnectionClosed.class, this::closedByConnection)
        .onMessage(SocketClosed.class, c -> closed())
        // a new request is not parked: no hand-out for it could be sent
        .onAnyMessage(m -> Behaviors.same())
        .build();
  }

  /**
   * What a socket that is closing or closed does alike: nothing more is told to it, so a
   * hand-out goes back to the queue and a terminate-job is not sent.
   */
  private org.apache.pekko.actor.typed.javadsl.BehaviorBuilder<Command> unsendable() {
    return Behaviors.receive(Command.class)
        .onMessage(Dispatched.class, this::requeueUnsent)
        .onMessage(TerminateJob.class, t -> {
          t.replyTo().tell(false);
          return Behaviors.same();
        })
        .onMessage(GoAway.class, g -> {
          awaitConnectionClosed(g.replyTo());
          return Behaviors.same();
        })
        .onMessage(Written.class, this::onWritten)
        .onMessage(Unsent.class, this::onUnsent);
  }

  /**
   * The socket is gone: its parked request is dropped now, and for a while hand-outs still on
   * their way here go straight back to the queue, since nobody will boot them.
   */
  private Behavior<Command> closed() {
    matcher.tell(new MatcherActor.ClientGone(connection));
    if (info != null) {
      hosts.tell(new HostRegistryActor.ProviderState(host, providerInfo(false)));
    }
    getContext().scheduleOnce(linger, getContext().getSelf(), new Linger());
    return unsendable()
        .onMessage(OutboxEnded.class, e -> {
          onOutboxEnded();
          return Behaviors.same();
        })
        .onMessage(ConnectionClosed.class, c -> {
          onConnectionClosed();
          return Behaviors.same();
        })
        .onMessage(Linger.class, l -> {
          if (!unwritten.isEmpty()) {
            // the stream never said it ended: whether these left is unknown, so their
            // dispatch-ack decides, as for any box that goes quiet
            getContext().getLog().warn("provider {}: {} boot-jobs of a closed socket not known to be sent",
                host, unwritten.size());
          }
          closeWaiters.forEach(w -> w.tell(Done.getInstance()));
          return Behaviors.stopped();
        })
        .onAnyMessage(m -> Behaviors.same())
        .build();
  }

  private Behavior<Command> requeueUnsent(Dispatched d) {
    if (d.result() instanceof MatcherActor.Assigned a) {
      requeue(a, "provider " + host + " disconnected before its boot-job was sent");
    }
    return Behaviors.same();
  }

  private void requeue(MatcherActor.Assigned a, String why) {
    // not counted against the job's requeue budget, as the matcher's own give-back: the job
    // never reached a box, so it did nothing wrong
    matcher.tell(new MatcherActor.Requeue(a.id(), a.record().tokenHash(), why, false,
        getContext().getSystem().ignoreRef()));
  }

  private ObjectNode providerInfo(boolean connected) {
    ObjectNode v = org.compassci.sched.model.Json.object().put("connected", connected);
    v.setAll(info);
    return v;
  }
}
