package org.compassci.sched.actors;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
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
import org.apache.pekko.actor.typed.javadsl.StashBuffer;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.compassci.sched.config.SchedulerSettings;
import org.compassci.sched.match.MatchQueue;
import org.compassci.sched.match.QueuedJob;
import org.compassci.sched.model.DataReadiness;
import org.compassci.sched.model.Job;
import org.compassci.sched.model.JobHealth;
import org.compassci.sched.model.JobIdGenerator;
import org.compassci.sched.model.JobIntake;
import org.compassci.sched.model.JobStage;
import org.compassci.sched.model.Outcome;
import org.compassci.sched.model.Testbox;
import org.compassci.sched.model.Tokens;
import org.compassci.sched.persistence.Claim;
import org.compassci.sched.persistence.JobRecord;

/**
 * Owns every job in stage submit. Because this actor alone takes jobs out of the queue, no job
 * can go to two testboxes. A job enters the queue only once it is durable, and a hand-out is
 * written before the testbox hears of it: after a crash, a job a box received is not in submit.
 * The queue keeps only what matching needs; documents stay in the store, and the HTTP edge
 * renders the job a testbox receives from the stored record, on its own threads.
 */
public final class MatcherActor extends AbstractBehavior<MatcherActor.Command> {

  public sealed interface Command extends org.compassci.sched.model.CborSerializable {}

  /** New jobs, already checked at the edge; answered once they are durable. */
  public record Submit(List<JobIntake.Draft> jobs, ActorRef<SubmitResult> replyTo)
      implements Command {}

  /**
   * New jobs from an authenticated submit: refused whole ({@link SubmitResult#overLimit}) when an
   * owner would have more than {@code maxQueued} jobs queued; stored with their runs
   * ({@code submit_id}) and, when {@code once} is given, its submit key, all in one commit.
   * {@code answerBy} (epoch millis; 0: none): a submit still not taken up then is dropped unstored,
   * its asker having given up (a submit without a key waited in the stash of a matcher that loads:
   * the client got 503, and its retries would each have been stored once the queue was in).
   */
  public record SubmitAs(List<JobIntake.Draft> jobs, int maxQueued, Optional<Once> once, long answerBy,
      ActorRef<SubmitResult> replyTo) implements Command {

    /** A submit with no time of its own to answer by: its key makes a retry safe. */
    public SubmitAs(List<JobIntake.Draft> jobs, int maxQueued, Optional<Once> once, ActorRef<SubmitResult> replyTo) {
      this(jobs, maxQueued, once, 0, replyTo);
    }
  }

  /** A submit made with an Idempotency-Key: its account, the key and the digest of its body. */
  public record Once(String account, String key, String requestDigest) {}

  /**
   * A testbox asks for a job that fits it, waiting up to {@code longPoll} for one to come.
   * {@code answerBy}: the wall-clock millisecond at which the asker stops listening (an HTTP
   * ask's timeout), 0 when it always listens. A hand-out made durable after that moment would
   * reach no one: it goes back to the queue at once instead of waiting out its dispatch-ack.
   */
  public record Dispatch(Testbox box, Duration longPoll,
      // null: not watched (tests, benchmarks)
      org.compassci.sched.model.ConnectionId connection,
      long answerBy,
      ActorRef<DispatchResult> replyTo) implements Command {

    /** A request that listens until it is answered (a provider's socket, tests). */
    public Dispatch(Testbox box, Duration longPoll, org.compassci.sched.model.ConnectionId connection,
        ActorRef<DispatchResult> replyTo) {
      this(box, longPoll, connection, 0L, replyTo);
    }

    /** A request whose connection is not watched (tests, benchmarks). */
    public Dispatch(Testbox box, Duration longPoll, ActorRef<DispatchResult> replyTo) {
      this(box, longPoll, null, replyTo);
    }

    /**
     * The answer may no longer reach the asker. The margin covers the way back to the ask: an
     * answer sent this close to the deadline might arrive after it, and a hand-out its box never
     * hears of waits out the dispatch-ack (600 s by default) before it is queued again. Wall
     * clock on both sides: the ask's timer runs on it, whatever clock the matcher is given.
     */
    boolean tooLate() {
      return answerBy != 0 && System.currentTimeMillis() > answerBy - ANSWER_MARGIN_MS;
    }

    Dispatch withBox(Testbox same) {
      return new Dispatch(same, longPoll, connection, answerBy, replyTo);
    }
  }

  /** How long before its asker's deadline a hand-out is given back rather than answered. */
  static final long ANSWER_MARGIN_MS = 1_000;

  /**
   * The scheduler is stopping: every parked request is answered "no job" now, while its
   * connection is still open, and no request parks from here on.
   */
  public record StopParking(ActorRef<org.apache.pekko.Done> replyTo) implements Command {}

  /**
   * Cluster mode, the singleton's stop message: this node hands the matcher over. Parked polls
   * are answered "no job" (their boxes ask again, of the successor), new requests are refused
   * as unavailable, and once every write already sent to the store is committed, this actor
   * stops: only then does the singleton manager start the next one, so none of this
   * incarnation's hand-outs is still in flight when its successor loads the queue.
   */
  public record HandOver() implements Command {}

  private record Drained() implements Command {}

  private record EpochTaken(PersistenceActor.Epoch epoch) implements Command {}

  private record RetryEpoch() implements Command {}

  private record EpochWaitOver() implements Command {}

  /**
   * How long the store may take to lock the epoch row for a matcher's new epoch. A matcher handed
   * over meanwhile waits for the answer, at most this long, before it stops: after that the store
   * takes no epoch for it, so its successor's cannot be overtaken by a late one of its own.
   */
  static final Duration EPOCH_TAKE_WITHIN = Duration.ofSeconds(5);

  /** The client of that connection hung up: its parked requests are given up on. */
  public record ClientGone(org.compassci.sched.model.ConnectionId connection) implements Command {}

  public record Cancel(long id, ActorRef<Outcome> replyTo) implements Command {}

  /**
   * {@code jobs/{id}/terminate}: a queued job ends here (finish, health terminate, no data); any
   * other goes on to the lifecycle. The answer carries the job as it ended.
   */
  public record Terminate(long id, ActorRef<Outcome> replyTo) implements Command {}

  /**
   * A hand-out whose answer never reached its testbox: the job goes back to its old place.
   * {@code tokenHash}: the hand-out being taken back. If the job has been handed out again
   * since, the newer hand-out stands and the requeue is refused.
   */
  public record Requeue(long id, String tokenHash, String reason, boolean counts, ActorRef<Requeued> replyTo)
      implements Command {

    /**
     * A lost hand-out, counted against the job's requeue budget (a job that keeps losing its
     * boxes is ended after scheduler.requeue.max).
     */
    public Requeue(long id, String tokenHash, String reason, ActorRef<Requeued> replyTo) {
      this(id, tokenHash, reason, true, replyTo);
    }
  }

  /** The answer to a {@link Requeue}, naming its job: several may be in flight at once. */
  public record Requeued(long id, Outcome outcome) implements org.compassci.sched.model.CborSerializable {}

  /** Queue depth by one of {@link MatchQueue#DIMENSIONS}. */
  public record GetPending(String groupBy, ActorRef<Pending> replyTo) implements Command {}

  /** {@code boxes}: the testboxes the host registry knows, to count which fit. */
  public record Explain(long id, java.util.Collection<Testbox> boxes,
      ActorRef<Explained> replyTo) implements Command {}

  /** The answer to {@link Explain}: empty when the job is not queued. A record, not a bare
   * Optional, because a reply that crosses nodes needs a type of its own to be serialized. */
  public record Explained(Optional<MatchQueue.Explain> explain)
      implements org.compassci.sched.model.CborSerializable {}

  public record GetStats(ActorRef<Stats> replyTo) implements Command {}

  /** The counts since the last time; they start again from zero. */
  public record TakeTally(ActorRef<MatcherTally> replyTo) implements Command {}

  private record Loaded(PersistenceActor.LoadResult result) implements Command {}

  /** The load failed part way: it goes on from the last job it has. */
  private record RetryLoad(long afterId) implements Command {}

  private record HighestIdKnown(PersistenceActor.HighestIdFound found) implements Command {}

  private record RetryHighestId() implements Command {}

  private record StoreWritten(PersistenceActor.Written written) implements Command {}

  private record StoreModified(PersistenceActor.Modified modified) implements Command {}

  private record StoreClaimed(PersistenceActor.Claims claims) implements Command {}

  private record WaitOver(long parkId) implements Command {}

  private record Resync() implements Command {}

  private record ClearLeftDuringReload() implements Command {}

  private record StoreCounted(PersistenceActor.Counted counted) implements Command {}

  private record TenantLoaded(PersistenceActor.TenantJobs result) implements Command {}

  /**
   * A submit in flight, carried through the store and back as the write's context. {@code
   * key}: its {@link Once}'s account and key, for a keyed submit; {@code joined}: the
   * askers of the same key and body who came while it was written, answered as it is.
   */
  private record PendingSubmit(List<Job> jobs, ActorRef<SubmitResult> replyTo, String key,
      List<ActorRef<SubmitResult>> joined) {
    PendingSubmit(List<Job> jobs, ActorRef<SubmitResult> replyTo) {
      this(jobs, replyTo, null, new ArrayList<>(0));
    }
  }

  /** A keyed submit being written, and its body's digest. */
  private record KeyedWrite(String digest, PendingSubmit submit) {}

  /** A keyed submit stored lately: its body's digest, its answer, and until when it is kept. */
  private record KeyStored(String digest, SubmitResult answer, long untilMillis) {}

  /**
   * The keyed submits being written and those stored lately, made outside the setup a
   * supervisor's restart runs again (as the ids are): a retry that comes after a restart, while
   * a write of the incarnation before is still out, joins it too.
   */
  static final class Keys {
    final Map<String, KeyedWrite> writing = new java.util.HashMap<>();
    /** By when they were stored, oldest first. */
    final java.util.LinkedHashMap<String, KeyStored> stored = new java.util.LinkedHashMap<>();
    long storedJobs;
  }

  /**
   * How long a keyed submit's answer stays here once stored: longer than the idempotency
   * actor's lookup of a key (30 s), which reads beside the commit and may miss it, so a retry
   * whose lookup came just before the commit was in still finds it.
   */
  static final Duration KEY_KEPT = Duration.ofMinutes(2);
  /** The most jobs the answers kept {@link #KEY_KEPT} may name in all. */
  static final int KEY_KEPT_JOBS = 100_000;

  /** A {@link SubmitAs} being written, and how many jobs it adds per account. */
  private record PendingSubmitAs(PendingSubmit submit, Map<String, Integer> perAccount) {}

  private record PendingHandOut(QueuedJob job, Dispatch request, String token, Object incarnation) {}

  private record PendingCancel(QueuedJob job, ActorRef<Outcome> replyTo, Object incarnation) {}

  private record PendingTerminate(QueuedJob job, ActorRef<Outcome> replyTo, Object incarnation) {}

  /**
   * A take-back under way; {@code chargedBy}: the incarnation whose queue charged the job's
   * tenant for a hand-out no box heard of (null: none did), which gives the turn back.
   */
  private record PendingRequeue(long id, ActorRef<Requeued> replyTo, Object chargedBy) {
    PendingRequeue(long id, ActorRef<Requeued> replyTo) {
      this(id, replyTo, null);
    }
  }

  /** A claim whose commit failed, being checked in the store (see {@link #inDoubt}). */
  private record InDoubt(long id, String tokenHash) {}

  /** Checks the claims in doubt again. */
  private record CheckInDoubt() implements Command {}

  /** How often the claims in doubt are checked while there are any (and the store answers). */
  private static final Duration IN_DOUBT_CHECK = Duration.ofSeconds(1);

  /** A job back in the queue, and the testbox it was taken from. */
  private record TakenBack(Job job, String host, String tokenHash) {}


  /**
   * One entry per submitted job, in order; {@code error} set when none was stored (try again);
   * {@code overLimit} set when the submit was refused for an account's queued jobs.
   */
  public record SubmitResult(List<Submitted> jobs, Optional<String> error, Optional<String> overLimit)
      implements org.compassci.sched.model.CborSerializable {

    public SubmitResult(List<Submitted> jobs, Optional<String> error) {
      this(jobs, error, Optional.empty());
    }
  }

  public record Submitted(long id, String resultRoot) {}

  public sealed interface DispatchResult extends org.compassci.sched.model.CborSerializable {}

  /**
   * The job as stored after its hand-out, and the token its testbox must show; the HTTP edge
   * renders the answer ({@link Job#answer}) on its own threads.
   */
  public record Assigned(long id, JobRecord record, String token) implements DispatchResult {}

  public record NoJob() implements DispatchResult {}

  public record Unavailable(String reason) implements DispatchResult {}

  public record Pending(int total, Map<String, Integer> groups)
      implements org.compassci.sched.model.CborSerializable {}

  public record Stats(int queued, int groups, int signatures, int parked,
      int cachedBoxTagSets, long messages, Instant lastActivity)
      implements org.compassci.sched.model.CborSerializable {}

  /** A testbox waiting for a job: answered once, by a hand-out or when its wait is over. */
  private record Parked(long id, Dispatch request) {}

  private static final String STILL_LOADING = "the queue is still loading from the store";
  private static final String TOO_LATE = "the request gave up before its answer";
  private static final String HANDING_OVER = "the matcher is moving to another node";

  private final ActorRef<PersistenceActor.Command> store;
  private final ActorRef<LifecycleActor.Command> lifecycle;
  private final ActorRef<HostRegistryActor.Command> hosts;
  private final JobIdGenerator ids;
  private final int workerId;
  private final String resultsRoot;
  private final Clock clock;
  private final TimerScheduler<Command> timers;
  private final MatchQueue queue;
  private final ActorRef<PersistenceActor.Written> written;
  private final ActorRef<PersistenceActor.IdsFound> idsFound;
  private final ActorRef<PersistenceActor.Modified> modified;
  private final ActorRef<PersistenceActor.Claims> claimed;
  // each reply type has one adapter, registered once: a second registration for the same class
  // would replace the first, and answers in flight would be read with the wrong correlation
  private final ActorRef<PersistenceActor.LoadResult> loaded;
  private final ActorRef<PersistenceActor.HighestIdFound> highestIdKnown;
  private final ActorRef<PersistenceActor.Counted> counted;
  private final ActorRef<PersistenceActor.TenantJobs> tenantLoaded;
  /** Parked requests by hostname, oldest first: a box that asks again replaces its old request. */
  private final LinkedHashMap<String, Parked> parked = new LinkedHashMap<>();
  /** Jobs whose hand-out is being made durable: out of the queue, still in submit in the store. */
  private final Map<Long, String> claiming = new java.util.HashMap<>();
  /**
   * Claims whose commit failed, by job, their token hashes: a failure need not mean nothing was
   * written (MySQL's answer to a commit that took can be lost; a Manticore batch can fail half
   * done). Their boxes were told 503, so a claim that took is a hand-out no box has: each is
   * checked in the store until the store answers, and taken back at once if it took. Without
   * this, the job sat in dispatch untracked (no box, no timer, and the queue dropped it at its
   * next claim) until a restart.
   */
  private final Map<Long, java.util.Set<String>> inDoubt = new java.util.HashMap<>();
  /** Checks of {@link #inDoubt} sent and not answered: one round at a time. */
  private int doubtsOut;
  /** Handing over: a change was sent to the store after the drain was asked for. */
  private boolean drainAgain;
  /**
   * Handing over: rounds of checks of the claims {@link #inDoubt} made before the matcher stops.
   * Left to the successor, a claim that took would be a hand-out no box has, waiting out its
   * dispatch-ack and paying a requeue; the rounds are bounded, for a store that does not answer.
   */
  private int handOverDoubtRounds;
  private boolean settlingDoubts;
  static final int HAND_OVER_DOUBT_ROUNDS = 3;
  /**
   * Jobs being cancelled or terminated, by tenant: out of the queue, still in submit in the
   * store until the change is durable, so a resync must neither count them missing nor bring
   * them back.
   */
  private final Map<Long, String> leaving = new java.util.HashMap<>();
  /**
   * This instance of the matcher. The store's answers to requests sent before a restart reach
   * the new instance through its message adapters; their jobs ({@link QueuedJob}) belong to the
   * old instance's queue and must never be put into this one.
   */
  private final Object incarnation = new Object();
  /** Tenants whose queued jobs are being read from the store. */
  private final java.util.Set<String> reloading = new java.util.HashSet<>();
  /**
   * Jobs that left the queue (handed out, being requeued) while a tenant reload was in flight:
   * the reload's answer may predate that and must not bring them back.
   */
  private final java.util.Set<Long> leftDuringReload = new java.util.HashSet<>();
  /**
   * Queued jobs of the store this matcher cannot read (a row written by a tool, or by a version
   * with other rules), by tenant: logged once, and counted as known by the resync, which read
   * their whole tenant again every second while the store's count stayed above the queue's.
   */
  private final Map<String, java.util.Set<Long>> unreadable = new java.util.HashMap<>();
  /** Hand-outs being made durable, per client connection: a client that leaves meanwhile loses them. */
  private final Map<org.compassci.sched.model.ConnectionId, Integer> claimsByConnection = new java.util.HashMap<>();
  /** Jobs of {@link SubmitAs} being written, per account: they count against its cap already. */
  private final Map<String, Integer> writingByAccount = new java.util.HashMap<>();
  private final java.util.Set<org.compassci.sched.model.ConnectionId> goneWithClaims = new java.util.HashSet<>();
  /**
   * Connections that closed lately, the last {@link #GONE_KEPT}: a request of one may arrive after
   * its ClientGone (they come from different senders), and a claim for it would reach no box and
   * cost the job its dispatch-ack and a count of its requeue budget.
   */
  private static final int GONE_KEPT = 4_096;
  private final Map<org.compassci.sched.model.ConnectionId, Boolean> recentlyGone = Bounded.map(GONE_KEPT, false);
  /**
   * Connections that parked a poll lately, the last {@link #PARKED_ON_KEPT}: the hang-up of any
   * other (most of them; in a cluster, every node's) needs no walk through the parked polls. One
   * still parked drops out only after that many newer connections parked.
   */
  private static final int PARKED_ON_KEPT = 65_536;
  private final Map<org.compassci.sched.model.ConnectionId, Boolean> parkedOn = Bounded.map(PARKED_ON_KEPT, true);
  /** Cluster mode: this node's cluster address, named in the epoch row; null when standalone. */
  private final String fencedAs;
  /** The incarnation every claim names (0: standalone, not fenced). */
  private long epoch;
  private final ActorRef<PersistenceActor.Epoch> epochTaken;
  /** When the store stops taking the epoch asked for ({@link System#nanoTime}); 0: none asked. */
  private long epochTakeBy;
  private boolean counting;
  private boolean stopping;
  private long parkIds;
  private final Activity activity;
  private final MatcherTally.Counter tally = new MatcherTally.Counter();

  public static Behavior<Command> create(ActorRef<PersistenceActor.Command> store,
      ActorRef<LifecycleActor.Command> lifecycle, SchedulerSettings settings, Clock clock) {
    return create(store, lifecycle, null, settings, clock);
  }

  /**
   * {@code hosts}: told of every dispatch request (null when nobody listens). Hand-outs, jobs
   * taken back and cancels go to the lifecycle, the one source of what each job and box is
   * doing for the host registry and the watchers.
   */
  public static Behavior<Command> create(ActorRef<PersistenceActor.Command> store,
      ActorRef<LifecycleActor.Command> lifecycle, ActorRef<HostRegistryActor.Command> hosts,
      SchedulerSettings settings, Clock clock) {
    return create(store, lifecycle, hosts, settings, clock, null);
  }

  /**
   * {@code fencedAs}: in cluster mode, this node's address; the matcher then takes a new epoch
   * before it loads the queue, and every claim names it (see {@link Claim#epoch()}).
   */
  public static Behavior<Command> create(ActorRef<PersistenceActor.Command> store,
      ActorRef<LifecycleActor.Command> lifecycle, ActorRef<HostRegistryActor.Command> hosts,
      SchedulerSettings settings, Clock clock, String fencedAs) {
    // outside setup: a matcher restarted under supervision goes on from the last id the one
    // before it gave, whose submits may still wait for their commit (the store has not got them
    // to tell), where a new generator gave their ids again
    JobIdGenerator ids = new JobIdGenerator(settings.workerId());
    Keys keys = new Keys();
    return Behaviors.withStash(STASH, stash -> Behaviors.withTimers(timers -> Behaviors.setup(ctx -> {
      if (!settings.resyncInterval().isZero()) {
        timers.startTimerWithFixedDelay("resync", new Resync(), settings.resyncInterval());
      }
      ActorRef<HostRegistryActor.Command> registry = hosts != null ? hosts : ctx.getSystem().ignoreRef();
      return new MatcherActor(ctx, timers, store, lifecycle, registry, settings, clock, fencedAs, ids, keys)
          .loading(stash);
    })));
  }

  private MatcherActor(ActorContext<Command> ctx, TimerScheduler<Command> timers,
      ActorRef<PersistenceActor.Command> store, ActorRef<LifecycleActor.Command> lifecycle,
      ActorRef<HostRegistryActor.Command> hosts, SchedulerSettings settings, Clock clock, String fencedAs,
      JobIdGenerator ids, Keys keys) {
    super(ctx);
    this.keys = keys;
    // never longer than a key is remembered at all (scheduler.submit.idempotency-ttl)
    this.keyKeptMillis = Math.min(KEY_KEPT.toMillis(), settings.access().idempotencyTtl().toMillis());
    // its own name, not Pekko's guess from the call stack (see LifecycleActor)
    ctx.setLoggerName(MatcherActor.class);
    this.fencedAs = fencedAs;
    this.epochTaken = ctx.messageAdapter(PersistenceActor.Epoch.class, EpochTaken::new);
    this.hosts = hosts;
    this.timers = timers;
    this.store = store;
    this.lifecycle = lifecycle;
    this.ids = ids;
    this.workerId = settings.workerId();
    this.resultsRoot = settings.resultsRoot();
    this.clock = clock;
    this.drain = ctx.getSystem().settings().config()
        .getDuration("pekko.coordinated-shutdown.phases.service-requests-done.timeout");
    this.activity = new Activity(clock);
    this.queue = new MatchQueue(settings.queueLevels(), settings.fairShareWeights(),
        settings.fairShareDefaultWeight());
    this.written = ctx.messageAdapter(PersistenceActor.Written.class, StoreWritten::new);
    this.idsFound = ctx.messageAdapter(PersistenceActor.IdsFound.class, StoreIdsFound::new);
    this.modified = ctx.messageAdapter(PersistenceActor.Modified.class, StoreModified::new);
    this.claimed = ctx.messageAdapter(PersistenceActor.Claims.class, StoreClaimed::new);
    this.loaded = ctx.messageAdapter(PersistenceActor.LoadResult.class, Loaded::new);
    this.highestIdKnown = ctx.messageAdapter(PersistenceActor.HighestIdFound.class, HighestIdKnown::new);
    this.counted = ctx.messageAdapter(PersistenceActor.Counted.class, StoreCounted::new);
    this.tenantLoaded = ctx.messageAdapter(PersistenceActor.TenantJobs.class, TenantLoaded::new);
  }

  /** Messages held while the queue loads. */
  static final int STASH = 100_000;
  /** Of {@link #STASH}, the room only the matcher's own messages may take: requests past the rest are turned away. */
  static final int STASH_KEPT_FOR_THE_ACTOR = 1_000;

  /**
   * Until the first page of queued jobs is back from the store, a dispatch is answered
   * "unavailable" at once rather than stashed: after a long load its asker has given up, and a
   * stale dispatch would hand out a job nobody reads, which then waits out the dispatch-ack
   * timeout and uses up a requeue. From the first page on, dispatches are served from what is
   * loaded ({@link #servingWhileLoading}); every other request waits in the stash until the
   * whole queue is in.
   */
  private Behavior<Command> loading(StashBuffer<Command> stash) {
    if (fencedAs == null) {
      findHighestId();
    } else {
      // the epoch first: the queue read after it holds every job the last incarnation left
      takeEpoch();
    }
    return Behaviors.receive(Command.class)
        .onMessage(EpochTaken.class, this::onEpochTaken)
        .onMessage(RetryEpoch.class, r -> {
          takeEpoch();
          return Behaviors.same();
        })
        .onMessage(HandOver.class, h -> {
          turnAwayStashed(stash);
          return epochTakeBy == 0 ? Behaviors.stopped() : stopOnceTheEpochIsSettled();
        })
        .onMessage(Loaded.class, l -> onLoaded(l, stash, false))
        .onMessage(Dispatch.class, d -> {
          d.replyTo().tell(new Unavailable(STILL_LOADING));
          return Behaviors.same();
        })
        .onMessage(RetryLoad.class, r -> {
          requestLoad(r.afterId());
          return Behaviors.same();
        })
        .onMessage(HighestIdKnown.class, this::onHighestIdKnown)
        .onMessage(RetryHighestId.class, r -> {
          findHighestId();
          return Behaviors.same();
        })
        .onMessage(Resync.class, r -> Behaviors.same())
        .onAnyMessage(m -> stashOrTurnAway(stash, m))
        .build();
  }

  /**
   * What waits for the whole queue is stashed; past the stash's room (the store away at a start,
   * and a busy lab) it is told at once to come back, rather than overflowing the stash, which
   * failed the actor and left every stashed asker to its timeout.
   */
  private Behavior<Command> stashOrTurnAway(StashBuffer<Command> stash, Command m) {
    boolean request = m instanceof Submit || m instanceof SubmitAs || m instanceof Cancel || m instanceof Terminate
        || m instanceof Requeue || m instanceof StopParking || m instanceof GetPending || m instanceof Explain
        || m instanceof GetStats || m instanceof TakeTally;
    if (!request || stash.size() < STASH - STASH_KEPT_FOR_THE_ACTOR) {
      // the room left is for the matcher's own messages (a claim in doubt's check)
      if (stash.isFull()) {
        getContext().getLog().error("matcher: its stash is full while it loads; dropped {}", m.getClass().getSimpleName());
      } else {
        stash.stash(m);
      }
      return Behaviors.same();
    }
    turnAway(m, STILL_LOADING);
    return Behaviors.same();
  }

  /**
   * Tells a request that this matcher cannot take it now to ask again, for {@code why}: a hand-out
   * or a submit, a cancel or terminate, a requeue (the lifecycle then reads the job's state and
   * sends it again), and the shutdown's stop of parking (nothing is parked). Reads of the queue
   * (pending counts, explain, stats) are left to their ask's timeout.
   */
  private static void turnAway(Command m, String why) {
    Outcome away = Outcome.of(Outcome.Status.UNAVAILABLE, why);
    if (m instanceof Dispatch d) {
      d.replyTo().tell(new Unavailable(why));
    } else if (m instanceof Submit s) {
      s.replyTo().tell(new SubmitResult(List.of(), Optional.of(why)));
    } else if (m instanceof SubmitAs s) {
      s.replyTo().tell(new SubmitResult(List.of(), Optional.of(why)));
    } else if (m instanceof Cancel c) {
      c.replyTo().tell(away);
    } else if (m instanceof Terminate t) {
      t.replyTo().tell(away);
    } else if (m instanceof Requeue r) {
      r.replyTo().tell(new Requeued(r.id(), away));
    } else if (m instanceof StopParking p) {
      p.replyTo().tell(org.apache.pekko.Done.getInstance());
    }
  }

  private static Behavior<Command> handingOver(Command m) {
    turnAway(m, HANDING_OVER);
    return Behaviors.same();
  }

  private void takeEpoch() {
    epochTakeBy = System.nanoTime() + EPOCH_TAKE_WITHIN.toNanos();
    store.tell(new PersistenceActor.NextEpoch(fencedAs, clock.millis(), epochTakeBy, epochTaken));
  }

  /** A matcher handing over: new hand-outs and submits are told at once to ask again, of its successor. */
  private org.apache.pekko.actor.typed.javadsl.BehaviorBuilder<Command> turningAway(
      org.apache.pekko.actor.typed.javadsl.BehaviorBuilder<Command> b) {
    return b
        .onMessage(Dispatch.class, MatcherActor::handingOver)
        .onMessage(Submit.class, MatcherActor::handingOver)
        .onMessage(SubmitAs.class, MatcherActor::handingOver);
  }

  /**
   * Handed over before its queue is whole: what waited for the whole queue is told at once to ask
   * again, of the successor, rather than left to its ask's timeout.
   */
  private void turnAwayStashed(StashBuffer<Command> stash) {
    stash.forEach(m -> turnAway(m, HANDING_OVER));
  }

  /**
   * Handed over while its epoch is being taken: stopped now, the successor could take its epoch
   * first and then have it taken away by this one's, landing late, and no claim of the rightful
   * matcher would pass again. So it stops once the store has answered, or can no longer take it.
   */
  private Behavior<Command> stopOnceTheEpochIsSettled() {
    getContext().scheduleOnce(Duration.ofNanos(Math.max(0, epochTakeBy - System.nanoTime())),
        getContext().getSelf(), new EpochWaitOver());
    return Behaviors.receive(Command.class)
        .onMessage(EpochTaken.class, t -> Behaviors.stopped())
        .onMessage(EpochWaitOver.class, w -> Behaviors.stopped())
        // requests are told to ask the successor; the rest waits for it, as from a matcher that
        // stops while it loads
        .onAnyMessage(MatcherActor::handingOver)
        .build();
  }

  private Behavior<Command> onEpochTaken(EpochTaken t) {
    epochTakeBy = 0;
    if (t.epoch().error().isPresent() || t.epoch().epoch().isEmpty()) {
      getContext().getLog().warn("cannot take a matcher epoch, retrying in 1s: {}", t.epoch().error().orElse("none"));
      getContext().scheduleOnce(Duration.ofSeconds(1), getContext().getSelf(), new RetryEpoch());
      return Behaviors.same();
    }
    epoch = t.epoch().epoch().get().epoch();
    getContext().getLog().info("matcher singleton on {} took epoch {}", fencedAs, epoch);
    findHighestId();
    return Behaviors.same();
  }

  /**
   * Before the queue, the highest id this worker gave out lately: ids run ahead of the clock in a
   * burst (a millisecond each past one a millisecond), and those of jobs handed out or ended
   * since are in no queue a restarted matcher loads. Its next ids were the same, and the insert of
   * each failed the whole group commit it was in: every hand-out and submit with it. Two hours
   * back covers a burst of millions and the hour a clock set back for the winter repeats. (A
   * matcher restarted under supervision keeps its generator: see {@link #create}.)
   */
  private void findHighestId() {
    store.tell(new PersistenceActor.FindHighestId(JobIdGenerator.firstIdAt(clock.instant().minus(ID_LOOKBACK)),
        workerId, highestIdKnown));
  }

  static final Duration ID_LOOKBACK = Duration.ofHours(2);

  private Behavior<Command> onHighestIdKnown(HighestIdKnown h) {
    if (h.found().error().isPresent()) {
      getContext().getLog().warn("cannot read the highest job id, retrying in 1s: {}", h.found().error().get());
      getContext().scheduleOnce(Duration.ofSeconds(1), getContext().getSelf(), new RetryHighestId());
      return Behaviors.same();
    }
    h.found().id().ifPresent(ids::observe);
    requestLoad(Long.MIN_VALUE);
    return Behaviors.same();
  }

  private void requestLoad(long afterId) {
    store.tell(PersistenceActor.LoadStages.page(List.of(JobStage.SUBMIT.wireName()), afterId, QUEUE_PAGE, loaded));
  }

  /**
   * The queue is loaded in pages smaller than the store's own ({@link PersistenceActor#LOAD_PAGE}):
   * dispatches are served from the first page on, and each page is taken in as one message,
   * which holds the dispatches that come meanwhile. While the JIT is cold after a start, a page
   * of 5,000 took most of a second (100,000 queued: the first dispatch came 0.8 s sooner with
   * pages of 1,000, with the same time for the whole queue).
   */
  static final int QUEUE_PAGE = 1000;

  /** The id of the last job loaded so far: a failed load goes on after it. */
  private long loadedUpTo = Long.MIN_VALUE;

  /** {@code serving}: the load is past its first page, in {@link #servingWhileLoading}. */
  private Behavior<Command> onLoaded(Loaded l, StashBuffer<Command> stash, boolean serving) {
    if (l.result().error().isPresent()) {
      getContext().getLog().warn("cannot load queued jobs, retrying in 1s: {}", l.result().error().get());
      getContext().scheduleOnce(Duration.ofSeconds(1), getContext().getSelf(), new RetryLoad(loadedUpTo));
      return Behaviors.same();
    }
    List<JobRecord> page = l.result().jobs();
    if (!l.result().last()) {
      // the store reads the next page while this one is queued, and no further: pages read
      // ahead unasked wait in this mailbox when the store is the faster, up to the whole queue
      requestLoad(page.get(page.size() - 1).id());
    }
    for (JobRecord r : page) {
      loadedUpTo = r.id();
      try {
        enqueueStored(r);
        ids.observe(r.id());
      } catch (RuntimeException e) {
        leftAlone(r, e, java.util.Set.of());
      }
    }
    loadedJobs += page.size();
    if (!l.result().last()) {
      if (serving) {
        serveParked();
        return Behaviors.same();
      }
      return servingWhileLoading(stash);
    }
    // boxes that waited for the rest first, then what waited for the whole queue
    serveParked();
    getContext().getLog().info("matcher loaded {} queued jobs in {} groups", loadedJobs, queue.groups());
    return stash.unstashAll(this);
  }

  /** Jobs read from the store by the load so far. */
  private long loadedJobs;

  /**
   * The rest of the queue is still loading, page by page in id order: dispatches are served
   * from what is loaded, so a restart with a large queue hands out work after its first page.
   * Fair share, levels and priority hold among the loaded jobs. Only hand-outs happen here, and
   * they take jobs of pages already in, whose ids are below every later page's: no later page
   * can bring a job back that has left the queue. Submits, cancels, requeues and reads of the
   * queue wait in the stash until the last page, so none of them sees or changes a partial queue.
   */
  private Behavior<Command> servingWhileLoading(StashBuffer<Command> stash) {
    getContext().getLog().info("matcher serves dispatches while its queue loads ({} jobs so far)", loadedJobs);
    return Behaviors.receive(Command.class)
        .onMessage(Loaded.class, l -> onLoaded(l, stash, true))
        .onMessage(RetryLoad.class, r -> {
          requestLoad(r.afterId());
          return Behaviors.same();
        })
        // the running handlers, whose answer (this, the running behaviour) is not taken up here
        .onMessage(Dispatch.class, d -> stay(onDispatch(d)))
        .onMessage(StoreClaimed.class, c -> stay(onStoreClaimed(c)))
        .onMessage(WaitOver.class, w -> stay(onWaitOver(w)))
        .onMessage(ClientGone.class, g -> stay(onClientGone(g)))
        .onMessage(StopParking.class, p -> stay(onStopParking(p)))
        .onMessage(DrainOver.class, o -> stay(onDrainOver(o)))
        .onMessage(HandOver.class, h -> {
          turnAwayStashed(stash);
          return onHandOver(h);
        })
        .onMessage(Resync.class, r -> Behaviors.same())
        .onAnyMessage(m -> stashOrTurnAway(stash, m))
        .build();
  }

  /** Stays in the current behaviour whatever the handler answered. */
  private static Behavior<Command> stay(Behavior<Command> answered) {
    return Behaviors.same();
  }

  /** A queued row that cannot be read: left in the store, said once (unless {@code known}), counted. */
  private void leftAlone(JobRecord r, RuntimeException e, java.util.Set<Long> known) {
    if (unreadable.computeIfAbsent(r.tenant(), t -> new java.util.HashSet<>()).add(r.id()) && !known.contains(r.id())) {
      getContext().getLog().error("queued job {} in the store cannot be read, left alone: {}", r.id(), e.getMessage());
    }
  }

  /** A job read back from the store: only what matching needs is read of its document. */
  private void enqueueStored(JobRecord r) {
    JobIntake.Draft d = JobIntake.prepareStored(r.document());
    queue.add(r.id(), d.requirements(), d.tenant(), d.queue(), d.priority(), d.field("my_account"),
        d.field("tbox_group"));
  }

  private QueuedJob enqueue(Job job) {
    return queue.add(job.id(), job.requirements(), job.tenant(), job.queue(), job.priority(),
        job.field("my_account"), job.field("tbox_group"));
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Submit.class, this::onSubmit)
        .onMessage(SubmitAs.class, this::onSubmitAs)
        .onMessage(TakeTally.class, this::onTakeTally)
        .onMessage(Dispatch.class, this::onDispatch)
        .onMessage(Cancel.class, this::onCancel)
        .onMessage(Terminate.class, this::onTerminate)
        .onMessage(Requeue.class, this::onRequeue)
        .onMessage(CheckInDoubt.class, this::onCheckInDoubt)
        .onMessage(StoreWritten.class, this::onStoreWritten)
        .onMessage(StoreIdsFound.class, this::onSubmitLookedFor)
        .onMessage(StoreModified.class, this::onStoreModified)
        .onMessage(StoreClaimed.class, this::onStoreClaimed)
        .onMessage(WaitOver.class, this::onWaitOver)
        .onMessage(ClientGone.class, this::onClientGone)
        .onMessage(StopParking.class, this::onStopParking)
        .onMessage(DrainOver.class, this::onDrainOver)
        .onMessage(HandOver.class, this::onHandOver)
        .onMessage(GetPending.class, this::onGetPending)
        .onMessage(Explain.class, this::onExplain)
        .onMessage(GetStats.class, this::onGetStats)
        .onMessage(Resync.class, this::onResync)
        .onMessage(StoreCounted.class, this::onStoreCounted)
        .onMessage(TenantLoaded.class, this::onTenantLoaded)
        .onMessage(ClearLeftDuringReload.class, c -> {
          if (reloading.isEmpty()) {
            leftDuringReload.clear();
          }
          return this;
        })
        .build();
  }

  private void touch() {
    activity.touch();
  }

  /**
   * Keyed submits being written or stored lately, by account and key: the idempotency actor
   * lets a key go when it restarts or its ask times out, and a retry of it, not found in the
   * store yet, joins the write (or gets its answer) rather than making a second set of jobs.
   */
  private final Keys keys;
  private final long keyKeptMillis;

  private static String keyOf(Once once) {
    return once.account() + "\0" + once.key();
  }

  /** Tells a submit's asker, and those who joined it, how it went. */
  private void answer(PendingSubmit p, SubmitResult r) {
    if (p.key() != null) {
      KeyedWrite w = keys.writing.get(p.key());
      // only its own entry: a write of the incarnation before a restart is answered here too
      if (w != null && w.submit() == p) {
        keys.writing.remove(p.key());
        if (r.error().isEmpty() && r.overLimit().isEmpty()) {
          keys.stored.remove(p.key());
          keys.stored.put(p.key(), new KeyStored(w.digest(), r, clock.millis() + keyKeptMillis));
          keys.storedJobs += r.jobs().size();
          forgetStoredKeys();
        }
      }
    }
    p.replyTo().tell(r);
    p.joined().forEach(j -> j.tell(r));
  }

  /** The answers kept past their time, or past {@link #KEY_KEPT_JOBS} jobs, go, oldest first. */
  private void forgetStoredKeys() {
    long now = clock.millis();
    for (java.util.Iterator<KeyStored> it = keys.stored.values().iterator(); it.hasNext(); ) {
      KeyStored k = it.next();
      if (k.untilMillis() > now && keys.storedJobs <= KEY_KEPT_JOBS) {
        return;
      }
      keys.storedJobs -= k.answer().jobs().size();
      it.remove();
    }
  }

  private Behavior<Command> onSubmit(Submit s) {
    touch();
    List<Job> jobs = new ArrayList<>(s.jobs().size());
    List<JobRecord> records = new ArrayList<>(s.jobs().size());
    Instant now = clock.instant();
    for (JobIntake.Draft d : s.jobs()) {
      Job job = Job.submitted(d, ids.next(now), now, resultsRoot);
      jobs.add(job);
      records.add(job.toRecord());
    }
    store.tell(PersistenceActor.Write.newJobs(records, new PendingSubmit(jobs, s.replyTo()), written));
    return this;
  }

  private Behavior<Command> onSubmitAs(SubmitAs s) {
    touch();
    // the wall clock, as the asker set it (the matcher's own clock may be a test's)
    if (s.answerBy() > 0 && System.currentTimeMillis() > s.answerBy()) {
      getContext().getLog().info("a submit of {} jobs taken up after its asker gave up: not stored", s.jobs().size());
      s.replyTo().tell(new SubmitResult(List.of(), Optional.of("the submit waited too long to be taken up: "
          + "not stored"), Optional.empty()));
      return this;
    }
    if (s.once().isPresent()) {
      Once once = s.once().get();
      forgetStoredKeys();
      KeyedWrite writing = keys.writing.get(keyOf(once));
      KeyStored stored = keys.stored.get(keyOf(once));
      String digest = writing != null ? writing.digest() : stored != null ? stored.digest() : null;
      if (digest != null && !digest.equals(once.requestDigest())) {
        s.replyTo().tell(new SubmitResult(List.of(), Optional.of("Idempotency-Key '"
            + org.compassci.sched.auth.AccountRules.printable(once.key())
            + "' is being stored for another request body; use a new key for a new submit")));
        return this;
      }
      if (writing != null) {
        writing.submit().joined().add(s.replyTo());
        return this;
      }
      if (stored != null) {
        s.replyTo().tell(stored.answer());
        return this;
      }
    }
    Map<String, Integer> perAccount = new java.util.HashMap<>();
    s.jobs().forEach(d -> perAccount.merge(d.doc().path("my_account").asText(""), 1, Integer::sum));
    for (Map.Entry<String, Integer> e : perAccount.entrySet()) {
      long queued = queue.queuedOfAccount(e.getKey()) + writingByAccount.getOrDefault(e.getKey(), 0);
      if (queued + e.getValue() > s.maxQueued()) {
        s.replyTo().tell(new SubmitResult(List.of(), Optional.empty(), Optional.of("account '" + e.getKey()
            + "' has " + queued + " jobs queued; " + e.getValue() + " more would pass its limit of "
            + s.maxQueued() + " (scheduler.accounts.max-queued): try again when some have run")));
        return this;
      }
    }
    List<Job> jobs = new ArrayList<>(s.jobs().size());
    List<JobRecord> records = new ArrayList<>(s.jobs().size());
    List<org.compassci.sched.persistence.JobRun> runs = new ArrayList<>();
    Instant now = clock.instant();
    for (JobIntake.Draft d : s.jobs()) {
      Job job = Job.submitted(d, ids.next(now), now, resultsRoot);
      jobs.add(job);
      records.add(job.toRecord());
      String run = job.field("submit_id");
      if (!run.isEmpty()) {
        runs.add(new org.compassci.sched.persistence.JobRun(job.id(), run));
      }
    }
    List<org.compassci.sched.persistence.SubmitKey> keys = s.once().map(o -> List.of(
        new org.compassci.sched.persistence.SubmitKey(o.account(), o.key(), o.requestDigest(), now.toEpochMilli(),
            jobs.stream().map(Job::id).toList(),
            org.compassci.sched.model.SubmitAnswer.render(jobs.stream()
                .map(j -> new org.compassci.sched.model.SubmitAnswer.Entry(j.id(), j.resultRoot())).toList()))))
        .orElse(List.of());
    perAccount.forEach((account, n) -> writingByAccount.merge(account, n, Integer::sum));
    PendingSubmit pending = new PendingSubmit(jobs, s.replyTo(), s.once().map(MatcherActor::keyOf).orElse(null),
        new ArrayList<>(0));
    s.once().ifPresent(o -> this.keys.writing.put(keyOf(o), new KeyedWrite(o.requestDigest(), pending)));
    store.tell(new PersistenceActor.WriteSubmission(records, keys, runs,
        new PendingSubmitAs(pending, perAccount), written));
    return this;
  }

  private Behavior<Command> onStoreWritten(StoreWritten w) {
    if (w.written().context() instanceof PendingSubmitAs a) {
      a.perAccount().forEach((account, n) -> {
        if (writingByAccount.merge(account, -n, Integer::sum) <= 0) {
          writingByAccount.remove(account);
        }
      });
      return onStoreWritten(new StoreWritten(new PersistenceActor.Written(a.submit(), w.written().error())));
    }
    if (w.written().context() instanceof PendingSubmit p) {
      if (w.written().error().isPresent()) {
        if (w.written().refused() || p.jobs().isEmpty()) {
          answer(p, new SubmitResult(List.of(), w.written().error()));
        } else {
          // the commit may have landed with its answer lost (MySQL's connection cut after the
          // commit): answered "not stored", its jobs came in at the next resync all the same,
          // and a client that sent them again had each one twice
          submitsInDoubt.add(new SubmitInDoubt(p, w.written().error().get()));
          lookForSubmits();
        }
        return this;
      }
      submitted(p, null);
    }
    return this;
  }

  /** A submit whose commit was reported failed, to be looked for in the store. */
  private record SubmitInDoubt(PendingSubmit submit, String error) {}

  /** The submits looked for in one read of the store. */
  private record SubmitsLookedFor(List<SubmitInDoubt> submits) {}

  private record StoreIdsFound(PersistenceActor.IdsFound found) implements Command {}

  /**
   * Submits in doubt wait here while a read for others is out: one read at a time, however many
   * submits a store outage fails (each read may wait for a connection).
   */
  private final List<SubmitInDoubt> submitsInDoubt = new ArrayList<>();
  /** The submits of the read out, if one is. */
  private List<SubmitInDoubt> submitsLookedFor;

  private void lookForSubmits() {
    if (submitsLookedFor != null || submitsInDoubt.isEmpty()) {
      return;
    }
    List<SubmitInDoubt> these = List.copyOf(submitsInDoubt);
    submitsLookedFor = these;
    submitsInDoubt.clear();
    List<Long> ids = new ArrayList<>();
    these.forEach(d -> d.submit().jobs().forEach(j -> ids.add(j.id())));
    store.tell(new PersistenceActor.FindIds(ids, new SubmitsLookedFor(these), idsFound));
  }

  private Behavior<Command> onSubmitLookedFor(StoreIdsFound m) {
    PersistenceActor.IdsFound f = m.found();
    if (!(f.context() instanceof SubmitsLookedFor looked)) {
      return this;
    }
    if (looked.submits() == submitsLookedFor) {
      submitsLookedFor = null;
    }
    // else a read of the incarnation before a restart: its submits are answered all the same
    for (SubmitInDoubt d : looked.submits()) {
      PendingSubmit p = d.submit();
      if (f.error().isEmpty() && p.jobs().stream().allMatch(j -> isThisJob(f.found().get(j.id()), j))) {
        getContext().getLog().warn("a submit of {} jobs whose commit was reported failed ({}) is stored: answered"
            + " as stored", p.jobs().size(), d.error());
        submitted(p, f.found());
      } else {
        // not there (or not all of it: a store without transactions keeps the part that went
        // in, which the resync queues, as before)
        answer(p, new SubmitResult(List.of(), Optional.of(d.error())));
      }
    }
    lookForSubmits();
    return this;
  }

  /**
   * The job as stored is this one, not another of the same id (an insert refused for a clash of
   * ids fails its commit too, and the row then found is the other job's).
   */
  private static boolean isThisJob(JobRecord stored, Job job) {
    return stored != null && stored.submitTimeMillis() == job.submitTimeMillis()
        && java.util.Objects.equals(stored.tenant(), job.tenant());
  }

  /** At a hand-over: the submits still in doubt are answered with their commit's error, as before the look. */
  private void failSubmitsInDoubt() {
    List<SubmitInDoubt> all = new ArrayList<>(submitsInDoubt);
    if (submitsLookedFor != null) {
      all.addAll(submitsLookedFor);
    }
    submitsInDoubt.clear();
    submitsLookedFor = null;
    all.forEach(d -> answer(d.submit(), new SubmitResult(List.of(), Optional.of(d.error()))));
  }

  /**
   * The submit's jobs are stored: queued and answered. {@code found}, if not null: as they
   * were found after a commit reported failed; only those still queued there are queued (the resync may
   * have queued one meanwhile, and a box taken it).
   */
  private void submitted(PendingSubmit p, java.util.Map<Long, JobRecord> found) {
    tally.submitted(p.jobs().size());
    List<Submitted> out = new ArrayList<>(p.jobs().size());
    for (Job job : p.jobs()) {
      if (found == null || JobStage.SUBMIT.wireName().equals(found.get(job.id()).stage())) {
        enqueue(job);
      }
      out.add(new Submitted(job.id(), job.resultRoot()));
    }
    answer(p, new SubmitResult(out, Optional.empty()));
    serveParked();
  }

  /**
   * Each box as last told to the host registry, and when. A box that asks again the same within
   * {@link #CONTACT_EVERY_MS} is not told again: the registry's last contact is then up to that
   * much older than the box's last ask, and a busy box's asks cost one message fewer each.
   */
  private final Map<String, Told> told = Bounded.map(HostRegistryActor.MAX_HOSTS, true);

  private record Told(Testbox box, long atMillis) {}

  static final long CONTACT_EVERY_MS = 1_000;

  /**
   * Returns the box as first told, when it asks the same again: the matcher's cached fit for it
   * holds that object, and an object compared with itself costs nothing, where two equal tag
   * sets are compared tag by tag (two such comparisons per ask were 5 % of a hand-out's CPU).
   */
  private Testbox noteContact(Testbox box) {
    long now = clock.millis();
    Told last = told.get(box.hostname());
    boolean same = last != null && last.box().equals(box);
    if (same && now >= last.atMillis() && now - last.atMillis() < CONTACT_EVERY_MS) {
      return last.box();
    }
    Testbox kept = same ? last.box() : box;
    told.put(box.hostname(), new Told(kept, now));
    hosts.tell(new HostRegistryActor.Contact(box));
    return kept;
  }

  private Behavior<Command> onDispatch(Dispatch asked) {
    touch();
    Testbox box = noteContact(asked.box());
    Dispatch d = box == asked.box() ? asked : asked.withBox(box);
    if (nobodyWaits(d)) {
      return this;
    }
    letParkedGo(d.box().hostname());
    if (fromStoppingNode(d)) {
      noJob(d.replyTo());
      return this;
    }
    QueuedJob job = queue.take(d.box());
    if (job != null) {
      handOut(job, d);
    } else if (stopping || d.longPoll().isZero() || d.longPoll().isNegative()) {
      noJob(d.replyTo());
    } else {
      park(d);
    }
    return this;
  }

  /** A request whose asker is gone: answered at once, and nothing is claimed for it. */
  private boolean nobodyWaits(Dispatch d) {
    if (d.tooLate()) {
      // waited in this mailbox until its asker gave up: a claim now would reach no one
      d.replyTo().tell(new Unavailable(TOO_LATE));
      return true;
    }
    if (d.connection() != null && recentlyGone.containsKey(d.connection())) {
      // its client hung up before the request got here
      noJob(d.replyTo());
      return true;
    }
    return false;
  }

  /**
   * The box asked again: its earlier request, parked, has been given up on, and it tells of
   * free memory that the new one's replaces (a provider whose new ask took a job at once would
   * otherwise keep its old one parked, to be filled on memory the new one already used).
   */
  private void letParkedGo(String hostname) {
    Parked old = parked.isEmpty() ? null : parked.remove(hostname);
    if (old != null) {
      timers.cancel(old.id());
      noJob(old.request().replyTo());
    }
  }

  private void park(Dispatch d) {
    Duration wait = d.longPoll();
    if (d.answerBy() != 0) {
      // the whole long poll from now could end after the asker's deadline (a request that
      // waited in this mailbox, or parked again after a refused claim): its box would get an
      // error instead of "no job", so the wait ends before that deadline
      long left = d.answerBy() - ANSWER_MARGIN_MS - System.currentTimeMillis();
      if (left <= 0) {
        noJob(d.replyTo());
        return;
      }
      wait = wait.toMillis() <= left ? wait : Duration.ofMillis(left);
    }
    Parked p = new Parked(++parkIds, d);
    parked.put(d.box().hostname(), p);
    if (d.connection() != null) {
      parkedOn.put(d.connection(), Boolean.TRUE);
    }
    timers.startSingleTimer(p.id(), new WaitOver(p.id()), wait);
  }

  private Behavior<Command> onWaitOver(WaitOver w) {
    for (Iterator<Parked> it = parked.values().iterator(); it.hasNext(); ) {
      Parked p = it.next();
      if (p.id() == w.parkId()) {
        it.remove();
        noJob(p.request().replyTo());
        break;
      }
    }
    return this;
  }

  /**
   * The nodes that said they stop their HTTP server (this one's own requests included, by the
   * local address), by address. A request of theirs that comes after that gets "no job" at
   * once, parked or not: it was sent before its node turned new requests away (a box's, or a
   * provider's over its socket), and a job handed to it could be answered after the node closed
   * its connections, to wait out its dispatch-ack. Another node's address is forgotten once its
   * drain is over (the phase's timeout, on the scheduler's timer, whatever clock the matcher is
   * given), and a node restarted there is served.
   */
  private final java.util.Set<org.apache.pekko.actor.Address> stoppingNodes = new java.util.HashSet<>();
  private final Duration drain;

  private record DrainOver(org.apache.pekko.actor.Address node) implements Command {}

  private boolean fromStoppingNode(Dispatch d) {
    return !stoppingNodes.isEmpty() && stoppingNodes.contains(d.replyTo().path().address());
  }

  /**
   * The node that asks is stopping its HTTP server: its own parked polls are answered now, and
   * its later ones too (see {@link #stoppingNodes}). In a cluster the other nodes' polls stay
   * parked here (they are told apart by the address of their reply-to), and only the matcher's
   * own node stops parking for good; standalone, every poll is this node's.
   */
  private Behavior<Command> onStopParking(StopParking s) {
    org.apache.pekko.actor.Address from = s.replyTo().path().address();
    stoppingNodes.add(from);
    if (from.hasLocalScope()) {
      // for good: this process is stopping
      stopping = true;
    } else {
      timers.startSingleTimer(new DrainOver(from), new DrainOver(from), drain);
    }
    for (Iterator<Parked> it = parked.values().iterator(); it.hasNext(); ) {
      Parked p = it.next();
      if (p.request().replyTo().path().address().equals(from)) {
        it.remove();
        timers.cancel(p.id());
        noJob(p.request().replyTo());
      }
    }
    s.replyTo().tell(org.apache.pekko.Done.getInstance());
    return this;
  }

  private Behavior<Command> onDrainOver(DrainOver o) {
    stoppingNodes.remove(o.node());
    return this;
  }

  /** The store answers Drained once every write sent to it so far is committed. */
  private void askDrain() {
    store.tell(new PersistenceActor.Drain(getContext().messageAdapter(org.apache.pekko.Done.class, d -> new Drained())));
  }

  private Behavior<Command> onHandOver(HandOver h) {
    getContext().getLog().info("matcher (epoch {}) hands over: {} parked polls answered, waiting for {} hand-outs"
        + " in flight", epoch, parked.size(), claiming.size());
    stopping = true;
    parked.values().forEach(p -> {
      timers.cancel(p.id());
      noJob(p.request().replyTo());
    });
    parked.clear();
    askDrain();
    Receive<Command> running = createReceive();
    // store answers still come and are settled as usual; nothing new is taken on
    return turningAway(Behaviors.receive(Command.class))
        .onMessage(Drained.class, d -> {
          if (drainAgain) {
            // a hand-out given back as the last claims settled: its change is to be committed too
            drainAgain = false;
            askDrain();
            return Behaviors.same();
          }
          if (!inDoubt.isEmpty() && handOverDoubtRounds < HAND_OVER_DOUBT_ROUNDS) {
            handOverDoubtRounds++;
            settlingDoubts = true;
            checkDoubts();
            if (doubtsOut == 0) {
              settlingDoubts = false;
              askDrain();
            }
            return Behaviors.same();
          }
          getContext().getLog().info("matcher (epoch {}) handed over: every write committed", epoch);
          failSubmitsInDoubt();
          return Behaviors.stopped();
        })
        .onAnyMessage(m -> {
          running.receive(getContext(), m);
          return Behaviors.same();
        })
        .build();
  }

  /** One claim of this connection is settled; true when its client has left. */
  private boolean settleConnection(org.compassci.sched.model.ConnectionId connection) {
    if (connection == null) {
      return false;
    }
    boolean gone = goneWithClaims.contains(connection);
    if (claimsByConnection.merge(connection, -1, Integer::sum) <= 0) {
      claimsByConnection.remove(connection);
      goneWithClaims.remove(connection);
    }
    return gone;
  }

  private Behavior<Command> onClientGone(ClientGone g) {
    if (g.connection() == null) {
      return this;
    }
    recentlyGone.put(g.connection(), Boolean.TRUE);
    if (claimsByConnection.containsKey(g.connection())) {
      goneWithClaims.add(g.connection());
    }
    if (parkedOn.remove(g.connection()) == null || parked.isEmpty()) {
      return this;
    }
    for (Iterator<Parked> it = parked.values().iterator(); it.hasNext(); ) {
      Parked p = it.next();
      if (g.connection().equals(p.request().connection())) {
        it.remove();
        timers.cancel(p.id());
        noJob(p.request().replyTo());
      }
    }
    return this;
  }

  /** New jobs are queued: parked boxes, oldest first, get what now fits them. */
  private void serveParked() {
    for (Iterator<Parked> it = parked.values().iterator(); it.hasNext() && queue.size() > 0; ) {
      Parked p = it.next();
      if (p.request().tooLate()) {
        it.remove();
        timers.cancel(p.id());
        p.request().replyTo().tell(new Unavailable(TOO_LATE));
        continue;
      }
      QueuedJob job = queue.take(p.request().box());
      if (job != null) {
        it.remove();
        timers.cancel(p.id());
        handOut(job, p.request());
      }
    }
  }

  /** The hand-out is durable before the box hears of it; only the record's attributes change. */
  private void handOut(QueuedJob job, Dispatch request) {
    String token = Tokens.newToken();
    Claim claim = new Claim(job.id(), request.box().hostname(), Tokens.sha256(token),
        clock.millis(), epoch);
    claiming.put(job.id(), job.tenant().tenant());
    if (request.connection() != null) {
      claimsByConnection.merge(request.connection(), 1, Integer::sum);
    }
    store.tell(new PersistenceActor.ClaimJob(claim, new PendingHandOut(job, request, token, incarnation), claimed));
  }

  /** The store says the job is no longer queued: taken by another scheduler, or gone. */
  private static final class NotQueued extends RuntimeException {
    NotQueued(String message) {
      super(message, null, false, false);
    }
  }

  private Behavior<Command> onStoreModified(StoreModified m) {
    PersistenceActor.Modified r = m.modified();
    Object context = r.context();
    if (context instanceof PendingCancel p) {
      cancelDone(p, r);
    } else if (context instanceof PendingRequeue p) {
      requeueDone(p, r);
    } else if (context instanceof PendingTerminate p) {
      terminateDone(p, r);
    } else if (context instanceof InDoubt d) {
      doubtChecked(d, r);
    }
    return this;
  }

  /**
   * The claims of one commit. The lifecycle hears of every job handed out in one message, before
   * any of their testboxes is answered (so before one can report on its job).
   */
  private Behavior<Command> onStoreClaimed(StoreClaimed m) {
    List<JobRecord> handedOut = new ArrayList<>();
    List<JobRecord> answers = new ArrayList<>();
    List<PendingHandOut> answered = new ArrayList<>();
    for (PersistenceActor.Claimed r : m.claims().claimed()) {
      PendingHandOut p = (PendingHandOut) r.context();
      Settled s = onClaimed(r, p);
      if (s != Settled.NOT_HANDED_OUT) {
        handedOut.add(r.record().get());
      }
      if (s == Settled.ANSWER) {
        answers.add(r.record().get());
        answered.add(p);
      }
    }
    if (!handedOut.isEmpty()) {
      // a hand-out given back is tracked too: should its requeue fail, its dispatch-ack still
      // brings it back; the requeue's Forget, sent after this, ends the tracking
      lifecycle.tell(new LifecycleActor.Track(handedOut));
    }
    for (int i = 0; i < answered.size(); i++) {
      PendingHandOut p = answered.get(i);
      p.request().replyTo().tell(new Assigned(p.job().id(), answers.get(i), p.token()));
    }
    return this;
  }

  /** How a settled claim ends: answered, durable but given back at once, or not handed out. */
  private enum Settled { ANSWER, GIVEN_BACK, NOT_HANDED_OUT }

  /**
   * A durable hand-out whose box will not hear of it (it hung up, or its ask gave up) goes back
   * to its old place in the queue at once, without counting against the job's requeue budget:
   * the job did nothing wrong. Its asker, if still there, is told why. Nor does it cost its
   * tenant a turn ({@code charged}: this queue's take charged it): the turn is given back with
   * the job, as for a claim that failed.
   */
  private Settled giveBack(PersistenceActor.Claimed r, PendingHandOut p, boolean hungUp, boolean charged) {
    if (hungUp) {
      noJob(p.request().replyTo());
    } else {
      p.request().replyTo().tell(new Unavailable(TOO_LATE));
    }
    // at once, not by a message to self: during a hand-over that message queued behind the
    // store's answer to the drain, the matcher stopped first, and the job waited out its
    // dispatch-ack (and paid a requeue) for a box that never heard of it
    takeBack(p.job().id(), r.record().get().tokenHash(),
        hungUp ? "the testbox hung up before its answer" : "the testbox's request gave up before its answer",
        false, new PendingRequeue(p.job().id(), getContext().getSystem().ignoreRef(), charged ? incarnation : null));
    if (stopping) {
      drainAgain = true;
    }
    return Settled.GIVEN_BACK;
  }

  /** One claim settled. */
  private Settled onClaimed(PersistenceActor.Claimed r, PendingHandOut p) {
    if (!reloading.isEmpty()) {
      leftDuringReload.add(p.job().id());
    }
    if (p.incarnation() != incarnation) {
      return onEarlierClaim(r, p);
    }
    claiming.remove(p.job().id());
    boolean clientLeft = settleConnection(p.request().connection());
    if (r.record().isPresent() && (clientLeft || p.request().tooLate())) {
      return giveBack(r, p, clientLeft, true);
    }
    if (r.record().isPresent()) {
      tally.dispatched(r.record().get().dispatchTimeMillis() - r.record().get().submitTimeMillis());
      return Settled.ANSWER;
    }
    if (r.error().isEmpty()) {
      // no longer queued in the store: another scheduler took it. Forget it, look again.
      getContext().getLog().warn("job {} was taken by another scheduler; dropped from the queue", p.job().id());
      if (stopping) {
        noJob(p.request().replyTo());
      } else {
        onDispatch(p.request());
      }
    } else {
      queue.putBack(p.job());
      p.request().replyTo().tell(new Unavailable(r.error().get()));
      doubt(p);
    }
    return Settled.NOT_HANDED_OUT;
  }

  /**
   * A claim sent by this matcher before it restarted. This instance read the queue from the
   * store, where the job was still in submit, so it may hold the job too: if the claim took, the
   * job leaves this queue; if it failed, the job stays (it was read as queued) and nothing of the
   * old queue comes into this one.
   */
  private Settled onEarlierClaim(PersistenceActor.Claimed r, PendingHandOut p) {
    if (r.record().isPresent()) {
      queue.remove(p.job().id());
      if (p.request().tooLate()) {
        // taken from the queue before the restart: this one charged no one
        return giveBack(r, p, false, false);
      }
      tally.dispatched(r.record().get().dispatchTimeMillis() - r.record().get().submitTimeMillis());
      return Settled.ANSWER;
    }
    if (r.error().isPresent()) {
      p.request().replyTo().tell(new Unavailable(r.error().get()));
      doubt(p);
      return Settled.NOT_HANDED_OUT;
    }
    // taken in the store by another claim: not a job to hand out from here either
    queue.remove(p.job().id());
    if (stopping) {
      noJob(p.request().replyTo());
    } else {
      onDispatch(p.request());
    }
    return Settled.NOT_HANDED_OUT;
  }

  private Behavior<Command> onCancel(Cancel c) {
    touch();
    QueuedJob job = queue.remove(c.id());
    if (job == null) {
      lifecycle.tell(new LifecycleActor.CancelNotQueued(c.id(), c.replyTo()));
      return this;
    }
    leaving.put(job.id(), job.tenant().tenant());
    Instant now = clock.instant();
    store.tell(new PersistenceActor.Modify(c.id(), r -> {
      Job full = Job.fromRecord(r);
      if (full.stage() != JobStage.SUBMIT) {
        throw new NotQueued("job " + r.id() + " is " + full.stage().wireName() + " in the store");
      }
      full.setHealth(JobHealth.CANCEL);
      full.setReadiness(DataReadiness.NORUN);
      full.setStage(JobStage.CANCEL, now);
      return new PersistenceActor.Changed(full.toRecord(), full.view());
    }, new PendingCancel(job, c.replyTo(), incarnation), modified));
    return this;
  }

  private void cancelDone(PendingCancel p, PersistenceActor.Modified r) {
    boolean mine = settleLeaving(p.job().id(), p.incarnation(), r.result().isPresent());
    if (r.result().isPresent()) {
      ObjectNode view = (ObjectNode) r.result().get();
      tally.cancelled();
      lifecycle.tell(new LifecycleActor.Cancelled(p.job().id(), view));
      p.replyTo().tell(Outcome.ok(view));
      return;
    }
    String error = r.error().orElse("");
    if (error.contains(" in the store")) {
      p.replyTo().tell(Outcome.of(Outcome.Status.CONFLICT, error + "; only a job in submit can be cancelled"));
      return;
    }
    if (mine) {
      queue.restore(p.job());
    }
    p.replyTo().tell(Outcome.of(Outcome.Status.UNAVAILABLE, "store unavailable: " + error));
  }

  /**
   * A cancel or terminate of a queued job is settled ({@code took}: the change is durable). True
   * when this instance sent it; one sent before a restart takes the job out of this queue when
   * it took, and otherwise leaves it (see {@link #onEarlierClaim}).
   */
  private boolean settleLeaving(long id, Object sentBy, boolean took) {
    if (!reloading.isEmpty()) {
      leftDuringReload.add(id);
    }
    if (sentBy == incarnation) {
      leaving.remove(id);
      return true;
    }
    if (took) {
      queue.remove(id);
    }
    return false;
  }

  private Behavior<Command> onTerminate(Terminate t) {
    touch();
    QueuedJob job = queue.remove(t.id());
    if (job == null) {
      lifecycle.tell(new LifecycleActor.Terminate(t.id(), t.replyTo()));
      return this;
    }
    leaving.put(job.id(), job.tenant().tenant());
    Instant now = clock.instant();
    store.tell(new PersistenceActor.Modify(t.id(), r -> {
      Job full = Job.fromRecord(r);
      if (full.stage() != JobStage.SUBMIT) {
        throw new NotQueued("job " + r.id() + " is " + full.stage().wireName() + " in the store");
      }
      org.compassci.sched.model.Termination.apply(full, now);
      return new PersistenceActor.Changed(full.toRecord(), full.view());
    }, new PendingTerminate(job, t.replyTo(), incarnation), modified));
    return this;
  }

  private void terminateDone(PendingTerminate p, PersistenceActor.Modified r) {
    boolean mine = settleLeaving(p.job().id(), p.incarnation(), r.result().isPresent());
    if (r.result().isPresent()) {
      ObjectNode view = (ObjectNode) r.result().get();
      // its watchers hear of it as of a cancelled job: it left the queue and ended
      lifecycle.tell(new LifecycleActor.Cancelled(p.job().id(), view));
      p.replyTo().tell(Outcome.ok(view));
      return;
    }
    String error = r.error().orElse("");
    if (error.contains(" in the store")) {
      // taken by another scheduler meanwhile: the lifecycle (through the store) decides
      lifecycle.tell(new LifecycleActor.Terminate(p.job().id(), p.replyTo()));
      return;
    }
    if (mine) {
      queue.restore(p.job());
    }
    p.replyTo().tell(Outcome.of(Outcome.Status.UNAVAILABLE, "store unavailable: " + error));
  }

  private Behavior<Command> onRequeue(Requeue q) {
    touch();
    takeBack(q.id(), q.tokenHash(), q.reason(), q.counts(), new PendingRequeue(q.id(), q.replyTo()));
    return this;
  }

  /** A hand-out back to the queue, if the store still has the job out under {@code tokenHash}. */
  private void takeBack(long id, String tokenHash, String reason, boolean counts, Object context) {
    if (!reloading.isEmpty()) {
      leftDuringReload.add(id);
    }
    store.tell(new PersistenceActor.Modify(id, r -> {
      Job full = Job.fromRecord(r);
      if (full.stage() != JobStage.DISPATCH) {
        throw new NotQueued("job " + r.id() + " is " + full.stage().wireName() + " in the store");
      }
      if (!tokenHash.equals(r.tokenHash())) {
        throw new NotQueued("job " + r.id() + " has been handed out again since");
      }
      String host = full.field("host_machine");
      if (counts) {
        full.requeue(reason);
      } else {
        full.giveBack(reason);
      }
      return new PersistenceActor.Changed(full.toRecord(), new TakenBack(full, host, tokenHash));
    }, context, modified));
  }

  /** A claim whose commit failed: checked in the store until it answers (see {@link #inDoubt}). */
  private void doubt(PendingHandOut p) {
    inDoubt.computeIfAbsent(p.job().id(), id -> new java.util.HashSet<>()).add(Tokens.sha256(p.token()));
    if (!timers.isTimerActive("in-doubt")) {
      timers.startSingleTimer("in-doubt", new CheckInDoubt(), IN_DOUBT_CHECK);
    }
  }

  private Behavior<Command> onCheckInDoubt(CheckInDoubt c) {
    checkDoubts();
    if (!inDoubt.isEmpty()) {
      timers.startSingleTimer("in-doubt", new CheckInDoubt(), IN_DOUBT_CHECK);
    }
    return this;
  }

  /** A round of checks, one per claim in doubt, unless one is out already. */
  private void checkDoubts() {
    if (doubtsOut == 0) {
      inDoubt.forEach((id, hashes) -> hashes.forEach(hash -> {
        doubtsOut++;
        takeBack(id, hash, "its claim was reported failed and its testbox told so, but the claim had been written",
            false, new InDoubt(id, hash));
      }));
    }
  }

  private void doubtChecked(InDoubt d, PersistenceActor.Modified r) {
    // never below none: an answer to a check of an instance before a restart comes here too
    doubtsOut = Math.max(0, doubtsOut - 1);
    settleDoubt(d, r);
    if (settlingDoubts && doubtsOut == 0) {
      // handing over: the round is in, and what it sent the store is committed before the stop
      settlingDoubts = false;
      askDrain();
    }
  }

  private void settleDoubt(InDoubt d, PersistenceActor.Modified r) {
    boolean storeAnswered = r.result().isPresent()
        // the store's word on the job ("job N is submit in the store", "... handed out again
        // since", "... is not in the store"), not a failure to ask it
        || r.error().map(e -> e.startsWith("job " + d.id() + " ")).orElse(false);
    if (!storeAnswered) {
      return;
    }
    java.util.Set<String> hashes = inDoubt.get(d.id());
    if (hashes != null && hashes.remove(d.tokenHash()) && hashes.isEmpty()) {
      inDoubt.remove(d.id());
    }
    if (r.result().isPresent()) {
      getContext().getLog().warn("job {}: a claim reported failed had been written; back in the queue", d.id());
      requeueDone(new PendingRequeue(d.id(), getContext().getSystem().ignoreRef()), r);
    }
  }

  private void requeueDone(PendingRequeue p, PersistenceActor.Modified r) {
    if (r.result().isEmpty()) {
      p.replyTo().tell(new Requeued(p.id(), Outcome.of(Outcome.Status.CONFLICT, r.error().orElse(""))));
      return;
    }
    TakenBack back = (TakenBack) r.result().get();
    Job job = back.job();
    ObjectNode view = job.view();
    lifecycle.tell(new LifecycleActor.Forget(job.id(), back.host(), back.tokenHash(), view));
    if (claiming.containsKey(job.id())) {
      // taken again meanwhile (a claim in doubt is put back in the queue at once, and a box
      // took it while its check was out): that claim comes after this change in the store and
      // decides. Queued here too, the job would be counted twice and its next claim refused;
      // its Redis claim released, the new claim's key would go with it
      p.replyTo().tell(new Requeued(p.id(), Outcome.ok(view)));
      return;
    }
    // its Redis claim goes before any new claim of it: the store runs both in this order
    store.tell(new PersistenceActor.ReleaseClaims(List.of(job.id())));
    // a queue made since (a restart) charged no one, and a job read into it already is not back now
    boolean refund = p.chargedBy() == incarnation && !queue.contains(job.id());
    QueuedJob queued = enqueue(job);
    if (refund) {
      queue.refund(queued);
    }
    p.replyTo().tell(new Requeued(p.id(), Outcome.ok(view)));
    serveParked();
  }

  /**
   * Each second, the store's count of queued jobs per tenant is checked against the queue here;
   * a tenant with more in the store (written by another scheduler or a tool) is read again.
   */
  private Behavior<Command> onResync(Resync r) {
    if (!counting) {
      counting = true;
      store.tell(new PersistenceActor.CountQueued(counted));
    }
    return this;
  }

  private Behavior<Command> onStoreCounted(StoreCounted c) {
    counting = false;
    if (c.counted().error().isPresent()) {
      return this;
    }
    Map<String, Integer> inFlight = new java.util.HashMap<>();
    claiming.values().forEach(tenant -> inFlight.merge(tenant, 1, Integer::sum));
    leaving.values().forEach(tenant -> inFlight.merge(tenant, 1, Integer::sum));
    // a row counted unreadable may have left the queue since (cancelled, taken by another node):
    // a tenant with none queued forgets its rows, and one with fewer than known is read again
    unreadable.keySet().removeIf(tenant -> !c.counted().byTenant().containsKey(tenant));
    c.counted().byTenant().forEach((tenant, n) -> {
      int unread = unreadable.getOrDefault(tenant, java.util.Set.of()).size();
      long known = queue.queuedOf(tenant) + inFlight.getOrDefault(tenant, 0) + unread;
      if ((n > known || unread > 0 && n < known) && reloading.add(tenant)) {
        store.tell(new PersistenceActor.LoadTenant(tenant, tenantLoaded));
      }
    });
    return this;
  }

  private Behavior<Command> onTenantLoaded(TenantLoaded loaded) {
    PersistenceActor.TenantJobs t = loaded.result();
    reloading.remove(t.tenant());
    if (reloading.isEmpty()) {
      // cleared after this answer is used: see the end of this handler
      getContext().getSelf().tell(new ClearLeftDuringReload());
    }
    if (t.error().isPresent()) {
      // nothing was read: what is known of the tenant's unreadable rows stands
      return this;
    }
    int added = 0;
    // read again: those still there and still unreadable are counted again below
    java.util.Set<Long> knownUnreadable = java.util.Objects.requireNonNullElse(unreadable.remove(t.tenant()), java.util.Set.of());
    for (JobRecord r : t.jobs()) {
      if (!queue.contains(r.id()) && !claiming.containsKey(r.id()) && !leaving.containsKey(r.id())
          && !leftDuringReload.contains(r.id())) {
        try {
          enqueueStored(r);
          ids.observe(r.id());
          added++;
        } catch (RuntimeException e) {
          leftAlone(r, e, knownUnreadable);
        }
      }
    }
    if (added > 0) {
      getContext().getLog().info("resync: {} queued jobs of {} found in the store", added, t.tenant());
      serveParked();
    }
    return this;
  }

  private Behavior<Command> onGetPending(GetPending g) {
    Map<String, Integer> groups = MatchQueue.DIMENSIONS.contains(g.groupBy())
        ? queue.pending(g.groupBy()) : Map.of();
    g.replyTo().tell(new Pending(queue.size(), groups));
    return this;
  }

  private Behavior<Command> onExplain(Explain e) {
    e.replyTo().tell(new Explained(Optional.ofNullable(queue.explain(e.id(), e.boxes()))));
    return this;
  }

  private void noJob(ActorRef<DispatchResult> replyTo) {
    tally.empty();
    replyTo.tell(new NoJob());
  }

  private Behavior<Command> onTakeTally(TakeTally t) {
    t.replyTo().tell(tally.take(queue.pending("my_account"), queue.pending("tbox_group")));
    return this;
  }

  private Behavior<Command> onGetStats(GetStats g) {
    g.replyTo().tell(new Stats(queue.size(), queue.groups(), queue.signatures(), parked.size(),
        queue.cachedBoxes(), activity.messages(), activity.last()));
    return this;
  }
}
