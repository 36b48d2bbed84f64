package org.compassci.sched.match;

import java.util.Comparator;

/**
 * What the matcher keeps of a queued job: enough to match and order it, nothing of its
 * document (that stays in the store until the job is handed out). About 100 bytes a job.
 */
public final class QueuedJob {

  /** Inside one tenant: higher priority first, then submit order (ids grow with submit time). */
  static final Comparator<QueuedJob> ORDER = (a, b) -> a.priority != b.priority
      ? Integer.compare(b.priority, a.priority) : Long.compare(a.id, b.id);

  final long id;
  final int priority;
  final JobGroup group;
  final TenantQueue tenant;
  final String account;
  final String tboxGroup;
  final String queue;
  /** The pending counts this job is counted in, looked up when it is first queued. */
  MatchQueue.Tally tally;

  QueuedJob(long id, int priority, JobGroup group, TenantQueue tenant, String account,
      String tboxGroup, String queue) {
    this.id = id;
    this.priority = priority;
    this.group = group;
    this.tenant = tenant;
    this.account = account;
    this.tboxGroup = tboxGroup;
    this.queue = queue;
  }

  public long id() {
    return id;
  }

  public int priority() {
    return priority;
  }

  public JobGroup group() {
    return group;
  }

  public TenantQueue tenant() {
    return tenant;
  }

  public String account() {
    return account;
  }

  public String tboxGroup() {
    return tboxGroup;
  }

  public String queue() {
    return queue;
  }

  public String arch() {
    return group.arch();
  }
}
