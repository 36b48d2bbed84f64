package org.compassci.sched.actors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PreRestart;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.compassci.sched.model.Json;
import org.compassci.sched.model.Outcome;
import org.compassci.sched.watch.WaitCondition;

/**
 * Follows the jobs someone watches (an event stream) or waits on (jobs/wait). It tells the
 * lifecycle which jobs to report, so that jobs nobody follows cost nothing; it keeps each
 * followed job's last state once, however many follow it, and sends each follower the fields
 * that changed.
 */
public final class WatchActor extends AbstractBehavior<WatchActor.Command> {

  public sealed interface Command extends org.compassci.sched.model.CborSerializable {}

  /**
   * Opens a stream of events about {@code ids}; it ends with {@link End} once all have closed.
   * {@code connection}: the client connection it is sent on (null when unknown).
   */
  public record Subscribe(List<Long> ids, ActorRef<Event> out, org.compassci.sched.model.ConnectionId connection) implements Command {}

  /**
   * A watcher's WebSocket: a stream that starts with no job and stays open when its jobs close;
   * jobs come and go with {@link Follow} and {@link Unfollow}, at most {@code maxJobs} at once.
   * It ends with {@link Unsubscribe}, or {@link ClientGone} of its connection.
   */
  public record OpenSocket(ActorRef<Event> out, org.compassci.sched.model.ConnectionId connection, int maxJobs) implements Command {}

  /**
   * The socket follows these jobs too: each one's state comes at once if known, then its
   * changes. An unknown job, or one past the socket's limit, is answered {@link Closed} with an error.
   */
  public record Follow(ActorRef<Event> out, List<Long> ids) implements Command {}

  /** The socket stops following these jobs; nothing more is sent about them. */
  public record Unfollow(ActorRef<Event> out, List<Long> ids) implements Command {}

  /** The client hung up: its streams end now, not at the next write that would fail. */
  public record ClientGone(org.compassci.sched.model.ConnectionId connection) implements Command {}

  /** The stream's reader went away. */
  public record Unsubscribe(ActorRef<Event> out) implements Command {}

  public record Wait(Map<Long, WaitCondition> on, Duration timeout, ActorRef<WaitResult> replyTo)
      implements Command {}

  /** A followed job's new state: its whole view, credentials already gone. */
  public record Changed(long id, ObjectNode state) implements Command {}

  public record GetStats(ActorRef<ActorStats> replyTo) implements Command {}

  /**
   * A lifecycle incarnation has just started (in a cluster: the singleton moved to another
   * node) and knows no watchers: every followed job is asked for again, and read once to catch
   * up with what changed while nobody reported.
   */
  public record LifecycleStarted() implements Command {}

  /** How the lifecycle finds the watch actor of every node. */
  public static final org.apache.pekko.actor.typed.receptionist.ServiceKey<Command> WATCHERS =
      org.apache.pekko.actor.typed.receptionist.ServiceKey.create(Command.class, "watchers");

  private record CaughtUp(long id, Outcome outcome, Throwable failure) implements Command {}

  private record Snapshot(long id, Outcome outcome, Throwable failure) implements Command {}

  private record RetrySnapshot(long id) implements Command {}

  /** The read after a lifecycle restart failed: tried again while no change has come. */
  private record RetryCatchUp(long id) implements Command {}

  private record WaitOver(long waitId) implements Command {}

  /** What a stream receives. */
  public sealed interface Event {}

  /**
   * {@code fields}: {@code job_id} and what changed (everything, the first time);
   * {@code state}: the whole state, for a reader that fell behind and must skip ahead.
   */
  public record JobEvent(long id, ObjectNode fields, ObjectNode state) implements Event {}

  /** The job retired (or is unknown: then {@code error} says so); no more events for it. */
  public record Closed(long id, String error) implements Event {}

  /** Every job of the stream has closed. */
  public record End() implements Event {}

  /**
   * {@code remaining}: the conditions not met yet; {@code waited}: each job's stage, health and
   * readiness now (or an error for a job that does not exist).
   */
  public record WaitResult(Map<Long, WaitCondition> remaining, Map<Long, ObjectNode> waited) {}

  private static final class Followed {
    /** Null until the first read of the job is back. */
    ObjectNode last;
    /** A change that arrived before that first read. */
    ObjectNode early;
    /**
     * A read after a lifecycle restart is out and still of use: no change has come since the
     * job was watched again, and every change that comes is at least as new as that read.
     */
    boolean catchingUp;
    final Set<ActorRef<Event>> streams = new HashSet<>();
    final Set<Long> waits = new HashSet<>();
  }

  private record Waiter(Map<Long, WaitCondition> on, Map<Long, String> unknown, ActorRef<WaitResult> replyTo) {}

  private static final Duration READ_RETRY = Duration.ofSeconds(1);
  /**
   * Jobs a read found unknown (or unreadable) lately, with when, answered so again without a
   * read for {@link #UNKNOWN_KEPT}: a socket that asks for the same 1,000 unknown ids in each
   * message made 1,000 store reads a message. A job's id is known only once its submit is
   * answered, so no job that exists is taken for unknown for long.
   */
  private final Map<Long, UnknownLately> unknownLately = Bounded.map(10_000, false);
  private static final Duration UNKNOWN_KEPT = Duration.ofSeconds(5);

  private record UnknownLately(Outcome outcome, long atMillis) {}

  private final Clock clock;

  private final ActorRef<LifecycleActor.Command> lifecycle;
  private final Duration askTimeout;
  private final TimerScheduler<Command> timers;
  private final Activity activity;
  private final Map<Long, Followed> followed = new HashMap<>();
  /** Each stream's jobs not closed yet. */
  private final Map<ActorRef<Event>, Set<Long>> streams = new HashMap<>();
  /** Streams by client connection. */
  private final Map<org.compassci.sched.model.ConnectionId, Set<ActorRef<Event>>> byConnection = new HashMap<>();
  private final Map<ActorRef<Event>, org.compassci.sched.model.ConnectionId> connectionOf = new HashMap<>();
  private final Map<Long, Waiter> waiters = new HashMap<>();
  /** The streams that are WebSockets, with their limit: they stay open when their jobs close. */
  private final Map<ActorRef<Event>, Integer> sockets = new HashMap<>();
  private long waitIds;

  public static Behavior<Command> create(ActorRef<LifecycleActor.Command> lifecycle, Duration askTimeout,
      Clock clock) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(
        timers -> new WatchActor(ctx, timers, lifecycle, askTimeout, clock)));
  }

  private WatchActor(ActorContext<Command> ctx, TimerScheduler<Command> timers,
      ActorRef<LifecycleActor.Command> lifecycle, Duration askTimeout, Clock clock) {
    super(ctx);
    this.timers = timers;
    this.lifecycle = lifecycle;
    this.askTimeout = askTimeout;
    this.activity = new Activity(clock);
    this.clock = clock;
    ctx.getSystem().receptionist().tell(org.apache.pekko.actor.typed.receptionist.Receptionist.register(
        WATCHERS, ctx.getSelf()));
  }

  private Behavior<Command> onLifecycleStarted(LifecycleStarted l) {
    for (Map.Entry<Long, Followed> e : followed.entrySet()) {
      lifecycle.tell(new LifecycleActor.Watch(e.getKey(), true, getContext().getSelf()));
      e.getValue().catchingUp = true;
      catchUp(e.getKey());
    }
    return this;
  }

  private void catchUp(long id) {
    getContext().pipeToSelf(Asks.<LifecycleActor.Command, Outcome>ask(getContext().getSystem(),
            lifecycle, r -> new LifecycleActor.Get(id, r), askTimeout),
        (outcome, failure) -> new CaughtUp(id, outcome, failure));
  }

  /**
   * What a job is now, after a lifecycle restart: a change like any other, if it is one. The
   * lifecycle reports changes from the moment it was asked, so a change may come in before this
   * read's answer; an answer at an earlier stage than what is known is older and left out, as
   * {@link #onSnapshot} does with a change that came in early.
   */
  private Behavior<Command> onCaughtUp(CaughtUp c) {
    Followed f = followed.get(c.id());
    if (f == null || !f.catchingUp) {
      // a change came since the job was watched again: it is at least as new as this answer,
      // which may have been read before it (the same stage, older fields)
      return this;
    }
    if (c.failure() != null || c.outcome().status() == Outcome.Status.UNAVAILABLE) {
      // the ask ran out behind the new lifecycle's backlog, or a retired job's row could not be
      // read: dropped, a job that retired meanwhile kept its streams open for good
      timers.startSingleTimer("catch-up-" + c.id(), new RetryCatchUp(c.id()), READ_RETRY);
      return this;
    }
    f.catchingUp = false;
    if (c.outcome().status() != Outcome.Status.OK) {
      return this;
    }
    ObjectNode state = c.outcome().job();
    if (f.last != null && WaitCondition.stageOf(state).ordinal() < WaitCondition.stageOf(f.last).ordinal()) {
      return this;
    }
    return onChanged(new Changed(c.id(), state));
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Subscribe.class, this::onSubscribe)
        .onMessage(Unsubscribe.class, this::onUnsubscribe)
        .onMessage(OpenSocket.class, this::onOpenSocket)
        .onMessage(Follow.class, this::onFollow)
        .onMessage(Unfollow.class, this::onUnfollow)
        .onMessage(ClientGone.class, this::onClientGone)
        .onMessage(Wait.class, this::onWait)
        .onMessage(Changed.class, this::onChanged)
        .onMessage(Snapshot.class, this::onSnapshot)
        .onMessage(RetrySnapshot.class, r -> {
          if (followed.containsKey(r.id())) {
            read(r.id());
          }
          return this;
        })
        .onMessage(WaitOver.class, w -> {
          Waiter waiter = waiters.get(w.waitId());
          if (waiter != null) {
            answer(w.waitId(), waiter);
          }
          return this;
        })
        .onMessage(GetStats.class, this::onGetStats)
        .onMessage(LifecycleStarted.class, this::onLifecycleStarted)
        .onMessage(CaughtUp.class, this::onCaughtUp)
        .onMessage(RetryCatchUp.class, r -> {
          Followed f = followed.get(r.id());
          if (f != null && f.catchingUp) {
            catchUp(r.id());
          }
          return this;
        })
        .onSignal(PreRestart.class, r -> onRestart())
        .build();
  }

  /**
   * About to restart after a failure, with every follower forgotten: each stream ends now (no
   * job of it closed: a client reads that as a stream cut short, and follows its jobs again, of
   * the new incarnation), and each wait is answered with what it still waits for. Left open, they
   * would have heard nothing more, for as long as they stayed.
   */
  private Behavior<Command> onRestart() {
    Set<ActorRef<Event>> outs = new HashSet<>(streams.keySet());
    outs.addAll(sockets.keySet());
    for (ActorRef<Event> out : outs) {
      out.tell(new End());
    }
    streams.clear();
    sockets.clear();
    for (Map.Entry<Long, Waiter> w : List.copyOf(waiters.entrySet())) {
      answer(w.getKey(), w.getValue());
    }
    for (long id : followed.keySet()) {
      lifecycle.tell(new LifecycleActor.Watch(id, false, getContext().getSelf()));
    }
    return this;
  }

  private Followed follow(long id) {
    Followed f = followed.get(id);
    if (f == null) {
      f = new Followed();
      followed.put(id, f);
      // the lifecycle reports changes from here on, so nothing between the read and them is lost
      lifecycle.tell(new LifecycleActor.Watch(id, true, getContext().getSelf()));
      UnknownLately lately = unknownLately.get(id);
      if (lately != null && clock.millis() - lately.atMillis() < UNKNOWN_KEPT.toMillis()) {
        getContext().getSelf().tell(new Snapshot(id, lately.outcome(), null));
      } else {
        read(id);
      }
    }
    return f;
  }

  private void read(long id) {
    getContext().pipeToSelf(Asks.<LifecycleActor.Command, Outcome>ask(getContext().getSystem(),
            lifecycle, r -> new LifecycleActor.Get(id, r), askTimeout),
        (outcome, failure) -> new Snapshot(id, outcome, failure));
  }

  private void unfollowIfIdle(long id) {
    Followed f = followed.get(id);
    if (f != null && f.streams.isEmpty() && f.waits.isEmpty()) {
      followed.remove(id);
      lifecycle.tell(new LifecycleActor.Watch(id, false, getContext().getSelf()));
    }
  }

  private Behavior<Command> onSubscribe(Subscribe s) {
    activity.touch();
    Set<Long> open = new HashSet<>(s.ids());
    if (open.isEmpty()) {
      s.out().tell(new End());
      return this;
    }
    streams.put(s.out(), open);
    if (s.connection() != null) {
      byConnection.computeIfAbsent(s.connection(), c -> new HashSet<>()).add(s.out());
      connectionOf.put(s.out(), s.connection());
    }
    // over a copy: a job known retired closes at once, which takes it out of the stream's set
    for (long id : List.copyOf(open)) {
      Followed f = follow(id);
      f.streams.add(s.out());
      if (f.last != null) {
        s.out().tell(new JobEvent(id, withId(id, f.last), f.last));
        closeIfRetired(id, f, s.out());
      }
    }
    return this;
  }

  /**
   * A job already known retired (kept followed for a wait that still waits on another job): a
   * new stream of it gets its close now, for no later change will bring one.
   */
  private void closeIfRetired(long id, Followed f, ActorRef<Event> out) {
    if (WaitCondition.retired(f.last)) {
      f.streams.remove(out);
      close(out, id, null);
      unfollowIfIdle(id);
    }
  }

  private Behavior<Command> onOpenSocket(OpenSocket o) {
    activity.touch();
    streams.put(o.out(), new HashSet<>());
    sockets.put(o.out(), o.maxJobs());
    if (o.connection() != null) {
      byConnection.computeIfAbsent(o.connection(), c -> new HashSet<>()).add(o.out());
      connectionOf.put(o.out(), o.connection());
    }
    return this;
  }

  private Behavior<Command> onFollow(Follow f) {
    activity.touch();
    Set<Long> open = streams.get(f.out());
    Integer max = sockets.get(f.out());
    if (open == null || max == null) {
      return this;
    }
    for (long id : f.ids()) {
      if (open.contains(id)) {
        continue;
      }
      if (open.size() >= max) {
        f.out().tell(new Closed(id, "at most " + max + " jobs per socket: unwatch one first"));
        continue;
      }
      open.add(id);
      Followed followed = follow(id);
      followed.streams.add(f.out());
      if (followed.last != null) {
        f.out().tell(new JobEvent(id, withId(id, followed.last), followed.last));
        closeIfRetired(id, followed, f.out());
      }
    }
    return this;
  }

  private Behavior<Command> onUnfollow(Unfollow u) {
    Set<Long> open = streams.get(u.out());
    if (open == null) {
      return this;
    }
    for (long id : u.ids()) {
      Followed f = followed.get(id);
      if (open.remove(id) && f != null) {
        f.streams.remove(u.out());
        unfollowIfIdle(id);
      }
    }
    return this;
  }

  private Behavior<Command> onClientGone(ClientGone g) {
    Set<ActorRef<Event>> gone = byConnection.remove(g.connection());
    if (gone != null) {
      for (ActorRef<Event> out : List.copyOf(gone)) {
        out.tell(new End());
        onUnsubscribe(new Unsubscribe(out));
      }
    }
    return this;
  }

  private void forgetConnection(ActorRef<Event> out) {
    org.compassci.sched.model.ConnectionId connection = connectionOf.remove(out);
    Set<ActorRef<Event>> same = connection == null ? null : byConnection.get(connection);
    if (same != null) {
      same.remove(out);
      if (same.isEmpty()) {
        byConnection.remove(connection);
      }
    }
  }

  private Behavior<Command> onUnsubscribe(Unsubscribe u) {
    forgetConnection(u.out());
    sockets.remove(u.out());
    Set<Long> open = streams.remove(u.out());
    if (open != null) {
      for (long id : open) {
        Followed f = followed.get(id);
        if (f != null) {
          f.streams.remove(u.out());
          unfollowIfIdle(id);
        }
      }
    }
    return this;
  }

  private Behavior<Command> onWait(Wait w) {
    activity.touch();
    long waitId = ++waitIds;
    Waiter waiter = new Waiter(new LinkedHashMap<>(w.on()), new HashMap<>(), w.replyTo());
    waiters.put(waitId, waiter);
    for (long id : waiter.on().keySet()) {
      follow(id).waits.add(waitId);
    }
    timers.startSingleTimer(waitId, new WaitOver(waitId), w.timeout());
    judge(waitId, waiter);
    return this;
  }

  private Behavior<Command> onSnapshot(Snapshot s) {
    Followed f = followed.get(s.id());
    if (f == null || f.last != null) {
      return this;
    }
    if (s.failure() != null || s.outcome().status() == Outcome.Status.UNAVAILABLE) {
      // the store is away: the followers keep waiting, the read is tried again
      timers.startSingleTimer("read-" + s.id(), new RetrySnapshot(s.id()), READ_RETRY);
      return this;
    }
    if (s.outcome().status() != Outcome.Status.OK) {
      UnknownLately was = unknownLately.get(s.id());
      if (was == null || was.outcome() != s.outcome()) {
        // a read's answer, not one given from here: that would keep an id unknown for good
        unknownLately.remove(s.id());
        unknownLately.put(s.id(), new UnknownLately(s.outcome(), clock.millis()));
      }
      unknown(s.id(), f, s.outcome().message());
      return this;
    }
    ObjectNode state = s.outcome().job();
    // a change reported while the read was out is newer unless the read saw a later stage
    if (f.early != null
        && WaitCondition.stageOf(f.early).ordinal() >= WaitCondition.stageOf(state).ordinal()) {
      state = f.early;
    }
    f.early = null;
    f.last = state;
    for (ActorRef<Event> out : f.streams) {
      out.tell(new JobEvent(s.id(), withId(s.id(), state), state));
    }
    settle(s.id(), f);
    return this;
  }

  private Behavior<Command> onChanged(Changed c) {
    Followed f = followed.get(c.id());
    if (f == null) {
      return this;
    }
    activity.touch();
    f.catchingUp = false;
    if (f.last == null) {
      f.early = c.state();
      return this;
    }
    ObjectNode changes = changes(c.id(), f.last, c.state());
    f.last = c.state();
    if (changes.size() > 1) {
      for (ActorRef<Event> out : f.streams) {
        out.tell(new JobEvent(c.id(), changes, c.state()));
      }
    }
    settle(c.id(), f);
    return this;
  }

  /** After a new state: waits are judged, and a retired job closes its streams. */
  private void settle(long id, Followed f) {
    for (long waitId : List.copyOf(f.waits)) {
      Waiter w = waiters.get(waitId);
      if (w != null) {
        judge(waitId, w);
      }
    }
    if (WaitCondition.retired(f.last)) {
      for (ActorRef<Event> out : List.copyOf(f.streams)) {
        close(out, id, null);
      }
      f.streams.clear();
      unfollowIfIdle(id);
    }
  }

  private void unknown(long id, Followed f, String why) {
    for (ActorRef<Event> out : List.copyOf(f.streams)) {
      close(out, id, why);
    }
    f.streams.clear();
    for (long waitId : List.copyOf(f.waits)) {
      Waiter w = waiters.get(waitId);
      if (w != null) {
        w.unknown().put(id, why);
        judge(waitId, w);
      }
    }
    f.waits.clear();
    unfollowIfIdle(id);
  }

  private void close(ActorRef<Event> out, long id, String error) {
    out.tell(new Closed(id, error));
    Set<Long> open = streams.get(out);
    if (open != null) {
      open.remove(id);
      if (open.isEmpty() && !sockets.containsKey(out)) {
        streams.remove(out);
        out.tell(new End());
        forgetConnection(out);
      }
    }
  }

  /** Answers when every job's state is known and one condition holds, or can never hold. */
  private void judge(long waitId, Waiter w) {
    if (!w.unknown().isEmpty()) {
      answer(waitId, w);
      return;
    }
    boolean decided = false;
    for (Map.Entry<Long, WaitCondition> e : w.on().entrySet()) {
      Followed f = followed.get(e.getKey());
      if (f == null || f.last == null) {
        return;
      }
      if (e.getValue().judge(f.last) != WaitCondition.Verdict.NOT_YET) {
        decided = true;
      }
    }
    if (decided) {
      answer(waitId, w);
    }
  }

  private void answer(long waitId, Waiter w) {
    waiters.remove(waitId);
    timers.cancel(waitId);
    Map<Long, WaitCondition> remaining = new LinkedHashMap<>();
    Map<Long, ObjectNode> waited = new LinkedHashMap<>();
    for (Map.Entry<Long, WaitCondition> e : w.on().entrySet()) {
      long id = e.getKey();
      Followed f = followed.get(id);
      if (w.unknown().containsKey(id)) {
        // the entry's shape as for any job (a client reads job_stage), with why it has none
        ObjectNode none = Json.object();
        none.putNull("job_stage").putNull("job_health").putNull("job_data_readiness");
        waited.put(id, none.put("error", w.unknown().get(id)));
      } else if (f == null || f.last == null) {
        // still being read when the wait ran out: asked again next time
        remaining.put(id, e.getValue());
      } else {
        waited.put(id, summary(f.last));
        if (e.getValue().judge(f.last) == WaitCondition.Verdict.NOT_YET) {
          remaining.put(id, e.getValue());
        }
      }
      if (f != null) {
        f.waits.remove(waitId);
        unfollowIfIdle(id);
      }
    }
    w.replyTo().tell(new WaitResult(remaining, waited));
  }

  private Behavior<Command> onGetStats(GetStats g) {
    g.replyTo().tell(new ActorStats("watch", Map.of("followed_jobs", (long) followed.size(),
        "streams", (long) streams.size(), "sockets", (long) sockets.size(), "waits", (long) waiters.size()),
        activity.messages(), activity.last()));
    return this;
  }

  private static ObjectNode summary(ObjectNode state) {
    ObjectNode s = Json.object();
    for (String k : List.of("job_stage", "job_health", "job_data_readiness")) {
      s.set(k, state.get(k));
    }
    return s;
  }

  private static ObjectNode withId(long id, ObjectNode state) {
    ObjectNode out = Json.object().put("job_id", Long.toString(id));
    out.setAll(state);
    return out;
  }

  /**
   * {@code job_id}, every field whose value differs from before, and every field gone since as
   * null: a requeue drops the hand-out's host and times, which watchers kept showing beside the
   * next hand-out's.
   */
  private static ObjectNode changes(long id, ObjectNode before, ObjectNode now) {
    ObjectNode out = Json.object().put("job_id", Long.toString(id));
    for (Iterator<Map.Entry<String, JsonNode>> it = now.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (!e.getValue().equals(before.get(e.getKey()))) {
        out.set(e.getKey(), e.getValue());
      }
    }
    for (Iterator<String> it = before.fieldNames(); it.hasNext(); ) {
      String name = it.next();
      if (!now.has(name)) {
        out.putNull(name);
      }
    }
    return out;
  }
}
