package org.compassci.sched.actors;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.StashBuffer;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.compassci.sched.model.DataReadiness;
import org.compassci.sched.model.JobHealth;
import org.compassci.sched.model.Timeouts;
import org.compassci.sched.model.Job;
import org.compassci.sched.model.JobStage;
import org.compassci.sched.model.JobUpdate;
import org.compassci.sched.model.Outcome;
import org.compassci.sched.persistence.JobRecord;

/**
 * Owns every job that has left the queue and not yet retired: applies what testboxes report,
 * and answers reads. A job it does not hold (after a restart, or retired) is read from the
 * store; an active one found there is taken back into memory.
 */
public final class LifecycleActor extends AbstractBehavior<LifecycleActor.Command> {

  /** How an answer read from a store that is away begins (a read to try again later). */
  private static final String STORE_AWAY = "store unavailable: ";

  public sealed interface Command extends org.compassci.sched.model.CborSerializable {}

  /**
   * Jobs just handed out by the matcher (those of one commit); from now on this actor owns them.
   * A document is read when first needed, so a hand-out costs this actor nothing until its
   * testbox reports.
   */
  public record Track(List<JobRecord> records) implements Command {
    public Track(JobRecord record) {
      this(List.of(record));
    }
  }

  /**
   * The matcher, which takes lost hand-outs back: sent right after both are spawned, and by each
   * instance to itself as it starts (see the create with a supplier). It waits in the stash with
   * everything else while the active jobs load.
   */
  public record UseMatcher(ActorRef<MatcherActor.Command> matcher) implements Command {}

  public record Update(long id, List<JobUpdate.Param> params, JobUpdate.Mode mode,
      ActorRef<Outcome> replyTo) implements Command {}

  public record Get(long id, ActorRef<Outcome> replyTo) implements Command {}

  /**
   * {@code jobs/{id}/terminate} of a job the matcher does not hold: it ends now (finish, health
   * terminate), durably before the answer; a job that has ended already is refused (CONFLICT).
   */
  public record Terminate(long id, ActorRef<Outcome> replyTo) implements Command {}

  /** The matcher did not hold this job: it is unknown, or past submit. */
  public record CancelNotQueued(long id, ActorRef<Outcome> replyTo) implements Command {}

  public record GetStats(ActorRef<ActorStats> replyTo) implements Command {}

  /** Jobs that ended since the last time, by health; the counts start again from zero. */
  public record TakeTally(ActorRef<Tally> replyTo) implements Command {}

  /** {@code running}: jobs out on testboxes now, by stage. */
  public record Tally(Map<String, Long> endedByHealth, Map<String, Long> running)
      implements org.compassci.sched.model.CborSerializable {}

  /** Jobs out on testboxes, by job id, from {@code offset}, at most {@code limit}. */
  public record ListRunning(int offset, int limit, ActorRef<Running> replyTo) implements Command {}

  /** {@code byStage} counts every job out; {@code jobs} is the page asked for. */
  public record Running(int total, Map<String, Long> byStage, List<com.fasterxml.jackson.databind.node.ObjectNode> jobs)
      implements org.compassci.sched.model.CborSerializable {}

  /** Report (or stop reporting) this job's changes to {@code reportTo}, the watch actor. */
  public record Watch(long id, boolean on, ActorRef<WatchActor.Command> reportTo) implements Command {}

  /**
   * The job went back to the queue: the matcher owns it again. {@code host}: the box it was
   * taken from; {@code tokenHash}: the hand-out taken back (a newer one held here is kept: the
   * job was handed out again since); {@code view}: the job as it now is, for its watchers.
   */
  public record Forget(long id, String host, String tokenHash,
      com.fasterxml.jackson.databind.node.ObjectNode view) implements Command {}

  /** A queued job was cancelled: only its watchers need to hear of it. */
  public record Cancelled(long id, com.fasterxml.jackson.databind.node.ObjectNode view)
      implements Command {}

  /**
   * A box downloads the package of the hand-out holding {@code token}: answered with
   * {@link Job#packageDoc} while the job is in dispatch or boot (the first download moves it to
   * boot, durably, before the answer), CONFLICT after, NOT_FOUND for no such job. {@code from}:
   * the downloader's address (null: not known), kept at the first download ({@link Job#fetchedFrom}).
   */
  public record FetchPackage(long id, String token, String from, ActorRef<Outcome> replyTo) implements Command {}

  /**
   * May this job upload results now ({@code token} null: WebDAV, which names only the job;
   * {@code from}: the uploader's address, null when not known)?
   */
  public record CheckUpload(long id, String token, String from, ActorRef<org.compassci.sched.boot.BootRules.Permit> replyTo)
      implements Command {}

  /**
   * A box known by its MAC (one box, one job) asks for a job again while it holds {@code held}:
   * those still in dispatch it never started (its boot broke off before it fetched their
   * package, or the answer was lost), and they go back to the queue now, counted as lost
   * hand-outs, instead of after the dispatch-ack timeout. Those in boot or later are left to
   * their timeouts: a box that booted a job and comes back may have crashed on the job's own
   * kernel, which {@code timeout_boot} reports. A hand-out made at or after {@code askedAtMillis}
   * (when the box's request came) is not the one the box asks again about: a request that came
   * together with another took the job handed out again to that one. A job that has used its
   * requeues is left to its dispatch-ack timeout, which ends it abort_provider: a job whose own
   * files no box can fetch before its package went round and round.
   */
  public record BootedAgain(String hostname, List<Long> held, long askedAtMillis, ActorRef<GivingBack> replyTo)
      implements Command {}

  /** How many of a box's jobs go back to the queue (see {@link BootedAgain}): the box waits for them only then. */
  public record GivingBack(int jobs) implements org.compassci.sched.model.CborSerializable {}

  /** The job's deadline in its stage: OK with {"deadline":..., "job_stage":...}, or CONFLICT when it has none. */
  public record GetDeadline(long id, ActorRef<Outcome> replyTo) implements Command {}

  /**
   * Cluster mode, the singleton's stop message: once the writes already sent to the store are
   * committed this actor stops, and only then does its successor start and read the store.
   */
  public record HandOver() implements Command {}

  private record Drained() implements Command {}

  /** A hand-over that waited this long for its writes' answers ends anyway (a lost answer). */
  private record HandOverOverdue() implements Command {}

  static final Duration HAND_OVER_AT_MOST = Duration.ofSeconds(30);

  /** The watch actors of every node, found once the active jobs are loaded. */
  private record WatchersFound(org.apache.pekko.actor.typed.receptionist.Receptionist.Listing listing)
      implements Command {}

  private record Found(long id, PersistenceActor.FindResult result) implements Command {}

  /** A job's deadline in {@code stage} passed (stale when the job has moved on since). */
  private record Expired(long id, JobStage stage) implements Command {}

  /**
   * Reads a job again and sets its timer: after a failed requeue, the store decides. {@code
   * attempt}: reads that met the store away so far (each waits longer, up to half a minute).
   */
  private record Reload(long id, int attempt) implements Command {}

  private record Loaded(PersistenceActor.LoadResult result) implements Command {}

  /** Cluster mode: the epoch row, read before the start-up load. */
  private record EpochRead(PersistenceActor.Epoch epoch) implements Command {}

  private record Requeued(MatcherActor.Requeued answer) implements Command {}

  /** A lost hand-out expired before the matcher was known: tried again shortly. */
  private record RetryExpired(long id, JobStage stage) implements Command {}

  /** The matcher has not answered a requeue in time: what waited for it is refused for now. */
  private record RequeueUnanswered(long id, int attempt) implements Command {}

  /** The key of a requeue's timer: job ids key the jobs' own timers. */
  private record RequeueTimer(long id) {}

  /** How long requests for a job wait for the matcher's answer to its requeue. */
  private static final Duration REQUEUE_ANSWER_WITHIN = Duration.ofSeconds(10);

  /** The first of {@link #handOutDeadlines} is due (and maybe more). */
  private record HandOutsDue() implements Command {}

  /** A hand-out's dispatch-ack deadline; stale once its job has moved on. */
  private record HandOutDeadline(long id, long dueMillis) {}

  private static final String HAND_OUTS_DUE = "hand-outs due";

  /** Time to look in the store for hand-outs nobody here tracks. */
  private record Sweep() implements Command {}

  /** A page of the store's hand-outs, or null when the read failed. */
  private record Swept(PersistenceActor.LoadResult result) implements Command {}

  private static final String SWEEP = "sweep";
  private boolean sweeping;
  /** Untracked hand-outs the last sweep saw: adopted when this one sees them untracked again. */
  private java.util.Set<Long> sweepSuspects = java.util.Set.of();
  /** Untracked hand-outs this sweep has seen so far. */
  private final java.util.Set<Long> sweepSeen = new java.util.HashSet<>();

  /**
   * How often the scheduler's lifecycle sweeps: twice the dispatch-ack timeout, at least 5
   * minutes. A sweep reads every hand-out's record, so it must stay rare where thousands are out
   * (the benchmarks' 8 s dispatch-ack and 75,000 hand-outs in flight took a sixth of the
   * hand-outs' CPU when it ran each 10 s); a job it finds goes back within two sweeps and its
   * deadline, where without it the job stayed out until the next restart.
   */
  public static Duration sweepEvery(Timeouts timeouts) {
    Duration twice = timeouts.handOut().multipliedBy(2);
    Duration least = Duration.ofMinutes(5);
    return twice.compareTo(least) < 0 ? least : twice;
  }

  private record StatsExtracted(ExtractActor.Extracted extracted) implements Command {}

  private record StoreWritten(PersistenceActor.Written written) implements Command {}

  /** An update in flight: answered when its write is back from the store. */
  private record PendingUpdate(ActorRef<Outcome> replyTo, Outcome outcome) {}

  /** A retired job's last write: until it is durable the store still has the job's older state. */
  private record PendingRetire(Job job, PendingUpdate update, int attempt) {}

  /** A retired job's write failed: write it again (see {@link #onWritten}). */
  private record RetireAgain(Job job, int attempt) implements Command {}

  private final ActorRef<PersistenceActor.Command> store;
  private final Clock clock;
  private final Timeouts timeouts;
  private final TimerScheduler<Command> timers;
  private final Activity activity;
  private ActorRef<MatcherActor.Command> matcher;
  private final ActorRef<ExtractActor.Command> extractor;
  private final ActorRef<ExtractActor.Extracted> extracted;
  private final ActorRef<HostRegistryActor.Command> hosts;
  /**
   * Jobs someone follows, and the watch actors to tell (one per node in a cluster): only their
   * changes are reported, so the rest cost nothing.
   */
  private final Map<Long, java.util.Set<ActorRef<WatchActor.Command>>> watched = new HashMap<>();
  private Map<String, Long> endedByHealth = new HashMap<>();
  private final Map<Long, Job> active = new HashMap<>();
  /** Handed-out jobs not yet read: parsed into {@link #active} on first use. */
  private final Map<Long, JobRecord> tracked = new HashMap<>();
  /**
   * The deadlines of hand-outs, in the order they fall: every hand-out has the same timeout, so
   * they fall in the order the jobs were handed out, and one timer for the first stands for
   * them all. A timer per job held about 200 bytes more per job in flight (Pekko's timer, its
   * message and the scheduler's task) and cost a scheduler call per hand-out. An entry stays
   * until its deadline even when its job reports first: 32 bytes per hand-out of the last
   * dispatch-ack timeout (about 4 MB at 200 hand-outs/s with the default 600 s).
   */
  private final java.util.ArrayDeque<HandOutDeadline> handOutDeadlines = new java.util.ArrayDeque<>();
  /**
   * Hand-outs read from the store before their Track came, by job: the token's hash. The store
   * answers reads beside a claim's commit, and the matcher tells of the claim only once it is
   * forced, so a request for a job just handed out can read the hand-out first. What the request
   * did to the job (a terminate, a requeue) is then newer than the Track that follows, which
   * brought the hand-out back: its box booted a terminated job and wrote boot over its end. A
   * Track that never comes (the read was of an older hand-out) leaves its entry to the bound.
   */
  private final Map<Long, String> readBeforeItsTrack = new java.util.LinkedHashMap<>() {
    @Override
    protected boolean removeEldestEntry(Map.Entry<Long, String> eldest) {
      return size() > 10_000;
    }
  };
  /** Jobs just retired whose last write is not yet durable: answered from here, not the store. */
  private final Map<Long, Job> retiring = new HashMap<>();
  /**
   * Requests for jobs whose requeue is in flight, by job: the store still says dispatch until
   * the requeue commits, and a report handled on that word would be written over the requeue,
   * or over the next box's hand-out. They go on, in order, once the matcher has answered.
   */
  private final Map<Long, RequeueInFlight> requeuing = new HashMap<>();

  /** A requeue sent (again while the matcher does not answer), and the requests waiting for it. */
  private record RequeueInFlight(MatcherActor.Requeue requeue, List<Command> waiting) {}
  /** Requests for jobs being read from the store, answered in order once the read is back. */
  private final Map<Long, List<Command>> awaitingLoad = new HashMap<>();
  /**
   * Jobs handed out while a read of theirs was out: what that read brings back is older than
   * what memory had since, even once the job has ended and left memory again.
   */
  private final java.util.Set<Long> readsOvertaken = new java.util.HashSet<>();
  private final ActorRef<PersistenceActor.Written> written;
  /** Writes sent and not yet answered: a hand-over ends only once they are in (onHandOver). */
  private int writesOut;
  private final ActorRef<PersistenceActor.FindResult> found;
  private final ActorRef<PersistenceActor.LoadResult> loaded;
  private final ActorRef<MatcherActor.Requeued> requeued;

  public static Behavior<Command> create(ActorRef<PersistenceActor.Command> store,
      ActorRef<ExtractActor.Command> extractor, Timeouts timeouts, Clock clock) {
    return create(store, extractor, null, timeouts, clock);
  }

  /** {@code hosts}: told when a job leaves its box; null when nobody listens. */
  public static Behavior<Command> create(ActorRef<PersistenceActor.Command> store,
      ActorRef<ExtractActor.Command> extractor, ActorRef<HostRegistryActor.Command> hosts,
      Timeouts timeouts, Clock clock) {
    return create(store, extractor, hosts, timeouts, clock, Duration.ZERO, null);
  }

  /** Messages held while the jobs load. */
  static final int STASH = 100_000;
  /** Of {@link #STASH}, the room only the actors' own messages may take: requests past the rest are turned away. */
  static final int STASH_KEPT_FOR_THE_ACTORS = 1_000;

  /** A request of the HTTP edge or a box, which can be told to come back. */
  private static boolean isRequest(Command m) {
    return m instanceof Get || m instanceof Update || m instanceof CancelNotQueued || m instanceof Terminate
        || m instanceof FetchPackage || m instanceof CheckUpload || m instanceof GetDeadline;
  }

  private static Behavior<Command> create(ActorRef<PersistenceActor.Command> store,
      ActorRef<ExtractActor.Command> extractor, ActorRef<HostRegistryActor.Command> hosts,
      Timeouts timeouts, Clock clock, Duration sweepEvery, String fencedAs) {
    return Behaviors.withStash(STASH, stash -> Behaviors.setup(ctx -> Behaviors.withTimers(
        timers -> new LifecycleActor(ctx, timers, store, extractor,
            hosts != null ? hosts : ctx.getSystem().ignoreRef(), timeouts, clock, sweepEvery, fencedAs)
            .loading(stash))));
  }

  /**
   * The lifecycle as the scheduler runs it, under supervision: every instance tells itself the
   * matcher as it starts. A restarted lifecycle is a new instance, and without its matcher it
   * could never give a lost hand-out back. {@code matcher} is read at each start; it may give
   * null at the very first (the matcher is made after the lifecycle, which it needs), and the
   * caller then sends {@link UseMatcher} itself once the matcher exists.
   *
   * <p>{@code sweepEvery}: how often the store's hand-outs that nobody here tracks are looked for
   * (zero: never). Only where this scheduler makes every hand-out the store holds (its own
   * embedded store, or the one lifecycle of a cluster): another scheduler's hand-outs on a
   * shared MySQL are that scheduler's to follow.
   */
  public static Behavior<Command> create(ActorRef<PersistenceActor.Command> store,
      ActorRef<ExtractActor.Command> extractor, ActorRef<HostRegistryActor.Command> hosts,
      Timeouts timeouts, Clock clock, java.util.function.Supplier<ActorRef<MatcherActor.Command>> matcher,
      Duration sweepEvery) {
    return create(store, extractor, hosts, timeouts, clock, matcher, sweepEvery, null);
  }

  /**
   * Cluster mode ({@code fencedAs}: this node's cluster address, for the log): the start-up load
   * waits until the current matcher epoch is one this process's matcher took. From then on a
   * replaced node's writes are refused (see {@code JdbcJobStore}), so the jobs read are the last
   * word; read before, a row could still be changed behind this lifecycle by the node it
   * replaces.
   */
  public static Behavior<Command> create(ActorRef<PersistenceActor.Command> store,
      ActorRef<ExtractActor.Command> extractor, ActorRef<HostRegistryActor.Command> hosts,
      Timeouts timeouts, Clock clock, java.util.function.Supplier<ActorRef<MatcherActor.Command>> matcher,
      Duration sweepEvery, String fencedAs) {
    return Behaviors.setup(ctx -> {
      ActorRef<MatcherActor.Command> known = matcher.get();
      if (known != null) {
        ctx.getSelf().tell(new UseMatcher(known));
      }
      return create(store, extractor, hosts, timeouts, clock, sweepEvery, fencedAs);
    });
  }

  /**
   * Until the active jobs are back from the store, requests wait: a load answered after a job
   * retired would otherwise bring the job back to life.
   */
  private Behavior<Command> loading(StashBuffer<Command> stash) {
    return Behaviors.receive(Command.class)
        .onMessage(WritesIn.class, w -> {
          startLoad();
          return Behaviors.same();
        })
        .onMessage(Loaded.class, l -> {
          if (!onLoaded(l)) {
            return Behaviors.same();
          }
          announce();
          return stash.unstashAll(this);
        })
        .onMessage(EpochRead.class, this::onEpochRead)
        .onMessage(HandOver.class, h -> {
          // nothing was taken on yet: what waited is told to ask again, of the next lifecycle
          stash.forEach(this::turnAway);
          return Behaviors.stopped();
        })
        .onAnyMessage(m -> {
          if (stash.size() >= STASH - STASH_KEPT_FOR_THE_ACTORS && isRequest(m)) {
            // the store away at a start, and a busy lab: a request is told to come back; the
            // room left is for what the actors tell (a hand-out's Track, a take-back's Forget)
            answerFromStore(m, Outcome.of(Outcome.Status.UNAVAILABLE, "the scheduler is still loading its jobs: try again"));
            return Behaviors.same();
          }
          if (stash.isFull()) {
            getContext().getLog().error("lifecycle: its stash is full while it loads; dropped {}", m.getClass().getSimpleName());
            return Behaviors.same();
          }
          stash.stash(m);
          return Behaviors.same();
        })
        .build();
  }

  /** Cluster mode: this node's cluster address (null standalone); see the create that takes it. */
  private final String fencedAs;
  private final ActorRef<PersistenceActor.Epoch> epochRead;
  private boolean toldWaiting;

  /** How often the epoch row is read again while it is not yet this process's. */
  static final Duration EPOCH_WAIT = Duration.ofMillis(200);

  private LifecycleActor(ActorContext<Command> ctx, TimerScheduler<Command> timers,
      ActorRef<PersistenceActor.Command> store, ActorRef<ExtractActor.Command> extractor,
      ActorRef<HostRegistryActor.Command> hosts, Timeouts timeouts, Clock clock, Duration sweepEvery,
      String fencedAs) {
    super(ctx);
    // named here: Pekko names it from the call stack of its first use, which is Pekko's own
    // timer code when a timer fires first (a hand-out overdue at a restart, a sweep); its lines
    // then went out as org.apache.pekko's, which the scheduler logs at WARN only
    ctx.setLoggerName(LifecycleActor.class);
    this.hosts = hosts;
    this.extractor = extractor;
    this.extracted = ctx.messageAdapter(ExtractActor.Extracted.class, StatsExtracted::new);
    this.store = store;
    this.clock = clock;
    this.timers = timers;
    this.timeouts = timeouts;
    this.activity = new Activity(clock);
    this.written = ctx.messageAdapter(PersistenceActor.Written.class, StoreWritten::new);
    this.found = ctx.messageAdapter(PersistenceActor.FindResult.class, r -> new Found(r.id(), r));
    this.loaded = ctx.messageAdapter(PersistenceActor.LoadResult.class, Loaded::new);
    this.requeued = ctx.messageAdapter(MatcherActor.Requeued.class, Requeued::new);
    // a claim that became durable but whose Track never came (its answer lost to a failure or a
    // restart) would stay in dispatch with no deadline: the store is asked now and then for the
    // hand-outs nobody here tracks, and each gets its own deadline
    if (!sweepEvery.isZero() && !sweepEvery.isNegative()) {
      timers.startTimerWithFixedDelay(SWEEP, new Sweep(), sweepEvery);
    }
    this.fencedAs = fencedAs;
    this.epochRead = ctx.messageAdapter(PersistenceActor.Epoch.class, EpochRead::new);
    // after the writes of an incarnation before this one (a restart after a failure) are in:
    // read before, a job whose final state was still on its way would be taken in as running
    store.tell(new PersistenceActor.Barrier(ctx.messageAdapter(org.apache.pekko.Done.class, d -> new WritesIn())));
  }

  /** The store has what an incarnation before this one wrote: the load can start. */
  private record WritesIn() implements Command {}

  private void startLoad() {
    // jobs that were out on testboxes when the scheduler stopped get their deadlines back
    if (fencedAs == null) {
      store.tell(loadNext(Long.MIN_VALUE));
    } else {
      store.tell(new PersistenceActor.ReadEpoch(epochRead));
    }
  }

  /** Cluster mode: the load starts once this node's matcher has taken the current epoch. */
  private Behavior<Command> onEpochRead(EpochRead r) {
    java.util.Optional<org.compassci.sched.persistence.MatcherEpoch> epoch = r.epoch().epoch();
    // ours only when read, and present
    if (r.epoch().ours()) {
      getContext().getLog().info("lifecycle loads the active jobs: this node's matcher ({}) holds epoch {}",
          fencedAs, epoch.get().epoch());
      store.tell(loadNext(Long.MIN_VALUE));
      return Behaviors.same();
    }
    if (!toldWaiting) {
      toldWaiting = true;
      getContext().getLog().info("lifecycle waits for this node's matcher to take the epoch (now: {})",
          r.epoch().error().orElse(epoch.map(e -> e.epoch() + " of " + e.node()).orElse("none")));
    }
    getContext().scheduleOnce(EPOCH_WAIT, store, new PersistenceActor.ReadEpoch(epochRead));
    return Behaviors.same();
  }

  @Override
  public Receive<Command> createReceive() {
    return table();
  }

  private Receive<Command> handlers() {
    return newReceiveBuilder()
        .onMessage(Track.class, this::onTrack)
        .onMessage(UseMatcher.class, u -> {
          matcher = u.matcher();
          return this;
        })
        .onMessage(RetryExpired.class, r -> onExpired(new Expired(r.id(), r.stage())))
        .onMessage(HandOutsDue.class, d -> onHandOutsDue())
        .onMessage(Update.class, u -> {
          activity.touch();
          return withJob(u.id(), u, this::onUpdate);
        })
        .onMessage(Get.class, g -> {
          activity.touch();
          return withJob(g.id(), g, this::onGet);
        })
        .onMessage(GetStats.class, g -> {
          g.replyTo().tell(new ActorStats("lifecycle", Map.of("active_jobs", (long) active.size(),
              "handed_out_unread", (long) tracked.size(), "reads_in_flight", (long) awaitingLoad.size(),
              "retiring", (long) retiring.size(), "extracting", (long) extracting.size()),
              activity.messages(), activity.last()));
          return this;
        })
        .onMessage(TakeTally.class, t -> {
          t.replyTo().tell(new Tally(endedByHealth, runningByStage()));
          endedByHealth = new HashMap<>();
          return this;
        })
        .onMessage(ListRunning.class, this::onListRunning)
        .onMessage(CancelNotQueued.class, c -> withJob(c.id(), c, this::onCancelNotQueued))
        .onMessage(Terminate.class, t -> withJob(t.id(), t, this::onTerminate))
        .onMessage(Watch.class, this::onWatch)
        .onMessage(WatchersFound.class, this::onWatchersFound)
        .onMessage(HandOver.class, this::onHandOver)
        .onMessage(Forget.class, f -> {
          HeldHandOut held = held(f.id());
          if (held != null && held.tokenHash() != null && !held.tokenHash().equals(f.tokenHash())) {
            // the requeue's answer came late (a matcher restarted meanwhile): not this hand-out;
            // its box no longer runs the job unless the job went to the same box again
            if (!f.host().isEmpty() && !f.host().equals(held.host())) {
              hosts.tell(new HostRegistryActor.JobEnded(f.host(), f.id()));
            }
            return this;
          }
          if (!f.host().isEmpty()) {
            hosts.tell(new HostRegistryActor.JobEnded(f.host(), f.id()));
          }
          active.remove(f.id());
          tracked.remove(f.id());
          if (awaitingLoad.containsKey(f.id())) {
            // a read out now may have seen the hand-out before its take-back committed: its
            // answer must not bring the job back into memory as handed out
            readsOvertaken.add(f.id());
          }
          report(f.id(), f.view());
          return this;
        })
        .onMessage(Cancelled.class, c -> {
          report(c.id(), c.view());
          return this;
        })
        .onMessage(FetchPackage.class, f -> withJob(f.id(), f, this::onFetchPackage))
        .onMessage(CheckUpload.class, c -> withJob(c.id(), c, this::onCheckUpload))
        .onMessage(GetDeadline.class, g -> withJob(g.id(), g, this::onGetDeadline))
        .onMessage(Found.class, this::onFound)
        .onMessage(Expired.class, this::onExpired)
        .onMessage(BootedAgain.class, this::onBootedAgain)
        .onMessage(Reload.class, r -> withJob(r.id(), r, (c, job, stored) -> reschedule(job)))
        .onMessage(RetireAgain.class, this::onRetireAgain)
        .onMessage(Requeued.class, this::onRequeued)
        .onMessage(Sweep.class, w -> {
          if (!sweeping) {
            sweeping = true;
            sweepFrom(Long.MIN_VALUE);
          }
          return this;
        })
        .onMessage(Swept.class, this::onSwept)
        .onMessage(RequeueUnanswered.class, u -> {
          // the requeue may still be on its way to the store (a read now could be older than it),
          // or lost with a matcher that restarted: what waited is asked to come again, the gate
          // stays until an answer comes, and the requeue is sent again (a second one of a
          // requeued job is refused by its token), each time waiting twice as long, up to a minute
          RequeueInFlight inFlight = requeuing.get(u.id());
          if (inFlight == null) {
            return this;
          }
          getContext().getLog().warn("job {}: no answer to its requeue (attempt {}); sending it again",
              u.id(), u.attempt());
          Outcome busy = Outcome.of(Outcome.Status.UNAVAILABLE,
              "job " + u.id() + " is being given back to the queue: ask again shortly");
          inFlight.waiting().forEach(cmd -> answerFromStore(cmd, busy));
          inFlight.waiting().clear();
          Duration next = REQUEUE_ANSWER_WITHIN.multipliedBy(1L << Math.min(u.attempt(), 3));
          timers.startSingleTimer(new RequeueTimer(u.id()), new RequeueUnanswered(u.id(), u.attempt() + 1),
              next.compareTo(Duration.ofMinutes(1)) > 0 ? Duration.ofMinutes(1) : next);
          matcher.tell(inFlight.requeue());
          return this;
        })
        .onMessage(StatsExtracted.class, this::onStatsExtracted)
        .onMessage(StoreWritten.class, this::onWritten)
        .build();
  }

  private Behavior<Command> onTrack(Track t) {
    activity.touch();
    List<HostRegistryActor.HandedOut> notes = new ArrayList<>(t.records().size());
    for (JobRecord r : t.records()) {
      String seen = readBeforeItsTrack.remove(r.id());
      if (seen != null && seen.equals(r.tokenHash())) {
        // this hand-out was read from the store first, and what became of it since (ended,
        // given back) is newer than this word of it
        continue;
      }
      notes.add(new HostRegistryActor.HandedOut(r.host(), r.id()));
      track(r);
    }
    if (notes.size() == 1) {
      hosts.tell(notes.get(0));
    } else if (!notes.isEmpty()) {
      hosts.tell(new HostRegistryActor.HandOuts(notes));
    }
    return this;
  }

  private void track(JobRecord r) {
    // a hand-out is the newest word on its job: any copy held from before is stale
    active.remove(r.id());
    tracked.put(r.id(), r);
    if (awaitingLoad.containsKey(r.id())) {
      readsOvertaken.add(r.id());
    }
    if (watched.containsKey(r.id())) {
      // someone follows it: worth reading the document now to report the hand-out
      tracked.remove(r.id());
      Job job = readable(r);
      if (job != null) {
        active.put(job.id(), job);
        report(job.id(), job.view());
      }
    }
    // parsed only when needed: the hand-out's deadline comes from the record alone
    long due = r.dispatchTimeMillis() + timeouts.handOut().toMillis();
    HandOutDeadline last = handOutDeadlines.peekLast();
    if (last != null && due < last.dueMillis()) {
      // out of order (a clock set back): a timer of its own
      timers.startSingleTimer(r.id(), new Expired(r.id(), JobStage.DISPATCH),
          Duration.ofMillis(Math.max(0, due - clock.millis())));
      return;
    }
    handOutDeadlines.addLast(new HandOutDeadline(r.id(), due));
    if (last == null) {
      timers.startSingleTimer(HAND_OUTS_DUE, new HandOutsDue(), Duration.ofMillis(Math.max(0, due - clock.millis())));
    }
  }

  /** Every hand-out now due is expired (those whose jobs moved on are passed over there). */
  private Behavior<Command> onHandOutsDue() {
    long now = clock.millis();
    while (!handOutDeadlines.isEmpty() && handOutDeadlines.peekFirst().dueMillis() <= now) {
      onExpired(new Expired(handOutDeadlines.pollFirst().id(), JobStage.DISPATCH));
    }
    HandOutDeadline next = handOutDeadlines.peekFirst();
    if (next != null) {
      timers.startSingleTimer(HAND_OUTS_DUE, new HandOutsDue(), Duration.ofMillis(next.dueMillis() - now));
    }
    return this;
  }

  /** The id of the last job loaded so far in this part of the load: a failed load goes on after it. */
  private long loadedUpTo = Long.MIN_VALUE;
  private int adopted;
  private int settling;
  /** The load's second part: the ended jobs whose data has not settled. */
  private boolean loadingSettling;

  /** Adopts one page of loaded jobs; true once the last page is in. */
  private boolean onLoaded(Loaded l) {
    if (l.result().error().isPresent()) {
      getContext().getLog().warn("cannot load the {}, retrying in 1s: {}",
          loadingSettling ? "ended jobs whose data is still to settle" : "active jobs", l.result().error().get());
      getContext().scheduleOnce(Duration.ofSeconds(1), store, loadNext(loadedUpTo));
      return false;
    }
    List<HostRegistryActor.HandedOut> held = new ArrayList<>();
    for (JobRecord r : l.result().jobs()) {
      loadedUpTo = r.id();
      if (!active.containsKey(r.id()) && !tracked.containsKey(r.id())) {
        Job job = readable(r);
        if (job != null) {
          // its deadline is set once the whole load is in: one already past would fire now,
          // into the stash, a message per job of a long downtime
          take(job);
          if (job.stage().isFinal()) {
            settling++;
          } else {
            adopted++;
            if (!job.field("host_machine").isEmpty()) {
              held.add(new HostRegistryActor.HandedOut(job.field("host_machine"), job.id()));
            }
          }
        }
      }
    }
    if (!held.isEmpty()) {
      // the registry lives in memory: after a restart it learns again which box runs what, so
      // that a box's get_deadline (lkp-renew) is answered before the box next asks for a job
      hosts.tell(new HostRegistryActor.HandOuts(held));
    }
    if (!l.result().last()) {
      return false;
    }
    if (!loadingSettling) {
      // then the jobs that ended while their data was on its way: their post-run deadline and,
      // for uploaded data, their extraction were in the memory of the scheduler that stopped
      loadingSettling = true;
      loadedUpTo = Long.MIN_VALUE;
      store.tell(loadNext(loadedUpTo));
      return false;
    }
    getContext().getLog().info("lifecycle loaded {} active jobs and {} ended ones whose data is still to settle",
        adopted, settling);
    active.values().forEach(this::reschedule);
    return true;
  }

  /** Takes a job read from the store into memory with its deadline (see {@link #take}). */
  private void adopt(Job job) {
    take(job);
    reschedule(job);
  }

  /**
   * Takes a job read from the store into memory, its deadline still to set. A job whose data was
   * uploaded, ended or still running, had its extraction in the memory of a scheduler that
   * stopped (or of this one before the job left it): it is extracted again, or it would wait for
   * statistics until its deadline and settle incomplete (a running one: its post-run would not
   * start another, its data being uploaded already).
   */
  private void take(Job job) {
    active.put(job.id(), job);
    if (job.readiness() == DataReadiness.UPLOADED) {
      extract(job);
    }
  }

  /**
   * Jobs whose extraction is out, and since when: the extraction's answer settles such a job
   * (the extractor times out on its own), not its post-run deadline. After a restart that came
   * later than post_run, that deadline is already past when the extraction starts again, and
   * the job settled incomplete before its statistics came back.
   */
  private final Map<Long, Long> extracting = new HashMap<>();

  /** How long after its extraction started a job past its deadline waits for the answer. */
  static final Duration EXTRACTION_ANSWER_WITHIN = Duration.ofHours(1);

  private void extract(Job job) {
    extracting.put(job.id(), clock.millis());
    extractor.tell(new ExtractActor.Extract(job.id(), job.view(), extracted));
  }

  /**
   * The sweep reads every job out on a box: hand-outs, and jobs past dispatch, which can be left
   * in the store with nobody holding them too (a box's report written over a hand-out the matcher
   * had just taken back); those would have stayed until a restart.
   */
  private static final List<String> SWEPT = java.util.Arrays.stream(JobStage.values())
      .filter(JobStage::isActive).map(JobStage::wireName).toList();

  private void sweepFrom(long afterId) {
    getContext().ask(PersistenceActor.LoadResult.class, store, Duration.ofSeconds(30),
        replyTo -> PersistenceActor.LoadStages.page(SWEPT, afterId, replyTo),
        (result, failure) -> new Swept(failure == null ? result : null));
  }

  private Behavior<Command> onSwept(Swept w) {
    if (w.result() == null || w.result().error().isPresent()) {
      sweeping = false;
      sweepSeen.clear();
      getContext().getLog().warn("cannot read the store's hand-outs, next time then: {}",
          w.result() == null ? "no answer" : w.result().error().get());
      return this;
    }
    int found = 0;
    List<JobRecord> page = w.result().jobs();
    for (JobRecord r : page) {
      if (!active.containsKey(r.id()) && !tracked.containsKey(r.id()) && !requeuing.containsKey(r.id())
          && !retiring.containsKey(r.id()) && !awaitingLoad.containsKey(r.id())) {
        // seen untracked twice, a sweep apart: a read that raced a job's retirement, requeue or
        // cancel (and saw it still out) cannot be as old as the sweep before
        if (sweepSuspects.contains(r.id())) {
          if (JobStage.DISPATCH.wireName().equals(r.stage())) {
            track(r);
          } else {
            Job job = readable(r);
            if (job != null) {
              adopt(job);
              if (!job.field("host_machine").isEmpty()) {
                // as at a load: the registry learns which box runs it (its get_deadline, the dashboard)
                hosts.tell(new HostRegistryActor.HandedOut(job.field("host_machine"), job.id()));
              }
            }
          }
          found++;
        } else {
          sweepSeen.add(r.id());
        }
      }
    }
    if (found > 0) {
      getContext().getLog().warn("sweep: {} jobs out in the store that nobody tracked, now due by their own"
          + " deadlines", found);
    }
    if (w.result().last() || page.isEmpty()) {
      sweeping = false;
      sweepSuspects = java.util.Set.copyOf(sweepSeen);
      sweepSeen.clear();
    } else {
      sweepFrom(page.get(page.size() - 1).id());
    }
    return this;
  }

  /** The next pages of the load at a start: the active jobs, then the ended ones still settling. */
  private PersistenceActor.LoadStages loadNext(long afterId) {
    List<String> stages = new ArrayList<>();
    for (JobStage st : JobStage.values()) {
      if (loadingSettling ? st.isFinal() : st.isActive()) {
        stages.add(st.wireName());
      }
    }
    if (!loadingSettling) {
      return new PersistenceActor.LoadStages(stages, afterId, loaded);
    }
    List<String> unsettled = new ArrayList<>();
    for (DataReadiness r : DataReadiness.values()) {
      if (!r.isSettled()) {
        unsettled.add(r.wireName());
      }
    }
    return PersistenceActor.LoadStages.settling(stages, unsettled, afterId, loaded);
  }

  /** The longest a stage timer is set for; see {@link #reschedule}. */
  static final Duration LONGEST_TIMER = Duration.ofDays(1);

  /** Sets the job's timer for its current stage, or clears it when the stage has none. */
  private void reschedule(Job job) {
    Optional<Timeouts.Deadline> d = timeouts.deadline(job, clock.instant());
    if (d.isEmpty() || job.isRetired()) {
      timers.cancel(job.id());
      return;
    }
    long due = d.get().at().toEpochMilli() - clock.millis();
    // a timer fires at least once a day and finds the deadline not yet due (onExpired sets the
    // next): Pekko's scheduler refuses delays past about 248 days, and a job may run for years
    timers.startSingleTimer(job.id(), new Expired(job.id(), job.stage()),
        Duration.ofMillis(Math.min(Math.max(0, due), LONGEST_TIMER.toMillis())));
  }

  /** A lost hand-out back to the queue, through the matcher, counted against the job's requeue budget. */
  private void requeueLost(Job job, String reason) {
    active.remove(job.id());
    MatcherActor.Requeue requeue = new MatcherActor.Requeue(job.id(), job.tokenHash(), reason, requeued);
    requeuing.putIfAbsent(job.id(), new RequeueInFlight(requeue, new ArrayList<>()));
    timers.startSingleTimer(new RequeueTimer(job.id()), new RequeueUnanswered(job.id(), 1), REQUEUE_ANSWER_WITHIN);
    matcher.tell(requeue);
  }

  /** Whether the job's current hand-out was made before {@code millis}; not known, no. */
  private static boolean dispatchedBefore(Job job, long millis) {
    try {
      return java.time.Instant.parse(job.field(JobStage.DISPATCH.timeField())).toEpochMilli() < millis;
    } catch (RuntimeException unknown) {
      return false;
    }
  }

  private Behavior<Command> onBootedAgain(BootedAgain b) {
    int givingBack = 0;
    // before UseMatcher the dispatch-ack timeout takes the hand-outs back, later
    for (long id : matcher == null ? List.<Long>of() : b.held()) {
      if (requeuing.containsKey(id)) {
        continue;
      }
      // only a job this actor holds now: one it must read first is left to its timeout
      Job job = active.get(id);
      if (job == null) {
        JobRecord r = tracked.get(id);
        job = r == null || !JobStage.DISPATCH.wireName().equals(r.stage()) ? null : readable(r);
        if (job == null) {
          continue;
        }
        tracked.remove(id);
        active.put(id, job);
      }
      if (job.stage() == JobStage.DISPATCH && b.hostname().equals(job.field("host_machine"))
          && job.requeueCount() < timeouts.requeueMax() && dispatchedBefore(job, b.askedAtMillis())) {
        getContext().getLog().info("job {}: {} booted again before it fetched the job; back to the queue",
            id, b.hostname());
        requeueLost(job, "testbox " + b.hostname() + " booted again before it fetched the job");
        givingBack++;
      }
    }
    b.replyTo().tell(new GivingBack(givingBack));
    return this;
  }

  private Behavior<Command> onExpired(Expired e) {
    Job job = active.get(e.id());
    if (job == null) {
      JobRecord r = tracked.remove(e.id());
      job = r == null ? null : readable(r);
      if (job == null) {
        return this;
      }
      active.put(job.id(), job);
    }
    if (job.stage() != e.stage()) {
      return this;
    }
    Long extractingSince = job.stage().isFinal() ? extracting.get(job.id()) : null;
    if (extractingSince != null) {
      long waitUntil = extractingSince + EXTRACTION_ANSWER_WITHIN.toMillis();
      if (clock.millis() < waitUntil) {
        timers.startSingleTimer(job.id(), new Expired(job.id(), job.stage()),
            Duration.ofMillis(waitUntil - clock.millis()));
        return this;
      }
      extracting.remove(job.id());
    }
    Timeouts.Expiry expiry = timeouts.expire(job, clock.instant());
    if (expiry == Timeouts.Expiry.NOT_DUE) {
      // renewed since the timer was set
      reschedule(job);
      return this;
    }
    if (expiry == Timeouts.Expiry.REQUEUE) {
      if (matcher == null) {
        // only before UseMatcher has come: a lost hand-out goes back, it is never aborted for that
        getContext().scheduleOnce(Duration.ofSeconds(1), getContext().getSelf(),
            new RetryExpired(e.id(), e.stage()));
        return this;
      }
      requeueLost(job, "no report from " + job.field("host_machine") + " within the dispatch-ack timeout");
      return this;
    }
    if (expiry == Timeouts.Expiry.DATA_SETTLED) {
      getContext().getLog().info("job {} finished {} and its data did not settle in time: {}", job.id(),
          job.health().wireName(), job.readiness().wireName());
    } else {
      getContext().getLog().info("job {} timed out: {}", job.id(), job.health().wireName());
      endedByHealth.merge(job.health().wireName(), 1L, Long::sum);
    }
    write(job, null);
    return this;
  }

  /** Statistics are in (or failed): the data is complete (or incomplete), and the job may retire. */
  private Behavior<Command> onStatsExtracted(StatsExtracted s) {
    extracting.remove(s.extracted().id());
    Job job = active.get(s.extracted().id());
    var result = s.extracted().result();
    if (job != null && job.settleData(result.stats(), result.ok() ? null : result.error())) {
      write(job, null);
    }
    return this;
  }

  private Behavior<Command> onRequeued(Requeued q) throws Exception {
    MatcherActor.Requeued r = q.answer();
    timers.cancel(new RequeueTimer(r.id()));
    // after the requeue (or its refusal) is durable: what waited now reads the store's word
    replayAfterRequeue(r.id());
    if (r.outcome().status() != Outcome.Status.OK) {
      // the box reported meanwhile, or the store was away: the store's word decides
      getContext().getLog().info("job {} not requeued: {}", r.id(), r.outcome().message());
      getContext().scheduleOnce(Duration.ofSeconds(1), getContext().getSelf(), new Reload(r.id(), 0));
    }
    return this;
  }

  private void replayAfterRequeue(long id) throws Exception {
    RequeueInFlight inFlight = requeuing.remove(id);
    if (inFlight != null) {
      for (Command cmd : inFlight.waiting()) {
        table().receive(getContext(), cmd);
      }
    }
  }

  /** A hand-out of a job held here: its box and its token's hash (either may be null). */
  private record HeldHandOut(String host, String tokenHash) {}

  /** The hand-out held here for the job, from memory (read or not yet); null when none. */
  private HeldHandOut held(long id) {
    Job job = active.get(id);
    if (job != null) {
      return new HeldHandOut(job.field("host_machine"), job.tokenHash());
    }
    JobRecord r = tracked.get(id);
    return r == null ? null : new HeldHandOut(r.host(), r.tokenHash());
  }

  /** Runs {@code handler} with the job from memory, or once it is read from the store. */
  private <C extends Command> Behavior<Command> withJob(long id, C cmd, JobHandler<C> handler) {
    RequeueInFlight behindRequeue = requeuing.get(id);
    if (behindRequeue != null) {
      behindRequeue.waiting().add(cmd);
      return this;
    }
    Job job = active.get(id);
    if (job == null) {
      JobRecord record = tracked.remove(id);
      if (record != null) {
        job = readable(record);
        if (job != null) {
          active.put(id, job);
        }
      }
    }
    if (job != null) {
      handler.handle(cmd, job, null);
      return this;
    }
    Job gone = retiring.get(id);
    if (gone != null) {
      answerFromStore(cmd, Outcome.ok(gone.view()));
      return this;
    }
    List<Command> waiting = awaitingLoad.get(id);
    if (waiting != null) {
      waiting.add(cmd);
      return this;
    }
    awaitingLoad.put(id, new ArrayList<>(List.of(cmd)));
    store.tell(new PersistenceActor.Find(id, found));
    return this;
  }

  @FunctionalInterface
  private interface JobHandler<C> {
    /** {@code job} is null when it is not active; then {@code stored} tells what the store had. */
    void handle(C cmd, Job job, Outcome stored);
  }

  private Behavior<Command> onFound(Found f) throws Exception {
    List<Command> waiting = awaitingLoad.remove(f.id());
    if (waiting == null) {
      return this;
    }
    Outcome stored;
    if (readsOvertaken.remove(f.id()) || active.containsKey(f.id()) || tracked.containsKey(f.id())) {
      // handed out (Track) while the read was out: that is newer than what was read, and a
      // second copy in memory would come back to life after the first retired. The requests
      // go through the table again: from memory, from the job's final state while it is being
      // written, or from a new read once it has left memory (ended meanwhile, an old read's
      // "dispatch" would have taken it back in, to be run again by a box's late report)
      stored = null;
    } else if (f.result().error().isPresent()) {
      stored = Outcome.of(Outcome.Status.UNAVAILABLE, STORE_AWAY + f.result().error().get());
    } else if (f.result().job().isEmpty()) {
      stored = Outcome.of(Outcome.Status.NOT_FOUND, "job " + f.id() + " does not exist");
    } else {
      JobRecord r = f.result().job().get();
      Job job = readable(r);
      if (job == null) {
        stored = Outcome.of(Outcome.Status.DAMAGED, "job " + f.id() + " cannot be read from the store");
      } else if (job.stage().isActive() || (job.stage().isFinal() && !job.isRetired())) {
        if (job.stage() == JobStage.DISPATCH && job.tokenHash() != null && !job.tokenHash().isEmpty()) {
          readBeforeItsTrack.put(job.id(), job.tokenHash());
          // what its Track would have told, told now: the Track will be passed over, and an end
          // of the job told to the registry before it would leave the box holding it
          hosts.tell(new HostRegistryActor.HandedOut(job.field("host_machine"), job.id()));
          if (watched.containsKey(job.id())) {
            report(job.id(), job.view());
          }
        }
        adopt(job);
        stored = null;
      } else {
        stored = Outcome.ok(job.view());
      }
    }
    for (Command cmd : waiting) {
      // replays through the table: memory now has the job if the store said it is active. Here
      // and now, not by a message to self: those would queue behind any request for the job
      // that came in while the read was out, and a box's "running" could pass its "boot"
      if (stored == null) {
        table().receive(getContext(), cmd);
      } else {
        answerFromStore(cmd, stored);
      }
    }
    return this;
  }

  private Receive<Command> table;

  /**
   * The actor's one handler table: what Pekko receives with ({@link #createReceive()}), and what
   * requests replayed once their job is read, and those taken while the actor hands over, go
   * through.
   */
  private Receive<Command> table() {
    if (table == null) {
      table = handlers();
    }
    return table;
  }

  private Job readable(JobRecord r) {
    try {
      return Job.fromRecord(r);
    } catch (RuntimeException e) {
      getContext().getLog().error("job {} in the store cannot be read: {}", r.id(), e.getMessage());
      return null;
    }
  }

  /** A job not held here: queued in the matcher, retired, or missing. */
  private void answerFromStore(Command cmd, Outcome stored) {
    if (cmd instanceof Get g) {
      g.replyTo().tell(stored);
    } else if (cmd instanceof Update u) {
      u.replyTo().tell(refuseStored(u, stored));
    } else if (cmd instanceof CancelNotQueued c) {
      c.replyTo().tell(cancelStored(c.id(), stored));
    } else if (cmd instanceof Terminate t) {
      t.replyTo().tell(terminateStored(t.id(), stored));
    } else if (cmd instanceof FetchPackage f) {
      f.replyTo().tell(stored.status() == Outcome.Status.OK
          ? Outcome.of(Outcome.Status.CONFLICT, "job " + f.id() + " is " + stored.job().path("job_stage").asText()
              + ": its package is served only while it is in dispatch or boot")
          : stored);
    } else if (cmd instanceof CheckUpload c) {
      c.replyTo().tell(org.compassci.sched.boot.BootRules.uploadStored(stored));
    } else if (cmd instanceof Reload r && stored.status() == Outcome.Status.UNAVAILABLE
        && stored.message().startsWith(STORE_AWAY)) {
      // the requeue and this read both met the store away: the job left memory for the requeue,
      // so nothing else here would ever look at it again (a store without the sweep keeps it in
      // dispatch until a restart). Read it again until the store answers
      int attempt = r.attempt() + 1;
      getContext().scheduleOnce(Duration.ofSeconds(Math.min(30, 1L << Math.min(attempt, 5))),
          getContext().getSelf(), new Reload(r.id(), attempt));
    } else if (cmd instanceof GetDeadline g) {
      g.replyTo().tell(stored.status() == Outcome.Status.OK
          ? Outcome.of(Outcome.Status.CONFLICT, "job " + g.id() + " is " + stored.job().path("job_stage").asText()
              + ": it has no deadline")
          : stored);
    }
  }

  /**
   * A cancel the matcher did not hold the job for, read from the store. In submit, the job went
   * back to the queue after the matcher looked (its requeue, or a claim that failed, was still
   * out): that is not "past submit", and the caller may try again.
   */
  private static Outcome cancelStored(long id, Outcome stored) {
    return pastSubmit(id, stored, job -> "job " + id + " is " + job.path("job_stage").asText()
        + "; only a job in submit can be cancelled");
  }

  private static Outcome terminateStored(long id, Outcome stored) {
    return pastSubmit(id, stored, job -> "job " + id + " has already ended (" + job.path("job_stage").asText()
        + ", health " + job.path("job_health").asText() + ")");
  }

  /** A job read from the store for a call on a job out on a box: 409 {@code conflict}, or 503 when queued again. */
  private static Outcome pastSubmit(long id, Outcome stored,
      java.util.function.Function<com.fasterxml.jackson.databind.JsonNode, String> conflict) {
    if (stored.status() != Outcome.Status.OK) {
      return stored;
    }
    if (JobStage.SUBMIT.wireName().equals(stored.job().path("job_stage").asText())) {
      return Outcome.of(Outcome.Status.UNAVAILABLE, "job " + id + " went back to the queue meanwhile: try again");
    }
    return Outcome.of(Outcome.Status.CONFLICT, conflict.apply(stored.job()));
  }

  private void onTerminate(Terminate t, Job job, Outcome unused) {
    Optional<String> refusal = org.compassci.sched.model.Termination.refusal(job);
    if (refusal.isPresent()) {
      t.replyTo().tell(Outcome.of(Outcome.Status.CONFLICT, refusal.get()));
      return;
    }
    org.compassci.sched.model.Termination.apply(job, clock.instant());
    reschedule(job);
    endedByHealth.merge(job.health().wireName(), 1L, Long::sum);
    write(job, new PendingUpdate(t.replyTo(), Outcome.ok(job.view())));
  }

  private void onFetchPackage(FetchPackage f, Job job, Outcome unused) {
    Outcome permit = org.compassci.sched.boot.BootRules.packageOf(job, f.token());
    if (permit.status() != Outcome.Status.OK) {
      f.replyTo().tell(permit);
      return;
    }
    boolean firstAddress = job.boxAddress().isEmpty();
    if (firstAddress) {
      // the box's address, at its first download (the job may be in boot or later already:
      // anyone's legacy call can move it on), durable before the answer; one not known still
      // marks the package fetched
      job.fetchedFrom(f.from() != null ? f.from() : Job.UNKNOWN_ADDRESS);
    }
    if (job.stage() != JobStage.DISPATCH) {
      if (firstAddress) {
        write(job, new PendingUpdate(f.replyTo(), Outcome.ok(job.packageDoc())));
      } else {
        f.replyTo().tell(Outcome.ok(job.packageDoc()));
      }
      return;
    }
    // the first download: the box is booting
    JobUpdate.apply(job, List.of(new JobUpdate.Param("job_stage", JobStage.BOOT.wireName())),
        JobUpdate.Mode.STRICT, clock.instant());
    reschedule(job);
    write(job, new PendingUpdate(f.replyTo(), Outcome.ok(job.packageDoc())));
  }

  private void onCheckUpload(CheckUpload c, Job job, Outcome unused) {
    c.replyTo().tell(org.compassci.sched.boot.BootRules.upload(job, c.token(), c.from()));
  }

  private void onGetDeadline(GetDeadline g, Job job, Outcome unused) {
    Optional<Timeouts.Deadline> d = timeouts.deadline(job, clock.instant());
    g.replyTo().tell(d.isEmpty() || job.isRetired()
        ? Outcome.of(Outcome.Status.CONFLICT, "job " + g.id() + " is " + job.stage().wireName() + ": it has no deadline")
        : Outcome.ok(org.compassci.sched.model.Json.object().put("deadline", d.get().at().toString())
            .put("job_stage", job.stage().wireName())));
  }

  private Outcome refuseStored(Update u, Outcome stored) {
    long id = u.id();
    JobUpdate.Mode mode = u.mode();
    if (stored.status() != Outcome.Status.OK) {
      return stored;
    }
    // a bad value is the caller's mistake whatever the job's state: 400 before 409 or 423, as
    // for a job on a box
    Optional<String> invalid = mode == JobUpdate.Mode.LEGACY ? Optional.empty() : JobUpdate.invalid(u.params(), mode);
    if (invalid.isPresent()) {
      return Outcome.of(Outcome.Status.INVALID, invalid.get());
    }
    String stage = stored.job().path("job_stage").asText();
    if (JobStage.SUBMIT.wireName().equals(stage)) {
      String why = "job " + id + " is still queued: it takes updates once dispatched";
      // a box whose hand-out was taken back may still report: ignored, answered 200 (legacy)
      return mode == JobUpdate.Mode.LEGACY ? Outcome.of(Outcome.Status.OK, "ignored: " + why)
          : Outcome.of(Outcome.Status.CONFLICT, why);
    }
    if (mode == JobUpdate.Mode.LEGACY) {
      return Outcome.of(Outcome.Status.OK, "ignored: job " + id + " has ended");
    }
    return Outcome.of(Outcome.Status.LOCKED, "job " + id + " is " + stage + " and its data "
        + stored.job().path("job_data_readiness").asText() + ": it takes no more updates");
  }

  private void onUpdate(Update u, Job job, Outcome unused) {
    Optional<String> stranger = JobUpdate.checkSender(job, u.params());
    if (stranger.isPresent()) {
      // busybox wget cannot read an error: the legacy routes answer 200 and change nothing
      u.replyTo().tell(u.mode() == JobUpdate.Mode.LEGACY
          ? Outcome.of(Outcome.Status.OK, "ignored: " + stranger.get())
          : Outcome.of(Outcome.Status.CONFLICT, stranger.get()));
      return;
    }
    DataReadiness before = job.readiness();
    JobStage stageBefore = job.stage();
    JobUpdate.Result r = JobUpdate.apply(job, u.params(), u.mode(), clock.instant());
    if (r.refused()) {
      if (u.mode() == JobUpdate.Mode.LEGACY && r.refusal() != Outcome.Status.INVALID) {
        u.replyTo().tell(Outcome.of(Outcome.Status.OK, "ignored: " + r.message()));
      } else {
        u.replyTo().tell(Outcome.of(r.refusal(), r.message()));
      }
      return;
    }
    if (!r.changed()) {
      u.replyTo().tell(Outcome.ok(job.view()));
      return;
    }
    reschedule(job);
    if (!stageBefore.isFinal() && job.stage().isFinal()) {
      endedByHealth.merge(job.health().wireName(), 1L, Long::sum);
    }
    if (before != DataReadiness.UPLOADED && job.readiness() == DataReadiness.UPLOADED) {
      extract(job);
    }
    // the answer waits for the commit: what a testbox was told is what a restart finds
    write(job, new PendingUpdate(u.replyTo(), Outcome.ok(job.view())));
  }

  /** Writes the job's state, kept when the store is away; a retired job leaves memory here. */
  private void write(Job job, PendingUpdate update) {
    Object context = update;
    if (watched.containsKey(job.id())) {
      report(job.id(), job.view());
    }
    if (job.stage().isFinal() && !job.field("host_machine").isEmpty()) {
      hosts.tell(new HostRegistryActor.JobEnded(job.field("host_machine"), job.id()));
    }
    if (job.isRetired()) {
      active.remove(job.id());
      extracting.remove(job.id());
      timers.cancel(job.id());
      retiring.put(job.id(), job);
      context = new PendingRetire(job, update, 0);
    }
    writesOut++;
    store.tell(PersistenceActor.Write.kept(List.of(job.toRecord()), context, written));
  }

  /**
   * Tells the watch actor of a change to a job someone follows. Every job notice goes through
   * here, whichever actor owned the job, so watchers hear one source under one rule.
   */
  private void report(long id, com.fasterxml.jackson.databind.node.ObjectNode view) {
    java.util.Set<ActorRef<WatchActor.Command>> to = watched.get(id);
    if (to != null) {
      WatchActor.Changed changed = new WatchActor.Changed(id, view);
      to.forEach(w -> w.tell(changed));
    }
  }

  private Behavior<Command> onWatch(Watch w) {
    if (w.on()) {
      watched.computeIfAbsent(w.id(), id -> new java.util.HashSet<>()).add(w.reportTo());
    } else {
      java.util.Set<ActorRef<WatchActor.Command>> to = watched.get(w.id());
      if (to != null && to.remove(w.reportTo()) && to.isEmpty()) {
        watched.remove(w.id());
      }
    }
    return this;
  }

  /**
   * A new incarnation (after a restart, or in a cluster on another node) knows no watchers:
   * the watch actors are found through the receptionist and asked to follow their jobs again.
   * Subscribed, not looked up once: in a cluster a node's watch actor may reach this node's
   * listing after the load (a node that joined late, a hand-over soon after the start), and
   * missed by a single look its streams heard nothing from this lifecycle.
   */
  private void announce() {
    getContext().getSystem().receptionist().tell(org.apache.pekko.actor.typed.receptionist.Receptionist.subscribe(
        WatchActor.WATCHERS, getContext().messageAdapter(
            org.apache.pekko.actor.typed.receptionist.Receptionist.Listing.class, WatchersFound::new)));
  }

  /** The watch actors already asked to follow their jobs here. */
  private final java.util.Set<ActorRef<WatchActor.Command>> announcedTo = new java.util.HashSet<>();

  private Behavior<Command> onWatchersFound(WatchersFound f) {
    java.util.Set<ActorRef<WatchActor.Command>> listed = f.listing().getServiceInstances(WatchActor.WATCHERS);
    for (ActorRef<WatchActor.Command> w : listed) {
      if (announcedTo.add(w)) {
        w.tell(new WatchActor.LifecycleStarted());
      }
    }
    announcedTo.retainAll(listed);
    return this;
  }

  /**
   * Stops once every write it made is answered: the next lifecycle reads the jobs from the store,
   * and a box is answered only after its report is durable. Reports and terminates that come
   * meanwhile are told to try again (the next lifecycle takes them): one taken here after the
   * store had drained was written after the next lifecycle's read, and its answer came back to
   * an actor already gone.
   */
  private Behavior<Command> onHandOver(HandOver h) {
    getContext().getLog().info("lifecycle hands over: waiting for its {} writes to commit", writesOut);
    store.tell(new PersistenceActor.Drain(getContext().messageAdapter(org.apache.pekko.Done.class, d -> new Drained())));
    boolean[] drained = {false};
    getContext().scheduleOnce(HAND_OVER_AT_MOST, getContext().getSelf(), new HandOverOverdue());
    return Behaviors.receive(Command.class)
        .onMessage(HandOverOverdue.class, o -> {
          getContext().getLog().warn("lifecycle hands over with {} writes unanswered after {}", writesOut, HAND_OVER_AT_MOST);
          return handedOver();
        })
        .onMessage(Drained.class, d -> {
          drained[0] = true;
          return writesOut == 0 ? handedOver() : Behaviors.same();
        })
        .onAnyMessage(m -> {
          if (sentOnWhileHandingOver(m)) {
            return Behaviors.same();
          }
          table().receive(getContext(), m);
          return drained[0] && writesOut == 0 ? handedOver() : Behaviors.same();
        })
        .build();
  }

  /**
   * Stops: the requests still waiting for a read of their job, or behind its requeue, are told to
   * ask again (of the next lifecycle) rather than left to their ask's timeout.
   */
  private Behavior<Command> handedOver() {
    awaitingLoad.values().forEach(waiting -> waiting.forEach(this::turnAway));
    awaitingLoad.clear();
    requeuing.values().forEach(r -> r.waiting().forEach(this::turnAway));
    requeuing.clear();
    return Behaviors.stopped();
  }

  /** A request told to ask again, of the next lifecycle; anything else is left. */
  private void turnAway(Command m) {
    if (!(m instanceof Reload)) {
      answerFromStore(m, Outcome.of(Outcome.Status.UNAVAILABLE, HANDING_OVER));
    }
  }

  static final String HANDING_OVER = "the lifecycle is moving to another node: try again";

  /** A report or a terminate during a hand-over is told to try again (the next lifecycle takes it); true if so. */
  private static boolean sentOnWhileHandingOver(Command m) {
    ActorRef<Outcome> replyTo = m instanceof Update u ? u.replyTo() : m instanceof Terminate t ? t.replyTo() : null;
    if (replyTo != null) {
      replyTo.tell(Outcome.of(Outcome.Status.UNAVAILABLE, HANDING_OVER));
    }
    return replyTo != null;
  }

  private Map<String, Long> runningByStage() {
    Map<String, Long> out = new java.util.TreeMap<>();
    if (!tracked.isEmpty()) {
      out.put(JobStage.DISPATCH.wireName(), (long) tracked.size());
    }
    for (Job job : active.values()) {
      out.merge(job.stage().wireName(), 1L, Long::sum);
    }
    return out;
  }

  /** Paged by job id, so an operator's list is stable between two pages. */
  private Behavior<Command> onListRunning(ListRunning l) {
    if (l.limit() <= 0) {
      // counts only (the dashboard's summary, each second): no need to order every job
      l.replyTo().tell(new Running(active.size() + tracked.size(), runningByStage(), List.of()));
      return this;
    }
    java.util.TreeSet<Long> ids = new java.util.TreeSet<>(active.keySet());
    ids.addAll(tracked.keySet());
    List<com.fasterxml.jackson.databind.node.ObjectNode> page = new ArrayList<>();
    long now = clock.millis();
    int skipped = 0;
    for (long id : ids.descendingSet()) {
      if (skipped++ < l.offset()) {
        continue;
      }
      if (page.size() >= l.limit()) {
        break;
      }
      com.fasterxml.jackson.databind.node.ObjectNode row = org.compassci.sched.model.Json.object()
          .put("job_id", Long.toString(id));
      Job job = active.get(id);
      if (job != null) {
        row.put("job_stage", job.stage().wireName()).put("testbox", job.field("host_machine"))
            .put("tbox_group", job.field("tbox_group")).put("tenant", job.tenant())
            .put("suite", job.field("suite"));
        Instant since = parseInstant(job.field(job.stage().timeField()));
        row.put("stage_since", since == null ? null : since.toString());
        row.put("age_s", since == null ? null : (now - since.toEpochMilli()) / 1000);
      } else {
        JobRecord r = tracked.get(id);
        row.put("job_stage", JobStage.DISPATCH.wireName()).put("testbox", r.host())
            .put("tbox_group", r.tboxGroup()).put("tenant", r.tenant())
            .put("stage_since", Instant.ofEpochMilli(r.dispatchTimeMillis()).toString())
            .put("age_s", (now - r.dispatchTimeMillis()) / 1000);
      }
      page.add(row);
    }
    l.replyTo().tell(new Running(ids.size(), runningByStage(), page));
    return this;
  }

  private static Instant parseInstant(String s) {
    try {
      return s.isEmpty() ? null : Instant.parse(s);
    } catch (java.time.format.DateTimeParseException e) {
      return null;
    }
  }

  private void onGet(Get g, Job job, Outcome unused) {
    g.replyTo().tell(Outcome.ok(job.view()));
  }

  private void onCancelNotQueued(CancelNotQueued c, Job job, Outcome unused) {
    c.replyTo().tell(Outcome.of(Outcome.Status.CONFLICT, "job " + c.id() + " is "
        + job.stage().wireName() + "; only a job in submit can be cancelled"));
  }

  private Behavior<Command> onRetireAgain(RetireAgain r) {
    if (retiring.get(r.job().id()) == r.job()) {
      // the same final state as the kept write: whichever lands first, the other changes nothing
      writesOut++;
      store.tell(new PersistenceActor.Write(List.of(r.job().toRecord()), new PendingRetire(r.job(), null, r.attempt()),
          written));
    }
    return this;
  }

  private Behavior<Command> onWritten(StoreWritten w) {
    // never below zero: after a restart, answers to the writes of the incarnation before come here
    // too, and a count below zero would keep a hand-over waiting to its limit
    writesOut = Math.max(0, writesOut - 1);
    if (w.written().error().isPresent() && !(w.written().context() instanceof PendingUpdate)) {
      getContext().getLog().warn("a job's state is kept until the store is back: {}", w.written().error().get());
    }
    Object context = w.written().context();
    if (context instanceof PendingRetire r) {
      if (w.written().error().isEmpty()) {
        retiring.remove(r.job().id(), r.job());
      } else if (w.written().refused()) {
        // the store will never take this state: its row keeps the one last written
        getContext().getLog().error("job {} leaves memory without its final state written: {}", r.job().id(),
            w.written().error().get());
        retiring.remove(r.job().id(), r.job());
      } else {
        // the persistence actor keeps the write and makes it once the store is back, but tells
        // no one: written again from here until it takes, or the job stayed in memory for good
        int attempt = r.attempt() + 1;
        getContext().scheduleOnce(Duration.ofSeconds(Math.min(30, 1L << Math.min(attempt, 5))),
            getContext().getSelf(), new RetireAgain(r.job(), attempt));
      }
      context = r.update();
    }
    if (context instanceof PendingUpdate p) {
      p.replyTo().tell(w.written().error()
          .map(e -> Outcome.of(Outcome.Status.UNAVAILABLE, "store unavailable: " + e))
          .orElse(p.outcome()));
    }
    return this;
  }
}
