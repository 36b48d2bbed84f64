package org.compassci.sched.actors;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.compassci.sched.model.JobIntake;
import org.compassci.sched.persistence.SubmitKey;

/**
 * Submits made with an {@code Idempotency-Key}: a repeat of one, with the same key, account and
 * body, gets the first answer and makes no job; the same key with another body is refused.
 *
 * <p>The invariant: a key is given to the matcher at most once at a time, and only after the
 * store said it does not hold it. While a submit of a key is on its way (being looked up, or
 * being stored), a repeat waits for its answer instead of going on; so a client that gave up on a
 * slow answer and retried gets the same jobs. The key is stored in the jobs' own commit, so after
 * a crash the store still knows it. Submits without a key never pass here.
 *
 * <p>The invariant holds only where one such actor sees every submit of a key: in cluster mode
 * it is a Cluster Singleton beside the matcher, since one per node let a retry through another
 * node look the key up while the first submit was still being stored, and make a second set of
 * jobs.
 */
public final class IdempotencyActor extends AbstractBehavior<IdempotencyActor.Command> {

  /** Crosses nodes in cluster mode, where this actor is one singleton for the whole cluster. */
  public sealed interface Command extends org.compassci.sched.model.CborSerializable {}

  /** {@code requestDigest}: the hex SHA-256 of the body; {@code jobs}: already checked at the edge. */
  public record Submit(String account, String key, String requestDigest, List<JobIntake.Draft> jobs,
      int maxQueued, ActorRef<Result> replyTo) implements Command {}

  public record GetStats(ActorRef<ActorStats> replyTo) implements Command {}

  /**
   * Cluster mode: the singleton moves to another node. It stops once every submit on its way
   * has been answered, and answers new ones "try again" meanwhile: its successor starts only
   * after it stopped, so it never looks a key up while this one may still store it.
   */
  public record HandOver() implements Command {}

  public sealed interface Result extends org.compassci.sched.model.CborSerializable {}

  /** The first submit of this key: the matcher's answer. */
  public record Fresh(MatcherActor.SubmitResult result) implements Result {}

  /** A repeat: the first answer, as it was sent. */
  public record Replayed(String answer) implements Result {}

  /** The key was used with another body. */
  public record Mismatch(String message) implements Result {}

  /** Not known now (the store is away): try again. */
  public record Unavailable(String message) implements Result {}

  private record Looked(PersistenceActor.SubmitKeyFound found) implements Command {}

  private record Submitted(String id, MatcherActor.SubmitResult result, Throwable failure) implements Command {}

  private record Sweep() implements Command {}

  private record HandOverOverdue() implements Command {}

  /** A key on its way: the request that goes on, and the repeats that wait for its answer. */
  private record Pending(String digest, Submit first, List<ActorRef<Result>> waiting) {}

  /** A key whose jobs are stored: its first answer. */
  private record Done(String digest, String answer, long createdMillis) {}

  /** The most answers kept in memory; older ones are read from the store when repeated. */
  static final int MAX_REMEMBERED = 100_000;
  /**
   * The most characters of answers kept in memory (about 32 MB): an answer holds every job of
   * its submit, about 1.5 MB for a batch of 10,000, and 100,000 of those would not fit any heap.
   */
  static final long MAX_REMEMBERED_CHARS = 32L << 20;
  /** How long the store may take to say whether it holds a key. */
  private static final Duration LOOKUP_TIMEOUT = Duration.ofSeconds(30);
  /** How long the matcher may take to store a submit before its waiters are told to retry. */
  private static final Duration SUBMIT_TIMEOUT = Duration.ofMinutes(5);
  /**
   * The longest a hand-over waits for the submits on their way. The matcher they wait on is
   * handing over too and refuses what comes after its own drain, so they are answered in
   * seconds; past this, the successor may start, and a retry of one of them could be made twice.
   */
  static final Duration HAND_OVER_AT_MOST = Duration.ofSeconds(30);
  /** The answer while handing over. */
  private static final Unavailable MOVING =
      new Unavailable("the scheduler's keyed submits are moving to another node; try again");

  private final ActorRef<PersistenceActor.Command> store;
  private final ActorRef<MatcherActor.Command> matcher;
  private final TimerScheduler<Command> timers;
  private final Duration ttl;
  private final Clock clock;
  private final Activity activity;
  private final Map<String, Pending> pending = new java.util.HashMap<>();
  /** Oldest first, so the sweep stops at the first one still young. */
  private final LinkedHashMap<String, Done> done = new LinkedHashMap<>();
  private long replays;
  private boolean handingOver;

  public static Behavior<Command> create(ActorRef<PersistenceActor.Command> store,
      ActorRef<MatcherActor.Command> matcher, Duration ttl, Clock clock) {
    return create(store, matcher, ttl, clock, MAX_REMEMBERED_CHARS);
  }

  /** {@code maxChars}: the most characters of answers kept in memory (tests make it small). */
  static Behavior<Command> create(ActorRef<PersistenceActor.Command> store,
      ActorRef<MatcherActor.Command> matcher, Duration ttl, Clock clock, long maxChars) {
    return Behaviors.withTimers(timers -> Behaviors.setup(ctx -> {
      // as often as keys expire, between once a second and once an hour
      Duration every = ttl.compareTo(Duration.ofHours(1)) < 0 ? ttl : Duration.ofHours(1);
      every = every.compareTo(Duration.ofSeconds(1)) < 0 ? Duration.ofSeconds(1) : every;
      timers.startTimerWithFixedDelay(new Sweep(), every);
      return new IdempotencyActor(ctx, timers, store, matcher, ttl, clock, maxChars);
    }));
  }

  private final long maxChars;
  /** The characters of the answers in {@link #done}. */
  private long rememberedChars;

  private IdempotencyActor(ActorContext<Command> ctx, TimerScheduler<Command> timers,
      ActorRef<PersistenceActor.Command> store, ActorRef<MatcherActor.Command> matcher, Duration ttl, Clock clock,
      long maxChars) {
    super(ctx);
    this.maxChars = maxChars;
    this.timers = timers;
    this.store = store;
    this.matcher = matcher;
    this.ttl = ttl;
    this.clock = clock;
    this.activity = new Activity(clock);
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Submit.class, this::onSubmit)
        .onMessage(Looked.class, this::onLooked)
        .onMessage(Submitted.class, this::onSubmitted)
        .onMessage(Sweep.class, this::onSweep)
        .onMessage(GetStats.class, this::onGetStats)
        .onMessage(HandOver.class, this::onHandOver)
        .onMessage(HandOverOverdue.class, o -> {
          getContext().getLog().warn("keyed submits hand over with {} still on their way after {}",
              pending.size(), HAND_OVER_AT_MOST);
          return Behaviors.stopped();
        })
        .build();
  }

  private static String id(String account, String key) {
    return account + "\u0000" + key;
  }

  private boolean young(long createdMillis) {
    return createdMillis > clock.millis() - ttl.toMillis();
  }

  private Behavior<Command> onSubmit(Submit s) {
    activity.touch();
    if (handingOver) {
      s.replyTo().tell(MOVING);
      return this;
    }
    String id = id(s.account(), s.key());
    Done d = done.get(id);
    if (d != null && young(d.createdMillis())) {
      replays++;
      s.replyTo().tell(d.digest().equals(s.requestDigest()) ? new Replayed(d.answer()) : mismatch(s.key()));
      return this;
    }
    Pending p = pending.get(id);
    if (p != null) {
      if (p.digest().equals(s.requestDigest())) {
        p.waiting().add(s.replyTo());
      } else {
        s.replyTo().tell(mismatch(s.key()));
      }
      return this;
    }
    pending.put(id, new Pending(s.requestDigest(), s, new ArrayList<>(List.of(s.replyTo()))));
    // asked with a deadline: a store actor that never answers must not hold the key for good
    getContext().pipeToSelf(Asks.<PersistenceActor.Command, PersistenceActor.SubmitKeyFound>ask(
            getContext().getSystem(), store,
            replyTo -> new PersistenceActor.FindSubmitKey(s.account(), s.key(), replyTo), LOOKUP_TIMEOUT),
        (found, failure) -> new Looked(failure == null ? found : new PersistenceActor.SubmitKeyFound(
            s.account(), s.key(), Optional.empty(), Optional.of("the store did not answer in time"))));
    return this;
  }

  private Behavior<Command> onLooked(Looked l) {
    PersistenceActor.SubmitKeyFound f = l.found();
    String id = id(f.account(), f.key());
    Pending p = pending.get(id);
    if (p == null) {
      return this;
    }
    if (f.error().isPresent()) {
      pending.remove(id);
      answer(p, new Unavailable("cannot check the Idempotency-Key now: " + f.error().get()));
      return afterAnswer();
    }
    Optional<SubmitKey> stored = f.found().filter(k -> young(k.createdMillis()));
    if (stored.isPresent()) {
      pending.remove(id);
      remember(id, new Done(stored.get().requestDigest(), stored.get().answer(), stored.get().createdMillis()));
      replays++;
      answer(p, stored.get().requestDigest().equals(p.digest()) ? new Replayed(stored.get().answer()) : mismatch(f.key()));
      return afterAnswer();
    }
    if (handingOver) {
      // the matcher may have moved already: a submit sent now could reach the successor's
      // while the successor of this actor looks the key up
      pending.remove(id);
      answer(p, MOVING);
      return afterAnswer();
    }
    Submit s = p.first();
    // the key is let go when this ask gives up: a submit the matcher takes up after half of it
    // (waiting for its queue to load) is dropped, or a retry with the key, looked up and not
    // found, would be stored as well as this one
    long answerBy = System.currentTimeMillis() + SUBMIT_TIMEOUT.toMillis() / 2;
    getContext().pipeToSelf(Asks.<MatcherActor.Command, MatcherActor.SubmitResult>ask(
            getContext().getSystem(), matcher,
            replyTo -> new MatcherActor.SubmitAs(s.jobs(), s.maxQueued(),
                Optional.of(new MatcherActor.Once(s.account(), s.key(), s.requestDigest())), answerBy, replyTo),
            SUBMIT_TIMEOUT),
        (result, failure) -> new Submitted(id, result, failure));
    return this;
  }

  private Behavior<Command> onSubmitted(Submitted s) {
    Pending p = pending.remove(s.id());
    if (p == null) {
      return this;
    }
    if (s.failure() != null) {
      answer(p, new Unavailable("the submit was not answered in time: " + s.failure().getMessage()));
      return afterAnswer();
    }
    MatcherActor.SubmitResult r = s.result();
    if (r.error().isEmpty() && r.overLimit().isEmpty()) {
      remember(s.id(), new Done(p.digest(), org.compassci.sched.model.SubmitAnswer.render(r.jobs().stream()
          .map(j -> new org.compassci.sched.model.SubmitAnswer.Entry(j.id(), j.resultRoot())).toList()),
          clock.millis()));
    }
    // a refused or failed submit stored nothing: a retry goes on afresh
    answer(p, new Fresh(r));
    return afterAnswer();
  }

  private Behavior<Command> onHandOver(HandOver h) {
    handingOver = true;
    timers.startSingleTimer(new HandOverOverdue(), HAND_OVER_AT_MOST);
    getContext().getLog().info("keyed submits hand over: {} on their way", pending.size());
    return afterAnswer();
  }

  /** Handing over, the last answer of a submit on its way ends this incarnation. */
  private Behavior<Command> afterAnswer() {
    return handingOver && pending.isEmpty() ? Behaviors.stopped() : this;
  }

  private static void answer(Pending p, Result r) {
    p.waiting().forEach(w -> w.tell(r));
  }

  private static Mismatch mismatch(String key) {
    return new Mismatch("Idempotency-Key '" + org.compassci.sched.auth.AccountRules.printable(key)
        + "' was used before with another request body; use a new key for a new submit");
  }

  private void remember(String id, Done d) {
    forget(done.remove(id));
    done.put(id, d);
    rememberedChars += d.answer().length();
    // the newest stays even alone past the bound: its repeats come soonest
    while (done.size() > 1 && (done.size() > MAX_REMEMBERED || rememberedChars > maxChars)) {
      Iterator<Done> oldest = done.values().iterator();
      forget(oldest.next());
      oldest.remove();
    }
  }

  private void forget(Done d) {
    if (d != null) {
      rememberedChars -= d.answer().length();
    }
  }

  /** Answers past their time leave memory, and the store forgets them too. */
  private Behavior<Command> onSweep(Sweep s) {
    for (Iterator<Done> it = done.values().iterator(); it.hasNext(); ) {
      Done d = it.next();
      if (young(d.createdMillis())) {
        break;
      }
      forget(d);
      it.remove();
    }
    store.tell(new PersistenceActor.PurgeSubmitKeys(clock.millis() - ttl.toMillis()));
    return this;
  }

  private Behavior<Command> onGetStats(GetStats g) {
    g.replyTo().tell(new ActorStats("idempotency", Map.of("keys_remembered", (long) done.size(),
        "answer_chars_remembered", rememberedChars, "keys_in_flight", (long) pending.size(), "replays", replays),
        activity.messages(), activity.last()));
    return this;
  }
}
