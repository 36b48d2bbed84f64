package org.compassci.sched.match;

import java.util.TreeSet;

/** One tenant's jobs in one group, best first; the first is the tenant's candidate there. */
final class Lane {

  final JobGroup group;
  final TreeSet<QueuedJob> jobs = new TreeSet<>(QueuedJob.ORDER);
  /**
   * The first of {@link #jobs}, kept apart: every box that asks reads the head of each lane it
   * fits, and a walk down the tree each time was a good part of a take.
   */
  private QueuedJob head;
  /**
   * The head's priority and id, copied here: a walk compares the heads of a tenant's lanes, and
   * reading them from the lanes it has just read saves a load of each head from elsewhere.
   */
  private int headPriority;
  private long headId;

  Lane(JobGroup group) {
    this.group = group;
  }

  QueuedJob head() {
    return head;
  }

  /** Whether this lane's head comes before that of {@code other} ({@link QueuedJob#ORDER}). */
  boolean headBefore(Lane other) {
    return headPriority != other.headPriority ? headPriority > other.headPriority
        : headId < other.headId;
  }

  void add(QueuedJob job) {
    if (jobs.add(job) && (head == null || QueuedJob.ORDER.compare(job, head) < 0)) {
      setHead(job);
    }
  }

  boolean remove(QueuedJob job) {
    if (head != null && QueuedJob.ORDER.compare(job, head) == 0) {
      jobs.pollFirst();
      setHead(jobs.isEmpty() ? null : jobs.first());
      return true;
    }
    return jobs.remove(job);
  }

  private void setHead(QueuedJob job) {
    head = job;
    if (job != null) {
      headPriority = job.priority;
      headId = job.id;
    }
  }

  boolean isEmpty() {
    return head == null;
  }
}
