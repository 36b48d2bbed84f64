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

  Optional<JobRecord> find(long id);

  /** The records of those {@code ids} that exist, in no particular order. */
  List<JobRecord> findByIds(Collection<Long> ids);

  /**
   * Hands queued jobs out, in one durable step: each claim moves its job from stage submit to
   * dispatch and sets host, tokenHash and dispatchTimeMillis, but only if the job is still in
   * submit (another scheduler may have taken it). Only those attributes change, never the
   * document. Returns the records, as now stored, of the claims that succeeded.
   */
  List<JobRecord> claim(List<Claim> claims);

  /** Jobs whose stage is one of {@code stages}, ordered by id, ids above {@code afterId}. */
  List<JobRecord> findByStage(Collection<String> stages, long afterId, int limit);

  /**
   * Jobs of one tenant in one stage, ordered by id, ids above {@code afterId}: how one tenant's
   * queue is read back page by page. Tenants compare by exact text ("Alice" is not "alice").
   */
  List<JobRecord> findByStageAndTenant(String stage, String tenant, long afterId, int limit);

  /** How many jobs each tenant has in {@code stage}; tenants with none are absent. */
  Map<String, Long> countByTenant(String stage);

  /** Throws {@link StoreUnavailableException} when the store cannot be reached. */
  void ping();

  @Override
  void close();
}
