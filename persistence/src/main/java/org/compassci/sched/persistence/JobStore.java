package org.compassci.sched.persistence;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The durable home of every job. Implementations block: callers run them on a dispatcher of
 * their own, never on an actor's thread.
 */
public interface JobStore extends AutoCloseable {

  /** Which store this is, as named in configuration: embedded, mysql or manticore. */
  String kind();

  /**
   * True when no other process can write this store (the embedded database file is locked by
   * this one): then what is in memory is all there is, and nothing needs reading again.
   */
  default boolean exclusive() {
    return false;
  }

  /** Inserts or replaces every record in one durable step: all of them or none. */
  void upsert(List<JobRecord> records);

  /**
   * Stores new jobs in one durable step, all or none; a job whose id exists already fails the
   * whole step instead of replacing the stored job (two schedulers with one worker id).
   */
  void insert(List<JobRecord> records);

  /**
   * One group commit: {@code inserts} as {@link #insert}, {@code upserts} as {@link #upsert} and
   * {@code claims} as {@link #claim}, all in one durable step where the store has transactions:
   * either everything is stored or nothing is, and a caller answered "not stored" may retry
   * without making a duplicate. Returns what {@link #claim} returns. A store that cannot put
   * claims in the same transaction as writes throws {@link ClaimsFailedException} when the
   * writes were stored but the claims failed.
   */
  List<JobRecord> commit(List<JobRecord> inserts, List<JobRecord> upserts, List<Claim> claims);

  /**
   * {@link #commit(List, List, List)} with the submit keys and run entries of the new jobs in the
   * same durable step: a key is stored if and only if its jobs are (see {@link SubmitKey}).
   */
  default List<JobRecord> commit(List<JobRecord> inserts, List<JobRecord> upserts, List<Claim> claims,
      List<SubmitKey> keys, List<JobRun> runs) {
    if (!keys.isEmpty() || !runs.isEmpty()) {
      throw new UnsupportedOperationException(kind() + " store keeps no submit keys or runs");
    }
    return commit(inserts, upserts, claims);
  }

  /**
   * The submit key {@code key} of {@code account}, if stored and its jobs are there: a key whose
   * jobs are missing (a store that writes keys outside the jobs' transaction, after a crash
   * between the two) is as good as none.
   */
  default Optional<SubmitKey> findSubmitKey(String account, String key) {
    return Optional.empty();
  }

  /** Forgets submit keys made before {@code createdBeforeMillis}; returns how many went. */
  default int purgeSubmitKeys(long createdBeforeMillis) {
    return 0;
  }

  /** The ids of the jobs of one run ({@code submit_id}), in id order, at most {@code limit}. */
  default List<Long> jobsOfRun(String submitId, int limit) {
    return List.of();
  }

  Optional<JobRecord> find(long id);

  /**
   * The highest job id at or above {@code fromId} whose last two digits are {@code workerId} (a
   * job id's worker), if any among the highest {@code limit} ids there.
   */
  java.util.OptionalLong highestIdFrom(long fromId, int workerId, int limit);

  /** The records of those {@code ids} that exist, in no particular order. */
  List<JobRecord> findByIds(Collection<Long> ids);

  /**
   * Hands queued jobs out, in one durable step: each claim moves its job from stage submit to
   * dispatch and sets host, tokenHash and dispatchTimeMillis, but only if the job is still in
   * submit (another scheduler may have taken it). Only those attributes change, never the
   * document. Returns the records, as now stored, of the claims that succeeded.
   */
  List<JobRecord> claim(List<Claim> claims);

  /**
   * Cluster mode: a new matcher incarnation. Increases the {@code matcher_epoch} row in one
   * transaction and returns it; from its commit on, claims made with an older epoch are
   * refused. Only stores shared by several processes over transactions (MySQL) have it.
   */
  default MatcherEpoch nextEpoch(String node, long nowMillis) {
    return nextEpoch(node, nowMillis, epochTicket(), System.nanoTime() + java.util.concurrent.TimeUnit.DAYS.toNanos(1));
  }

  /**
   * The same, for a matcher that asked with {@code ticket} (from {@link #epochTicket}, taken in
   * the order the matchers asked) and stops waiting at {@code takeByNanos} ({@link System#nanoTime}):
   * refused when a newer ticket of this process has asked since, and when the row is locked only
   * after that time. A matcher that stopped (replaced) after either never takes the epoch from
   * its successor late.
   */
  default MatcherEpoch nextEpoch(String node, long nowMillis, long ticket, long takeByNanos) {
    throw new UnsupportedOperationException("the " + kind() + " store has no matcher epoch");
  }

  /** The next ticket for {@link #nextEpoch(String, long, long, long)}, in the order asked. */
  default long epochTicket() {
    return 0;
  }

  /** The current {@code matcher_epoch} row; empty when no cluster matcher has started yet. */
  default java.util.Optional<MatcherEpoch> currentEpoch() {
    return java.util.Optional.empty();
  }

  /** Whether this process's matcher took {@code epoch} ({@link #nextEpoch}). */
  default boolean tookEpoch(long epoch) {
    return false;
  }

  /** Hand-outs refused so far because their matcher's epoch was no longer current. */
  default long fencedClaims() {
    return 0;
  }

  /** Jobs whose stage is one of {@code stages}, ordered by id, ids above {@code afterId}. */
  List<JobRecord> findByStage(Collection<String> stages, long afterId, int limit);

  /**
   * The jobs that ended but whose data has not settled, ordered by id, ids above {@code
   * afterId}: those whose stage is one of {@code stages} (ended ones) and whose data readiness
   * is one of {@code readiness} (values of data still on its way: N/A, uploading, uploaded). A
   * restart takes up their deadline and their extraction again. Stores keep such jobs where
   * this is a short read, not a walk of every ended job, and may look only there: a settled
   * readiness asked for finds nothing, or not everything.
   */
  List<JobRecord> findSettling(Collection<String> stages, Collection<String> readiness, long afterId,
      int limit);

  /**
   * Jobs of one tenant in one stage, ordered by id, ids above {@code afterId}: how one tenant's
   * queue is read back page by page. Tenants compare by exact text ("Alice" is not "alice").
   */
  List<JobRecord> findByStageAndTenant(String stage, String tenant, long afterId, int limit);

  /** How many jobs each tenant has in {@code stage}; tenants with none are absent. */
  Map<String, Long> countByTenant(String stage);

  /** Throws {@link StoreUnavailableException} when the store cannot be reached. */
  void ping();

  /**
   * Forces what is committed onto the disk, where the store leaves that to the operating
   * system (the embedded one); called about once a second. A database server does its own.
   */
  default void sync() {}

  /**
   * Whether a commit must be on the disk before its writers are answered, where the store would
   * otherwise leave it to the operating system (the embedded one, {@code store-sync = commit}).
   * Such a store forces each commit itself, unless the commit runs inside {@link #unforced}:
   * its caller then answers after a {@link #sync} that began once the commit was in.
   */
  default boolean forcesEachCommit() {
    return false;
  }

  /**
   * Runs {@code work} with the commits it makes on this thread left unforced: the caller forces
   * them by {@link #sync}, once for several commits and while the next one is written.
   */
  default <T> T unforced(java.util.function.Supplier<T> work) {
    return work.get();
  }

  /**
   * Runs {@code work} (the persistence actor's group commit, or its force) on this thread with
   * connections kept for it alone: a commit, and so every hand-out, submit and state change,
   * never waits for a connection behind reads. A store with one set of connections just runs it.
   */
  default <T> T committing(java.util.function.Supplier<T> work) {
    return work.get();
  }

  @Override
  void close();
}
