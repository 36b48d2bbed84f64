package org.compassci.sched.match;

import java.util.Iterator;
import java.util.Optional;
import java.util.TreeMap;
import org.compassci.sched.model.Job;
import org.compassci.sched.model.Testbox;

/**
 * The queued jobs, in submit order (ids grow with submit time, so id order is submit order and
 * a job put back returns to its old place). The first job that fits a testbox is taken.
 */
public final class JobQueue {

  private final TreeMap<Long, Job> jobs = new TreeMap<>();

  public void add(Job job) {
    jobs.put(job.id(), job);
  }

  public Optional<Job> remove(long id) {
    return Optional.ofNullable(jobs.remove(id));
  }

  public boolean contains(long id) {
    return jobs.containsKey(id);
  }

  public int size() {
    return jobs.size();
  }

  /** Removes and returns the oldest job that fits {@code box}. */
  public Optional<Job> takeFirstFit(Testbox box) {
    for (Iterator<Job> it = jobs.values().iterator(); it.hasNext(); ) {
      Job job = it.next();
      if (job.requirements().fits(box)) {
        it.remove();
        return Optional.of(job);
      }
    }
    return Optional.empty();
  }
}
