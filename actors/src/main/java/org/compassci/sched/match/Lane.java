package org.compassci.sched.match;

import java.util.TreeSet;

/** One tenant's jobs in one group, best first; the first is the tenant's candidate there. */
final class Lane {

  final JobGroup group;
  final TreeSet<QueuedJob> jobs = new TreeSet<>(QueuedJob.ORDER);

  Lane(JobGroup group) {
    this.group = group;
  }

  QueuedJob head() {
    return jobs.first();
  }
}
