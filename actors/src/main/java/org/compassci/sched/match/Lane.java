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

  Lane(JobGroup group) {
    this.group = group;
  }

  QueuedJob head() {
    return head;
  }

  void add(QueuedJob job) {
    if (jobs.add(job) && (head == null || QueuedJob.ORDER.compare(job, head) < 0)) {
      head = job;
    }
  }

  boolean remove(QueuedJob job) {
    if (head != null && QueuedJob.ORDER.compare(job, head) == 0) {
      jobs.pollFirst();
      head = jobs.isEmpty() ? null : jobs.first();
      return true;
    }
    return jobs.remove(job);
  }

  boolean isEmpty() {
    return head == null;
  }
}
