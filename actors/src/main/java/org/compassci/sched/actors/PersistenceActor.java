package org.compassci.sched.actors;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.PreRestart;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.compassci.sched.persistence.Claim;
import org.compassci.sched.persistence.ClaimsFailedException;
import org.compassci.sched.persistence.JobRecord;
import org.compassci.sched.persistence.RedisClaims;
import org.compassci.sched.persistence.JobStore;

/**
 * Owns the store. Writes are group-committed: while one transaction runs, the writes that arrive
 * wait, and all of them go in the next transaction; each caller is answered when its records are
 * committed. Every store call runs on the store dispatcher and comes back with pipeToSelf; the
 * group commits and their forces on one of their own, with connections of their own, so that no
 * read ever holds up a hand-out.
 */
public final class PersistenceActor extends AbstractBehavior<PersistenceActor.Command> {

  public static final String DISPATCHER = "scheduler.store-dispatcher";
  /** The group commits' and forces' own threads: one commit and one force out at most. */
  public static final String COMMIT_DISPATCHER = "scheduler.store-commit-dispatcher";

  public sealed interface Command {}

  /**
   * Make these records durable; the answer comes after the commit and carries {@code context}
   * back, so a caller with many writes in flight knows which one is answered.
   */
  public record Write(List<JobRecord> records, Object context, ActorRef<Written> replyTo,
      boolean keepOnFailure, boolean newJobs) implements Command {

    /** A write whose failure is only reported: the caller decides what to do. */
    public Write(List<JobRecord> records, Object context, ActorRef<Written> replyTo) {
      this(records, context, replyTo, false, false);
    }

    /** New jobs: an id that exists in the store already fails the write instead of replacing. */
    public static Write newJobs(List<JobRecord> records, Object context, ActorRef<Written> replyTo) {
      return new Write(records, context, replyTo, false, true);
    }

    /**
     * A write of state the scheduler already acts on (a stage change, a timeout): when the store
     * is away it is reported as failed and also kept, and written when the store is back.
     */
    public static Write kept(List<JobRecord> records, Object context, ActorRef<Written> replyTo) {
      return new Write(records, context, replyTo, true, false);
    }
  }

  /**
   * New jobs of one submit with what goes in the same commit: its {@code Idempotency-Key}, if it
   * had one, and the run each job belongs to ({@code submit_id}). Answered as a {@link Write}.
   */
  public record WriteSubmission(List<JobRecord> records,
      List<org.compassci.sched.persistence.SubmitKey> keys,
      List<org.compassci.sched.persistence.JobRun> runs, Object context, ActorRef<Written> replyTo)
      implements Command {}

  /** The stored first answer of a submit key, if any (and its jobs are there). */
  public record FindSubmitKey(String account, String key, ActorRef<SubmitKeyFound> replyTo)
      implements Command {}

  public record SubmitKeyFound(String account, String key,
      Optional<org.compassci.sched.persistence.SubmitKey> found, Optional<String> error) {}

  /** Forget submit keys made before {@code beforeMillis}; nobody waits for the answer. */
  public record PurgeSubmitKeys(long beforeMillis) implements Command {}

  /** The jobs of one run ({@code submit_id}), in id order, at most {@code limit}. */
  public record FindRun(String submitId, int limit, ActorRef<RunFound> replyTo) implements Command {}

  public record RunFound(String submitId, List<Long> ids, Optional<String> error) {}

  /**
   * Read one job, change it with {@code change} on the store's thread, and write it back in the
   * next group commit. The answer carries what the change returned. The change must not touch
   * anything but its arguments: it runs outside the caller's actor.
   */
  public record Modify(long id, java.util.function.Function<JobRecord, Changed> change,
      Object context, ActorRef<Modified> replyTo) implements Command {}

  /** What a change makes of a record: the record to write, and a result for the caller. */
  public record Changed(JobRecord record, Object result) {}

  /** {@code result} is what the change returned, present when its record is durable. */
  public record Modified(Object context, Optional<Object> result, Optional<String> error) {}

  /**
   * Hand a queued job out, in the next group commit, if it is still queued in the store. The
   * answer comes with those of the other claims of the same commit sent to the same actor.
   */
  public record ClaimJob(Claim claim, Object context, ActorRef<Claims> replyTo)
      implements Command {}

  /**
   * {@code record}: the job as now stored, when the claim took; empty with no error when the
   * job was no longer queued in the store.
   */
  public record Claimed(Object context, Optional<JobRecord> record, Optional<String> error) {}

  /**
   * The claims of one commit, in the order they were asked for: one message for all of them,
   * so that the matcher tells the lifecycle of them at once too.
   */
  public record Claims(List<Claimed> claimed) {}

  /**
   * Answered once every write told before it by the same sender is committed (or has failed): a
   * restarted lifecycle reads its jobs only after the writes of the incarnation before it, or it
   * could read a job as running whose final state was still on its way to the store.
   */
  public record Barrier(ActorRef<Done> replyTo) implements Command {}

  /** Hand-outs taken back: their Redis claims go, before any later claim of this actor. */
  public record ReleaseClaims(List<Long> ids) implements Command {}

  /** Queued jobs per tenant in the store, for the matcher's resync. */
  public record CountQueued(ActorRef<Counted> replyTo) implements Command {}

  public record Counted(java.util.Map<String, Long> byTenant, Optional<String> error) {}

  /** Every queued job of one tenant, in id order. */
  public record LoadTenant(String tenant, ActorRef<TenantJobs> replyTo) implements Command {}

  /** The answer to {@link LoadTenant}, naming its tenant: several may be in flight at once. */
  public record TenantJobs(String tenant, List<JobRecord> jobs, Optional<String> error) {}

  public record Find(long id, ActorRef<FindResult> replyTo) implements Command {}

  /**
   * Which of {@code ids} the store holds, as stored, after a write of them was reported failed:
   * a commit whose answer was lost on the way back may have landed all the same.
   */
  public record FindIds(List<Long> ids, Object context, ActorRef<IdsFound> replyTo) implements Command {}

  /** {@code found}: by id, those the store holds; empty with the {@code error} when the read failed. */
  public record IdsFound(Object context, java.util.Map<Long, JobRecord> found, Optional<String> error) {}

  /** The highest id of {@code workerId}'s jobs at or above {@code fromId} (see {@link JobStore#highestIdFrom}). */
  public record FindHighestId(long fromId, int workerId, ActorRef<HighestIdFound> replyTo) implements Command {}

  /** The answer to a {@link FindHighestId}: empty with no error when there is none. */
  public record HighestIdFound(java.util.OptionalLong id, Optional<String> error) {}

  /**
   * Every job whose stage is one of {@code stages} with an id above {@code afterId}, in id
   * order, answered page by page: one {@link LoadResult} per page, the next read while the
   * caller takes in the last, so a large queue is never held whole in memory on its way. A
   * non-empty {@code readiness} asks for the ended jobs whose data is still to settle instead
   * ({@link org.compassci.sched.persistence.JobStore#findSettling}).
   */
  public record LoadStages(Collection<String> stages, Collection<String> readiness, long afterId, boolean onePage,
      int pageSize, ActorRef<LoadResult> replyTo) implements Command {

    public LoadStages {
      if (pageSize < 1) {
        throw new IllegalArgumentException("pageSize must be positive: " + pageSize);
      }
    }

    public LoadStages(Collection<String> stages, long afterId, boolean onePage, int pageSize,
        ActorRef<LoadResult> replyTo) {
      this(stages, List.of(), afterId, onePage, pageSize, replyTo);
    }

    public LoadStages(Collection<String> stages, long afterId, ActorRef<LoadResult> replyTo) {
      this(stages, afterId, false, LOAD_PAGE, replyTo);
    }

    /** The ended jobs in {@code stages} whose data readiness is one of {@code readiness}, not yet settled. */
    public static LoadStages settling(Collection<String> stages, Collection<String> readiness, long afterId,
        ActorRef<LoadResult> replyTo) {
      return new LoadStages(stages, readiness, afterId, false, LOAD_PAGE, replyTo);
    }

    public LoadStages(Collection<String> stages, ActorRef<LoadResult> replyTo) {
      this(stages, Long.MIN_VALUE, replyTo);
    }

    /**
     * One page only: the caller asks for the next when it takes this one in, so no more than
     * two pages are ever on their way. Chained pages come as fast as the store reads them, and a
     * caller slower than the store holds them all in its mailbox.
     */
    public static LoadStages page(Collection<String> stages, long afterId, ActorRef<LoadResult> replyTo) {
      return page(stages, afterId, LOAD_PAGE, replyTo);
    }

    /** One page of at most {@code pageSize} jobs. */
    public static LoadStages page(Collection<String> stages, long afterId, int pageSize,
        ActorRef<LoadResult> replyTo) {
      return new LoadStages(stages, afterId, true, pageSize, replyTo);
    }
  }

  /** One page of a load, and the id after which the next page starts. */
  private record PageRead(LoadStages request, List<JobRecord> rows, Throwable failure)
      implements Command {}

  /** Whether the store is reachable, from the last write or periodic check: no I/O on the way. */
  public record Ping(ActorRef<PingResult> replyTo) implements Command {}

  /**
   * Cluster mode: a new matcher incarnation takes the next epoch (its claims name it), and
   * {@code manage/cluster} reads the current one.
   */
  /**
   * {@code takeByNanos} ({@link System#nanoTime}): when the asker stops waiting; the store takes
   * no epoch for it after that, nor for it once a newer request has come.
   */
  public record NextEpoch(String node, long nowMillis, long takeByNanos, ActorRef<Epoch> replyTo) implements Command {}

  public record ReadEpoch(ActorRef<Epoch> replyTo) implements Command {}

  /**
   * {@code epoch}: empty with no error when no cluster matcher has started on this store yet;
   * {@code ours}: this process's matcher took it.
   */
  public record Epoch(Optional<org.compassci.sched.persistence.MatcherEpoch> epoch, long fencedClaims,
      Optional<String> error, boolean ours) {

    public Epoch(Optional<org.compassci.sched.persistence.MatcherEpoch> epoch, long fencedClaims,
        Optional<String> error) {
      this(epoch, fencedClaims, error, false);
    }
  }

  /** Answers once every write received so far is committed (or has failed): for shutdown. */
  public record Drain(ActorRef<Done> replyTo) implements Command {}

  public record GetStats(ActorRef<ActorStats> replyTo) implements Command {}

  private record CheckStore() implements Command {}

  /** A force of the store's file, begun once the commits numbered up to {@code upTo} were in, is over. */
  private record Forced(long upTo, Throwable failure) implements Command {}

  /** The next try of a force that failed {@link #FORCE_TRIES} times in a row. */
  private record ForceAgain() implements Command {}

  /**
   * A commit that is in, numbered {@code seq}, whose writers are not told yet: they wait for a
   * force of the store's file ({@code needsForce}), or for the commits ahead of them to be told.
   */
  private record Unanswered(long seq, List<Command> batch, Optional<String> error, boolean fenced,
      Outcomes outcomes, boolean needsForce) {}

  private record Checked(Optional<String> error) implements Command {}

  private record Committed(List<Command> batch, Outcomes outcomes, Throwable failure)
      implements Command {}

  /**
   * What one commit made of its Modifies (in order) and its claims (by job id); {@code
   * claimError} is set when the writes are durable but the claims failed (a store whose claims
   * are outside its transactions).
   */
  /**
   * {@code unreleased}: Redis claim keys this commit could not release, to release first in the
   * next one; {@code held}: jobs whose claims were not tried because such a key still holds them.
   */
  private record Outcomes(List<Modified> modified, java.util.Map<Long, JobRecord> claimed,
      Optional<String> claimError, List<Long> unreleased, java.util.Set<Long> held, boolean storeAsked) {
    Outcomes(List<Modified> modified, java.util.Map<Long, JobRecord> claimed, Optional<String> claimError) {
      this(modified, claimed, claimError, List.of(), java.util.Set.of(), true);
    }

    Outcomes(List<Modified> modified, java.util.Map<Long, JobRecord> claimed, Optional<String> claimError,
        List<Long> unreleased, java.util.Set<Long> held) {
      this(modified, claimed, claimError, unreleased, held, true);
    }
  }

  private record Answer<T>(ActorRef<T> replyTo, T value) implements Command {}

  /**
   * {@code error} is empty when the records are durable. {@code refused}: the store refuses this
   * very state for good (see {@code states_refused}), or refuses every write of this node, whose
   * singletons were replaced (cluster mode); writing it again is of no use.
   */
  public record Written(Object context, Optional<String> error, boolean refused) {
    public Written(Object context, Optional<String> error) {
      this(context, error, false);
    }

    public boolean ok() {
      return error.isEmpty();
    }
  }

  public record FindResult(long id, Optional<JobRecord> job, Optional<String> error) {}

  /**
   * One page of a {@link LoadStages}: {@code last} is true on the final page, and on an error
   * (then the caller asks again from the last id it has).
   */
  public record LoadResult(List<JobRecord> jobs, Optional<String> error, boolean last) {}

  public record PingResult(String store, Optional<String> error) {}

  static final int LOAD_PAGE = 5000;
  /** Ids read for a {@link FindHighestId}: a worker's among the highest this many (of up to 100 workers). */
  static final int HIGHEST_IDS = 1000;
  static final int RETRY_MAX = 100_000;
  private static final Duration CHECK_INTERVAL = Duration.ofSeconds(1);

  private final JobStore store;
  /** Present when SCHED_REDIS_URL is set: every hand-out also takes a claim there. */
  private final Optional<RedisClaims> redis;
  private final Executor blocking;
  /** Where {@link #send} and {@link #forceIfNeeded} run: never behind a read. */
  private final Executor committer;
  private final int batchMax;
  /** Writes and Modifies waiting for the next group commit, in arrival order. */
  private final java.util.ArrayDeque<Command> pending = new java.util.ArrayDeque<>();
  /** How many of {@link #pending} are claims: a batch looks past its writes for them only then. */
  private int pendingClaims;
  private final List<ActorRef<Done>> drainers = new ArrayList<>();
  private boolean committing;
  /**
   * Commits in, in order, whose writers wait for a force of the store's file, or for those ahead
   * of them: with a store that forces each commit, the force runs while the next commit is
   * written, and one force answers every commit in before it began.
   */
  private final java.util.ArrayDeque<Unanswered> unanswered = new java.util.ArrayDeque<>();
  /** Commits in so far, numbered; the last of them a finished force covers; a force out. */
  private long written;
  private long forcedUpTo;
  private boolean forcing;
  /**
   * The store answered again while a commit was in flight: what was kept is written once that
   * commit is in, which takes out of {@link #retry} the jobs it wrote newer states of.
   */
  private boolean replayAfterCommit;
  /**
   * States kept at a restart with a commit out (writes that waited behind it): newer than what
   * that commit carries of the same jobs, so they join {@link #retry} only once it is back.
   * Joined earlier, a commit that took dropped them as older than itself, and one that failed
   * kept its own older states over them.
   */
  private final java.util.LinkedHashMap<Long, JobRecord> newerThanCommitOut = new java.util.LinkedHashMap<>();
  private long commits;
  private final Activity activity = new Activity(java.time.Clock.systemUTC());
  private boolean checking;
  private Optional<String> lastError = Optional.empty();
  /**
   * Kept writes that failed, the latest record of each job, waiting for the store: bounded, so
   * a long outage costs at most {@link #RETRY_MAX} records of memory.
   */
  private final java.util.LinkedHashMap<Long, JobRecord> retry = new java.util.LinkedHashMap<>();
  /**
   * Barriers whose writes are in, each with the number of the last commit it waits to be told
   * (see {@link #unanswered}), and waiting for the states kept meanwhile ({@link #retry}) too.
   */
  private final List<HeldBarrier> heldBarriers = new ArrayList<>();

  private record HeldBarrier(long upTo, ActorRef<Done> replyTo) {}

  /** Forces that failed in a row: tried again at once up to {@link #FORCE_TRIES}, then less often. */
  private int forceFailures;
  static final int FORCE_TRIES = 3;
  /** A force failed {@link #FORCE_TRIES} times or more: the next waits for its {@link ForceAgain}. */
  private boolean forceWaiting;
  /**
   * How many kept records one replay writes. All of them, until a replay fails: then half as
   * many each time one fails, and twice as many each time one takes. A record the store refuses
   * for good (a row it cannot hold) used to fail every replay, and every write committed with
   * it, for as long as the process ran; halving finds it in a few commits.
   */
  private int replayLimit = Integer.MAX_VALUE;
  /** The replay pending or in flight, if any: a commit's failure was also its when it carried it. */
  private Write replaying;
  /**
   * Kept states that failed written alone with the store refusing the data itself (not away,
   * full or read-only: {@link org.compassci.sched.persistence.StoreRefusedException}), and how
   * often: at {@link #STRIKES} the state is refused for good and dropped.
   */
  private final java.util.Map<Long, Strikes> strikes = new java.util.HashMap<>();
  static final int STRIKES = 3;

  private record Strikes(JobRecord state, int count) {}

  /**
   * States dropped as refused, the latest {@link #REFUSED_KEPT}: the same state written again
   * (the lifecycle writes a retiring job until it takes) is answered at once, not committed
   * with other writes to fail them all.
   */
  static final int REFUSED_KEPT = 1_000;
  private final java.util.Map<Long, JobRecord> refusedStates = Bounded.map(REFUSED_KEPT, false);
  private long statesRefused;
  /** When a Redis warning was last logged: at most one each 10 s while Redis stays away. */
  private static final java.util.concurrent.atomic.AtomicLong LAST_REDIS_WARNING =
      new java.util.concurrent.atomic.AtomicLong(Long.MIN_VALUE / 2);

  /** Releases {@code ids}' Redis keys, or adds them to {@code kept} when Redis does not answer. */
  private void releaseOrKeep(List<Long> ids, List<Long> kept, String beforeOrAfterCommit) {
    if (redis.isEmpty() || ids.isEmpty()) {
      return;
    }
    try {
      redis.get().release(ids);
    } catch (RuntimeException e) {
      if (warnNow()) {
        STORE_THREAD_LOG.warn("Redis: {} claim keys not released {} a commit, kept for the next: {}",
            ids.size(), beforeOrAfterCommit, e.getMessage());
      }
      kept.addAll(ids);
    }
  }

  private static boolean warnNow() {
    long now = System.nanoTime();
    long last = LAST_REDIS_WARNING.get();
    return now - last >= 10_000_000_000L && LAST_REDIS_WARNING.compareAndSet(last, now);
  }

  /** For what runs on the store's threads, where the actor's own logger may not be used. */
  private static final org.slf4j.Logger STORE_THREAD_LOG = org.slf4j.LoggerFactory.getLogger(PersistenceActor.class);
  /** Redis claim keys whose release failed with its batch: released first in the next batch. */
  private final List<Long> releaseKept = new ArrayList<>();

  public static Behavior<Command> create(JobStore store, int batchMax) {
    return create(store, Optional.empty(), batchMax);
  }

  public static Behavior<Command> create(JobStore store, Optional<RedisClaims> redis, int batchMax) {
    // made once, outside the setup that a supervisor's restart runs again: what one incarnation
    // hands on to the next
    Carried carried = new Carried();
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
      timers.startTimerWithFixedDelay(new CheckStore(), CHECK_INTERVAL);
      return new PersistenceActor(ctx, store, redis, batchMax, carried);
    }));
  }

  /**
   * What an incarnation restarted after a failure hands on to the next, which takes it at its
   * start: its commit still out (whose result comes to the next one, which must not send another
   * beside it, nor answer a drain before it is in), the job states it kept while the store was
   * away, the Redis keys still to release, and the drains and barriers not yet answered. Touched only on the
   * actor's thread, by one incarnation after the other.
   */
  private static final class Carried {
    boolean commitOut;
    final java.util.LinkedHashMap<Long, JobRecord> retry = new java.util.LinkedHashMap<>();
    final java.util.LinkedHashMap<Long, JobRecord> newerThanCommitOut = new java.util.LinkedHashMap<>();
    final List<Long> releaseKept = new ArrayList<>();
    final List<ActorRef<Done>> drainers = new ArrayList<>();
    final List<HeldBarrier> barriers = new ArrayList<>();
    final java.util.ArrayDeque<Unanswered> unanswered = new java.util.ArrayDeque<>();
    boolean forcing;
    long written;
    long forcedUpTo;
  }

  private final Carried carried;

  private PersistenceActor(ActorContext<Command> ctx, JobStore store, Optional<RedisClaims> redis,
      int batchMax, Carried carried) {
    super(ctx);
    this.carried = carried;
    committing = carried.commitOut;
    retry.putAll(carried.retry);
    if (carried.commitOut) {
      newerThanCommitOut.putAll(carried.newerThanCommitOut);
    } else {
      // the incarnation before failed once its commit was back, before it put these over it
      keepNewest(carried.newerThanCommitOut.values(), retry);
    }
    releaseKept.addAll(carried.releaseKept);
    drainers.addAll(carried.drainers);
    heldBarriers.addAll(carried.barriers);
    unanswered.addAll(carried.unanswered);
    forcing = carried.forcing;
    written = carried.written;
    forcedUpTo = carried.forcedUpTo;
    carried.unanswered.clear();
    carried.forcing = false;
    carried.commitOut = false;
    carried.retry.clear();
    carried.newerThanCommitOut.clear();
    carried.releaseKept.clear();
    carried.drainers.clear();
    carried.barriers.clear();
    // its own name, not Pekko's guess from the call stack (see LifecycleActor)
    ctx.setLoggerName(PersistenceActor.class);
    this.store = store;
    this.redis = redis;
    this.batchMax = batchMax;
    this.blocking = ctx.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig(DISPATCHER));
    this.committer = ctx.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig(COMMIT_DISPATCHER));
    // the commits the last incarnation left unanswered: a force for them, unless one is out
    forceIfNeeded();
    releaseWaiting();
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Write.class, this::onWrite)
        .onMessage(WriteSubmission.class, this::onWrite)
        .onMessage(Barrier.class, this::onWrite)
        .onMessage(FindSubmitKey.class, this::onFindSubmitKey)
        .onMessage(PurgeSubmitKeys.class, this::onPurgeSubmitKeys)
        .onMessage(FindRun.class, this::onFindRun)
        .onMessage(Modify.class, this::onWrite)
        .onMessage(ClaimJob.class, this::onWrite)
        .onMessage(ReleaseClaims.class, this::onWrite)
        .onMessage(CountQueued.class, this::onCountQueued)
        .onMessage(LoadTenant.class, this::onLoadTenant)
        .onMessage(Committed.class, this::onCommitted)
        .onMessage(Find.class, this::onFind)
        .onMessage(FindIds.class, f -> {
          reply(f.replyTo(), () -> {
            java.util.Map<Long, JobRecord> found = new java.util.HashMap<>();
            // in parts: a submit may have 10,000 jobs, and a statement that many parameters
            for (int i = 0; i < f.ids().size(); i += LOAD_PAGE) {
              store.findByIds(f.ids().subList(i, Math.min(f.ids().size(), i + LOAD_PAGE)))
                  .forEach(r -> found.put(r.id(), r));
            }
            return new IdsFound(f.context(), found, Optional.empty());
          }, e -> new IdsFound(f.context(), java.util.Map.of(), Optional.of(reason(e))));
          return this;
        })
        .onMessage(FindHighestId.class, f -> {
          reply(f.replyTo(), () -> new HighestIdFound(store.highestIdFrom(f.fromId(), f.workerId(), HIGHEST_IDS), Optional.empty()),
              e -> new HighestIdFound(java.util.OptionalLong.empty(), Optional.of(reason(e))));
          return this;
        })
        .onMessage(LoadStages.class, this::onLoadStages)
        .onMessage(PageRead.class, this::onPageRead)
        .onMessage(Ping.class, this::onPing)
        .onMessage(GetStats.class, g -> {
          g.replyTo().tell(new ActorStats("persistence", java.util.Map.of(
              "writes_waiting", (long) pending.size(), "commits", commits,
              "kept_while_store_away", (long) (retry.size() + newerThanCommitOut.size()), "store_reachable", lastError.isEmpty() ? 1L : 0L,
              "states_refused", statesRefused),
              activity.messages(), activity.last()));
          return this;
        })
        .onMessage(Drain.class, this::onDrain)
        .onMessage(NextEpoch.class, this::onNextEpoch)
        .onMessage(ReadEpoch.class, this::onReadEpoch)
        .onMessage(CheckStore.class, this::onCheckStore)
        .onMessage(Checked.class, this::onChecked)
        .onMessage(Forced.class, this::onForced)
        .onMessage(ForceAgain.class, a -> {
          forceWaiting = false;
          forceIfNeeded();
          return this;
        })
        .onMessage(Answer.class, this::onAnswer)
        .onSignal(PreRestart.class, r -> onRestart())
        .build();
  }

  private Behavior<Command> onWrite(Command w) {
    activity.touch();
    if (w instanceof Write write && !refusedStates.isEmpty() && !write.records().isEmpty()) {
      List<JobRecord> rest = new ArrayList<>();
      for (JobRecord r : write.records()) {
        if (!r.equals(refusedStates.get(r.id()))) {
          rest.add(r);
        }
      }
      if (rest.isEmpty()) {
        write.replyTo().tell(new Written(write.context(), Optional.of("the store refuses this state of job "
            + write.records().get(0).id() + " (see the log): not written"), true));
        return this;
      }
      if (rest.size() < write.records().size()) {
        w = new Write(rest, write.context(), write.replyTo(), write.keepOnFailure(), write.newJobs());
      }
    }
    pending.add(w);
    if (w instanceof ClaimJob) {
      pendingClaims++;
    }
    if (!committing) {
      commitPending();
    }
    return this;
  }

  private static int weight(Command c) {
    return c instanceof Write w ? w.records().size()
        : c instanceof WriteSubmission w ? w.records().size() : 1;
  }

  private void commitPending() {
    if (replaying != null && pending.peekFirst() == replaying && replayLimit == 1) {
      // one kept record suspected of being refused: alone, so that a failure is its own
      send(List.of(pending.pollFirst()));
      return;
    }
    List<Command> batch = new ArrayList<>();
    int records = 0;
    // while boxes wait on claims, writes go in commits of an eighth of the size: the claims'
    // commit, and the one they may find in flight next time, stay short
    int most = pendingClaims > 0 ? Math.max(1, batchMax / 8) : batchMax;
    while (!pending.isEmpty() && (batch.isEmpty() || records + weight(pending.peekFirst()) <= most)) {
      Command c = pending.pollFirst();
      records += weight(c);
      batch.add(c);
      if (c instanceof ClaimJob) {
        pendingClaims--;
      }
    }
    if (pendingClaims > 0) {
      claimsAhead(batch);
    }
    keptStatesAhead(batch);
    if (!releaseKept.isEmpty()) {
      // before anything of this batch: a claim in it may be of a job whose key this releases
      batch.add(0, new ReleaseClaims(List.copyOf(releaseKept)));
      releaseKept.clear();
    }
    send(batch);
  }

  /** One group commit on the commits' own thread; its outcome comes back as {@link Committed}. */
  private void send(List<Command> batch) {
    committing = true;
    getContext().pipeToSelf(
        CompletableFuture.supplyAsync(() -> store.committing(() -> store.unforced(() -> commit(batch))), committer),
        (outcomes, failure) -> new Committed(batch, outcomes, failure));
  }

  /**
   * The claims still waiting join this batch ahead of the writes queued before them, unless one
   * of those writes is of the same job. A box waits on its claim's commit for its answer; a write
   * has no one waiting on it so closely. When 20,000 hand-outs ran out at once, their requeues
   * filled ten commits of 2,000 ahead of every claim, and hand-outs stalled for two to three
   * seconds. A claim keeps its place behind a write or a requeue of its own job (the job's row
   * must be as those left it): that is the only order the store needs. Redis releases come along
   * too: a requeued job's release is sent after its requeue is durable and before its next
   * claim, and a claim held behind it waited for every commit of the burst.
   */
  private void claimsAhead(List<Command> batch) {
    java.util.Set<Long> behind = new java.util.HashSet<>();
    int taken = 0;
    for (java.util.Iterator<Command> it = pending.iterator(); it.hasNext() && taken < batchMax;) {
      Command c = it.next();
      if (c instanceof ClaimJob cj) {
        if (behind.add(cj.claim().id())) {
          it.remove();
          pendingClaims--;
          batch.add(c);
          taken++;
        }
        // a claim that stays keeps a later claim of its job behind it (the set already holds it)
      } else if (c instanceof Modify m) {
        behind.add(m.id());
      } else if (c instanceof Write w) {
        w.records().forEach(r -> behind.add(r.id()));
      } else if (c instanceof WriteSubmission w) {
        w.records().forEach(r -> behind.add(r.id()));
      } else if (c instanceof ReleaseClaims) {
        // the commit releases before it claims, wherever the release sits in the batch
        it.remove();
        batch.add(c);
      }
    }
  }

  /**
   * Runs on the commits' dispatcher: reads the jobs to modify, applies each change, and writes
   * everything in one transaction. A change that fails (job missing, change refused) fails
   * alone; the rest of the batch goes on.
   */
  private Outcomes commit(List<Command> batch) {
    List<Long> ids = new ArrayList<>();
    List<Claim> claims = new ArrayList<>();
    List<Long> released = new ArrayList<>();
    for (Command c : batch) {
      if (c instanceof Modify m) {
        ids.add(m.id());
      } else if (c instanceof ClaimJob cj) {
        claims.add(cj.claim());
      } else if (c instanceof ReleaseClaims r) {
        released.addAll(r.ids());
      }
    }
    // a release Redis does not take is kept for the next commit, and fails nothing else here:
    // only the claims of those jobs wait (Redis still holds their earlier key)
    List<Long> unreleased = new ArrayList<>();
    releaseOrKeep(released, unreleased, "before");
    java.util.Set<Long> held = new java.util.HashSet<>(unreleased);
    if (!held.isEmpty()) {
      claims.removeIf(cl -> held.contains(cl.id()));
    }
    java.util.Map<Long, JobRecord> current = new java.util.HashMap<>();
    if (!ids.isEmpty()) {
      store.findByIds(ids).forEach(r -> current.put(r.id(), r));
    }
    List<JobRecord> records = new ArrayList<>();
    List<JobRecord> inserts = new ArrayList<>();
    List<org.compassci.sched.persistence.SubmitKey> keys = new ArrayList<>();
    List<org.compassci.sched.persistence.JobRun> runs = new ArrayList<>();
    List<Modified> modified = new ArrayList<>();
    for (Command c : batch) {
      if (c instanceof Write w) {
        (w.newJobs() ? inserts : records).addAll(w.records());
        // a Modify later in this batch starts from what this writes, not from the store's row:
        // the commit writes each job as it is last, and a Modify that checked the row as it was
        // read wrote over the newer state this batch also writes (a requeue over a boot report)
        w.records().forEach(r -> current.put(r.id(), r));
      } else if (c instanceof WriteSubmission w) {
        inserts.addAll(w.records());
        keys.addAll(w.keys());
        runs.addAll(w.runs());
        w.records().forEach(r -> current.put(r.id(), r));
      } else if (c instanceof Modify m) {
        JobRecord r = current.get(m.id());
        if (r == null) {
          modified.add(new Modified(m.context(), Optional.empty(), Optional.of("job " + m.id() + " is not in the store")));
          continue;
        }
        try {
          Changed changed = m.change().apply(r);
          current.put(m.id(), changed.record());
          records.add(changed.record());
          modified.add(new Modified(m.context(), Optional.of(changed.result()), Optional.empty()));
        } catch (RuntimeException e) {
          modified.add(new Modified(m.context(), Optional.empty(), Optional.of(reason(e))));
        }
      }
    }
    // a job written twice in this commit is written once, as it is last (the store sees to it)
    java.util.Map<Long, JobRecord> claimed = new java.util.HashMap<>();
    // with Redis, a claim another scheduler holds there is refused before the store is asked
    List<Claim> taken = claims;
    Optional<String> claimsFailed = Optional.empty();
    if (redis.isPresent() && !claims.isEmpty()) {
      try {
        taken = redis.get().take(claims);
      } catch (RuntimeException e) {
        // Redis away: no claim of this commit is tried, and its writes go on (only hand-outs
        // need Redis); a key the failed call may have set expires by its TTL
        taken = List.of();
        claimsFailed = Optional.of(reason(e));
      }
    }
    try {
      if (inserts.isEmpty() && records.isEmpty() && taken.isEmpty() && keys.isEmpty() && runs.isEmpty()) {
        // nothing for the store (a barrier alone, changes that all failed): no transaction, and
        // no word on whether the store is reachable
        return new Outcomes(modified, claimed, claimsFailed, unreleased, held, false);
      }
      (keys.isEmpty() && runs.isEmpty() ? store.commit(inserts, records, taken)
          : store.commit(inserts, records, taken, keys, runs)).forEach(r -> claimed.put(r.id(), r));
    } catch (RuntimeException e) {
      // nothing was handed out: the keys go now, not after the claim TTL
      releaseQuietly(taken.stream().map(Claim::id).toList(), e);
      if (e instanceof ClaimsFailedException partial) {
        return new Outcomes(modified, claimed, Optional.of(reason(partial)), unreleased, held);
      }
      throw e;
    }
    if (redis.isPresent() && claimed.size() < taken.size()) {
      List<Long> refused = new ArrayList<>();
      taken.forEach(c -> {
        if (!claimed.containsKey(c.id())) {
          refused.add(c.id());
        }
      });
      // the commit is durable and must be answered as such: these keys (of claims the store
      // refused) are released with the next commit if Redis does not take them now
      releaseOrKeep(refused, unreleased, "after");
    }
    return new Outcomes(modified, claimed, claimsFailed, unreleased, held);
  }

  private Behavior<Command> onCommitted(Committed c) {
    committing = false;
    commits++;
    // held at once: should this handler fail below, the restart carries them on (see onRestart);
    // each waits for this commit, numbered below, and those before it to be told
    for (Command cmd : c.batch()) {
      if (cmd instanceof Barrier b) {
        heldBarriers.add(new HeldBarrier(written + 1, b.replyTo()));
      }
    }
    Optional<String> error = Optional.ofNullable(c.failure()).map(PersistenceActor::reason);
    // cluster mode: this node's singletons were replaced, and every write of it is refused for good
    boolean fenced = error.isPresent()
        && causedBy(c.failure(), org.compassci.sched.persistence.StoreFencedException.class);
    if (error.isPresent() || c.outcomes() == null || c.outcomes().storeAsked()) {
      lastError = error;
    }
    if (error.isPresent()) {
      getContext().getLog().warn("store write of {} requests failed: {}", c.batch().size(), error.get());
    }
    Write replay = null;
    for (Command cmd : c.batch()) {
      replay = cmd == replaying ? replaying : replay;
    }
    boolean replayed = replay != null;
    if (replayed) {
      replaying = null;
    }
    if (fenced) {
      // the rows are the successor's now, and what was kept here would be refused at every
      // replay until the process exits
      if (!retry.isEmpty()) {
        getContext().getLog().warn("this node's singletons were replaced: {} kept job states dropped", retry.size());
        retry.clear();
        strikes.clear();
      }
    } else if (error.isPresent()) {
      keep(c.batch());
      if (replayed) {
        replayFailed(replay, c.batch().size() == 1, causedBy(c.failure(),
            org.compassci.sched.persistence.StoreRefusedException.class), error.get());
      }
    } else if (!retry.isEmpty()) {
      // what was just written is newer than what was kept for the same jobs
      for (Command cmd : c.batch()) {
        if (cmd instanceof Write w) {
          w.records().forEach(r -> retry.remove(r.id()));
        } else if (cmd instanceof Modify mod) {
          retry.remove(mod.id());
        }
      }
    }
    if (!newerThanCommitOut.isEmpty()) {
      if (fenced) {
        getContext().getLog().warn("this node's singletons were replaced: {} kept job states dropped",
            newerThanCommitOut.size());
      } else {
        // the commit out is settled: the states that waited behind it at a restart go over it
        keepNewest(newerThanCommitOut.values(), retry);
        replayAfterCommit |= error.isEmpty();
      }
      newerThanCommitOut.clear();
    }
    if (error.isEmpty()) {
      releaseKept.addAll(c.outcomes().unreleased());
      if (replayed) {
        replayLimit = replayLimit > Integer.MAX_VALUE / 2 ? Integer.MAX_VALUE : replayLimit * 2;
      }
      if (replayed || replayAfterCommit) {
        // the next part of what was kept goes ahead of the pending writes, as the first did
        replayAfterCommit = false;
        if (!retry.isEmpty()) {
          replayKept();
        }
      }
      if (retry.isEmpty()) {
        replayLimit = Integer.MAX_VALUE;
        strikes.clear();
      }
    }
    // its writers are told once it is on the disk, where the store forces each commit; the
    // next commit goes out meanwhile, and its force may answer both
    boolean needsForce = error.isEmpty() && c.outcomes() != null && c.outcomes().storeAsked()
        && store.forcesEachCommit();
    unanswered.add(new Unanswered(++written, c.batch(), error, fenced, c.outcomes(), needsForce));
    // tells what waits for nothing more, then forces for the rest
    forceIfNeeded();
    if (!pending.isEmpty()) {
      commitPending();
    }
    releaseWaiting();
    return this;
  }

  /** The commits at the head of {@link #unanswered} that wait for nothing more, told in order. */
  private void answerReady() {
    while (!unanswered.isEmpty()
        && (!unanswered.peekFirst().needsForce() || unanswered.peekFirst().seq() <= forcedUpTo)) {
      Unanswered u = unanswered.pollFirst();
      answer(u.batch(), u.error(), u.fenced(), u.outcomes());
    }
  }

  /** A force of the store's file for the commits in so far, unless one is out (it is followed by another). */
  private void forceIfNeeded() {
    answerReady();
    if (forcing || forceWaiting || unanswered.isEmpty()) {
      return;
    }
    forcing = true;
    long upTo = written;
    getContext().pipeToSelf(CompletableFuture.runAsync(() -> store.committing(() -> {
          store.sync();
          return null;
        }), committer),
        (ok, failure) -> new Forced(upTo, failure));
  }

  private Behavior<Command> onForced(Forced f) {
    forcing = false;
    if (f.failure() != null && ++forceFailures < FORCE_TRIES) {
      // no connection within the pool's wait, say: tried again before anyone is told
      getContext().getLog().warn("a force of the store's file failed, trying again: {}", reason(f.failure()));
      forceIfNeeded();
      return this;
    }
    if (f.failure() != null) {
      // the commits are in (the system holds them) but not known to be on the disk: after an
      // fsync error the kernel may have dropped their pages, and a power cut would lose what was
      // answered (a hand-out read back as queued goes to a second box). Told failed, their writers
      // would write them again (a submit without a key, twice). So they wait (their asks time
      // out, 503) while the force is tried again, less and less often, until it takes; the
      // store's check says it is unwell meanwhile
      Duration wait = Duration.ofSeconds(Math.min(30, 1L << Math.min(forceFailures - FORCE_TRIES, 5)));
      getContext().getLog().error("commits up to {} are in but could not be forced to disk in {} tries; their"
          + " writers wait, trying again in {}: {}", f.upTo(), forceFailures, wait, reason(f.failure()));
      forceWaiting = true;
      getContext().scheduleOnce(wait, getContext().getSelf(), new ForceAgain());
      return this;
    }
    forceFailures = 0;
    forcedUpTo = Math.max(forcedUpTo, f.upTo());
    forceIfNeeded();
    releaseWaiting();
    return this;
  }

  /**
   * Barriers wait for every write told before them to be in and told (and for the states kept
   * while the store was away); drains also for the commit out and those pending.
   */
  private void releaseWaiting() {
    if (retry.isEmpty()) {
      // a state kept while the store was away is a write told before the barrier, not yet in:
      // the barrier waits for its replay (a load read before it could take a job's older row).
      // Only the commits up to its own: under steady writes some commit always waits for a force
      long told = unanswered.isEmpty() ? written : unanswered.peekFirst().seq() - 1;
      heldBarriers.removeIf(b -> {
        if (b.upTo() <= told) {
          b.replyTo().tell(Done.getInstance());
          return true;
        }
        return false;
      });
    }
    if (!unanswered.isEmpty()) {
      return;
    }
    if (!committing && pending.isEmpty() && !drainers.isEmpty()) {
      if (!retry.isEmpty()) {
        getContext().getLog().warn("{} job states kept while the store was away could not be written "
            + "before the exit: the store keeps their earlier states", retry.size());
      }
      drainers.forEach(d -> d.tell(Done.getInstance()));
      drainers.clear();
    }
  }

  /**
   * Tells each request of {@code batch} how it went: {@code error} for all of them when the
   * commit failed ({@code fenced}: refused for good), else each one's part of {@code outcomes}.
   */
  private static void answer(List<Command> batch, Optional<String> error, boolean fenced, Outcomes outcomes) {
    int m = 0;
    java.util.Map<ActorRef<Claims>, List<Claimed>> claims = new java.util.LinkedHashMap<>();
    for (Command cmd : batch) {
      if (cmd instanceof Write w) {
        // fenced, refused for good too: its writer need not try it again
        w.replyTo().tell(new Written(w.context(), error, fenced));
      } else if (cmd instanceof WriteSubmission w) {
        w.replyTo().tell(new Written(w.context(), error));
      } else if (cmd instanceof Modify mod) {
        Modified result = error.isPresent()
            ? new Modified(mod.context(), Optional.empty(), error)
            : outcomes.modified().get(m++);
        mod.replyTo().tell(result);
      } else if (cmd instanceof ClaimJob cj) {
        Optional<String> claimError = error.isPresent() ? error : outcomes.claimError();
        if (claimError.isEmpty() && outcomes.held().contains(cj.claim().id())) {
          claimError = Optional.of("Redis unavailable: job " + cj.claim().id() + " is still held by its earlier claim");
        }
        claims.computeIfAbsent(cj.replyTo(), r -> new ArrayList<>()).add(claimError.isPresent()
            ? new Claimed(cj.context(), Optional.empty(), claimError)
            : new Claimed(cj.context(), grantedTo(cj.claim(), outcomes.claimed()), Optional.empty()));
      }
    }
    claims.forEach((replyTo, each) -> replyTo.tell(new Claims(each)));
  }

  /**
   * About to restart after a failure: the requests waiting for the next commit are answered as a
   * failed commit's are (nothing of them was written; a kept state is kept, a release still to
   * be made), so that their writers act as for a store away (a claim's job goes back to its
   * queue, a submit is answered 503) instead of waiting for good. The next incarnation takes on
   * what {@link Carried} holds; the commit in flight comes back to it with its batch, and is
   * answered and settled there as its own.
   */
  private Behavior<Command> onRestart() {
    List<Command> waiting = new ArrayList<>(pending);
    pending.clear();
    // what waited is newer than the commit out: kept apart until that commit is back, which
    // settles what was kept for its own jobs as if it were newer (see newerThanCommitOut)
    keep(waiting, committing ? newerThanCommitOut : retry);
    getContext().getLog().error("the store's actor restarts: {} waiting writes answered failed, {} job states kept"
        + " for the store, commit out: {}", waiting.size(), retry.size(), committing);
    answer(waiting, Optional.of("the store's actor restarted after a failure: not written"), false, null);
    // a barrier stands for the writes told before it: those that waited are answered failed now,
    // but the commit out and the kept states go on to the next incarnation, and so does the
    // barrier, answered there once they are in
    long behind = written + (committing ? 1 : 0);
    waiting.stream().filter(Barrier.class::isInstance)
        .forEach(b -> carried.barriers.add(new HeldBarrier(behind, ((Barrier) b).replyTo())));
    carried.barriers.addAll(heldBarriers);
    heldBarriers.clear();
    carried.commitOut = committing;
    carried.retry.putAll(retry);
    carried.newerThanCommitOut.putAll(newerThanCommitOut);
    carried.releaseKept.addAll(releaseKept);
    carried.drainers.addAll(drainers);
    // commits in whose writers wait for a force: the next incarnation tells them, after the
    // force out (its answer comes to it) or one of its own
    carried.unanswered.addAll(unanswered);
    carried.forcing = forcing;
    carried.written = written;
    carried.forcedUpTo = forcedUpTo;
    return this;
  }

  /**
   * The job as stored for this claim, if the claim took. Two claims of one job can meet in one
   * commit (a restarted matcher claims a job whose first claim is still in flight): the store
   * takes the first, and the record found by id then carries that claim's token. Only the claim
   * whose token hash the record holds got the job; the other box must not hear that it did.
   */
  private static Optional<JobRecord> grantedTo(Claim claim, java.util.Map<Long, JobRecord> claimed) {
    JobRecord r = claimed.get(claim.id());
    return r != null && claim.tokenHash().equals(r.tokenHash()) ? Optional.of(r) : Optional.empty();
  }

  private Behavior<Command> onDrain(Drain d) {
    if (!retry.isEmpty()) {
      // the states kept while the store was away get one more try before the exit, which would
      // lose them: the store may be back since the last replay. Failed, they are kept again and
      // the drain is answered all the same
      replayKeptSoon();
    }
    if (!committing && pending.isEmpty() && unanswered.isEmpty()) {
      d.replyTo().tell(Done.getInstance());
    } else {
      drainers.add(d.replyTo());
    }
    return this;
  }

  private Behavior<Command> onNextEpoch(NextEpoch n) {
    // in the order the requests came, not the order the store's threads run them
    long ticket = store.epochTicket();
    reply(n.replyTo(), () -> new Epoch(Optional.of(store.nextEpoch(n.node(), n.nowMillis(), ticket, n.takeByNanos())),
        store.fencedClaims(), Optional.empty()), e -> new Epoch(Optional.empty(), 0, Optional.of(reason(e))));
    return this;
  }

  private Behavior<Command> onReadEpoch(ReadEpoch r) {
    reply(r.replyTo(), () -> {
      Optional<org.compassci.sched.persistence.MatcherEpoch> current = store.currentEpoch();
      return new Epoch(current, store.fencedClaims(), Optional.empty(),
          current.isPresent() && store.tookEpoch(current.get().epoch()));
    },
        e -> new Epoch(Optional.empty(), store.fencedClaims(), Optional.of(reason(e))));
    return this;
  }

  private Behavior<Command> onFind(Find f) {
    reply(f.replyTo(), () -> new FindResult(f.id(), store.find(f.id()), Optional.empty()),
        e -> new FindResult(f.id(), Optional.empty(), Optional.of(reason(e))));
    return this;
  }

  private Behavior<Command> onFindSubmitKey(FindSubmitKey f) {
    reply(f.replyTo(), () -> new SubmitKeyFound(f.account(), f.key(), store.findSubmitKey(f.account(), f.key()),
        Optional.empty()), e -> new SubmitKeyFound(f.account(), f.key(), Optional.empty(), Optional.of(reason(e))));
    return this;
  }

  private Behavior<Command> onPurgeSubmitKeys(PurgeSubmitKeys p) {
    reply(getContext().getSystem().ignoreRef(), () -> {
      int n = store.purgeSubmitKeys(p.beforeMillis());
      if (n > 0) {
        getContext().getSystem().log().info("forgot {} submit keys past their time", n);
      }
      return n;
    }, e -> 0);
    return this;
  }

  private Behavior<Command> onFindRun(FindRun f) {
    reply(f.replyTo(), () -> new RunFound(f.submitId(), store.jobsOfRun(f.submitId(), f.limit()), Optional.empty()),
        e -> new RunFound(f.submitId(), List.of(), Optional.of(reason(e))));
    return this;
  }

  private Behavior<Command> onLoadStages(LoadStages l) {
    getContext().pipeToSelf(
        CompletableFuture.supplyAsync(() -> l.readiness().isEmpty()
            ? store.findByStage(l.stages(), l.afterId(), l.pageSize())
            : store.findSettling(l.stages(), l.readiness(), l.afterId(), l.pageSize()), blocking),
        (rows, failure) -> new PageRead(l, rows, failure));
    return this;
  }

  private Behavior<Command> onPageRead(PageRead p) {
    if (p.failure() != null) {
      p.request().replyTo().tell(new LoadResult(List.of(), Optional.of(reason(p.failure())), true));
      return this;
    }
    boolean last = p.rows().size() < p.request().pageSize();
    if (!last && !p.request().onePage()) {
      // the next page is read while the caller takes in this one
      onLoadStages(new LoadStages(p.request().stages(), p.request().readiness(), p.rows().get(p.rows().size() - 1).id(),
          false, p.request().pageSize(), p.request().replyTo()));
    }
    p.request().replyTo().tell(new LoadResult(p.rows(), Optional.empty(), last));
    return this;
  }

  private Behavior<Command> onCountQueued(CountQueued c) {
    reply(c.replyTo(), () -> new Counted(store.countByTenant("submit"), Optional.empty()),
        e -> new Counted(java.util.Map.of(), Optional.of(reason(e))));
    return this;
  }

  private Behavior<Command> onLoadTenant(LoadTenant l) {
    reply(l.replyTo(), () -> new TenantJobs(l.tenant(),
        pages(after -> store.findByStageAndTenant("submit", l.tenant(), after, LOAD_PAGE)),
        Optional.empty()), e -> new TenantJobs(l.tenant(), List.of(), Optional.of(reason(e))));
    return this;
  }

  /** Every row of a query read page by page, by id: stores cap what one SELECT returns. */
  private static List<JobRecord> pages(java.util.function.LongFunction<List<JobRecord>> page) {
    List<JobRecord> all = new ArrayList<>();
    long after = Long.MIN_VALUE;
    while (true) {
      List<JobRecord> rows = page.apply(after);
      all.addAll(rows);
      if (rows.size() < LOAD_PAGE) {
        return all;
      }
      after = rows.get(rows.size() - 1).id();
    }
  }

  private Behavior<Command> onPing(Ping p) {
    // commits that cannot be forced go in all the same, and each clears lastError: unwell while
    // their writers wait, whatever the last commit or check said
    p.replyTo().tell(new PingResult(store.kind(), forceFailures >= FORCE_TRIES
        ? Optional.of("commits are in but cannot be forced to disk; their writers wait") : lastError));
    return this;
  }

  private Behavior<Command> onCheckStore(CheckStore c) {
    if (!checking) {
      checking = true;
      // beside the commits, on their connections: with store-sync = second this is the only
      // force, and behind a burst of reads it came late, or failed after the pool's wait and
      // made the health check say the store was away while every commit went in
      getContext().pipeToSelf(CompletableFuture.runAsync(() -> store.committing(() -> {
        store.ping();
        // once a second, what the commits wrote goes to the disk (see JdbcJobStore.embedded)
        store.sync();
        redis.ifPresent(RedisClaims::ping);
        return null;
      }), committer),
          (ok, failure) -> new Checked(Optional.ofNullable(failure).map(PersistenceActor::reason)));
    }
    return this;
  }

  private Behavior<Command> onChecked(Checked c) {
    checking = false;
    if (c.error().isPresent() != lastError.isPresent()) {
      getContext().getLog().warn("store is {}", c.error().map(e -> "unreachable: " + e).orElse("reachable again"));
    }
    lastError = c.error();
    if (c.error().isEmpty() && !retry.isEmpty()) {
      replayKeptSoon();
    }
    if (c.error().isEmpty() && forceWaiting) {
      // the check's own force took: the disk is back, and the waiting writers need not wait for
      // the next try (up to 30 s away)
      forceWaiting = false;
      forceIfNeeded();
    }
    return this;
  }

  /** The kept states to the store: now, or after the commit in flight. */
  private void replayKeptSoon() {
    if (committing) {
      // the commit in flight may carry newer states of the same jobs: after it
      replayAfterCommit = true;
    } else {
      replayAfterCommit = false;
      replayKept();
      commitPending();
    }
  }

  /**
   * Kept writes go ahead of every pending write: they are older than anything sent since, so a
   * newer write of the same job lands after them (in a later commit, or later in the same one,
   * which the store writes as it is last). They used to go behind, and a job's older state
   * landed last (a finished job read "running" again).
   */
  private void replayKept() {
    if (replaying != null) {
      return;
    }
    List<JobRecord> again = new ArrayList<>(Math.min(retry.size(), replayLimit));
    java.util.Iterator<JobRecord> kept = retry.values().iterator();
    while (kept.hasNext() && again.size() < replayLimit) {
      again.add(kept.next());
      kept.remove();
    }
    getContext().getLog().info("writing {} of {} job states kept while the store was away", again.size(),
        again.size() + retry.size());
    replaying = Write.kept(again, null, getContext().getSystem().ignoreRef());
    pending.addFirst(replaying);
  }

  /**
   * A change or a claim reads the job's row in the store: a state of that job still kept (a
   * replay in parts is under way) goes ahead of it in the same commit, as all kept states did
   * before replays came in parts. Otherwise a requeue could read "dispatch" under a kept "boot"
   * and put back in the queue a job its box is running.
   */
  private void keptStatesAhead(List<Command> batch) {
    if (retry.isEmpty()) {
      return;
    }
    List<JobRecord> ahead = new ArrayList<>();
    for (Command cmd : batch) {
      long id = cmd instanceof Modify m ? m.id() : cmd instanceof ClaimJob cj ? cj.claim().id() : Long.MIN_VALUE;
      // not a state the store has refused before: it would fail this commit too, and the row
      // the change reads is what the store keeps anyway
      Strikes struck = strikes.get(id);
      JobRecord kept = struck != null && struck.state().equals(retry.get(id)) ? null : retry.remove(id);
      if (kept != null) {
        ahead.add(kept);
      }
    }
    if (!ahead.isEmpty()) {
      batch.add(0, Write.kept(ahead, null, getContext().getSystem().ignoreRef()));
    }
  }

  /**
   * A replay failed ({@link #keep} has kept its records again): the next one writes half as
   * many. One record that failed alone with the store refusing the data itself is struck; at
   * {@link #STRIKES} it is dropped: the job's row keeps its last written state, and the other
   * jobs' states get written.
   */
  private void replayFailed(Write replay, boolean alone, boolean refused, String error) {
    if (replay.records().size() > 1 || !alone) {
      replayLimit = Math.max(1, Math.min(replayLimit, replay.records().size()) / 2);
      return;
    }
    if (!refused) {
      // away, full or read-only: the state waits, as every kept state does
      return;
    }
    JobRecord state = replay.records().get(0);
    Strikes before = strikes.get(state.id());
    int struck = before != null && before.state().equals(state) ? before.count() + 1 : 1;
    strikes.put(state.id(), new Strikes(state, struck));
    if (struck >= STRIKES && state.equals(retry.get(state.id()))) {
      strikes.remove(state.id());
      retry.remove(state.id());
      refusedStates.remove(state.id());
      refusedStates.put(state.id(), state);
      statesRefused++;
      getContext().getLog().error("job {}: the store refuses its state ({}), written alone {} times: dropped;"
          + " its row keeps the state last written", state.id(), error, struck);
    }
  }

  /**
   * Whether the failure is, or was caused by, {@code kind}: the store refusing the data itself
   * (not only failing to take it now), or refusing a replaced node's commit.
   */
  private static boolean causedBy(Throwable failure, Class<? extends Throwable> kind) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (kind.isInstance(t)) {
        return true;
      }
    }
    return false;
  }

  private void keep(List<Command> failed) {
    keep(failed, retry);
  }

  private void keep(List<Command> failed, java.util.LinkedHashMap<Long, JobRecord> into) {
    for (Command cmd : failed) {
      if (cmd instanceof ReleaseClaims r) {
        // a requeued job's key must go before any new claim of it: with the next batch
        releaseKept.addAll(r.ids());
      }
      if (cmd instanceof Write w && w.keepOnFailure()) {
        keepNewest(w.records(), into);
      }
    }
  }

  /** Each state kept as its job's newest (last in order); past {@link #RETRY_MAX} the eldest go. */
  private void keepNewest(Collection<JobRecord> states, java.util.LinkedHashMap<Long, JobRecord> into) {
    for (JobRecord r : states) {
      into.remove(r.id());
      into.put(r.id(), r);
    }
    while (into.size() > RETRY_MAX) {
      Long oldest = into.keySet().iterator().next();
      getContext().getLog().error("store away too long: the kept state of job {} is dropped", oldest);
      into.remove(oldest);
    }
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private Behavior<Command> onAnswer(Answer a) {
    a.replyTo().tell(a.value());
    return this;
  }

  /** Reads need no ordering with writes beyond what the store gives; they run side by side. */
  private <T> void reply(ActorRef<T> replyTo, java.util.function.Supplier<T> call,
      java.util.function.Function<Throwable, T> onError) {
    getContext().pipeToSelf(CompletableFuture.supplyAsync(call, blocking),
        (value, failure) -> new Answer<>(replyTo, failure == null ? value : onError.apply(failure)));
  }

  private void releaseQuietly(List<Long> ids, RuntimeException cause) {
    if (redis.isEmpty() || ids.isEmpty()) {
      return;
    }
    try {
      redis.get().release(ids);
    } catch (RuntimeException e) {
      // Redis is away too: its keys expire by their TTL; the store's error is the one to report
      cause.addSuppressed(e);
    }
  }

  /** What a store call's failure says, out of the CompletionException it may come wrapped in. */
  static String reason(Throwable t) {
    Throwable cause = t instanceof java.util.concurrent.CompletionException && t.getCause() != null
        ? t.getCause() : t;
    return cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
  }
}
