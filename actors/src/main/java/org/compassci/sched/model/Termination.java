package org.compassci.sched.model;

import java.time.Instant;
import java.util.Optional;

/**
 * {@code POST jobs/{id}/terminate}: an operator ends a job wherever it is. The job ends in stage
 * finish with health terminate, and it is over: its data is settled (norun for a job that never
 * left the queue, incomplete for one that did), so that it retires and takes no more reports
 * from a box that goes on running it.
 */
public final class Termination {

  private Termination() {}

  /** Why {@code job} cannot be terminated, if it cannot: it has ended already. */
  public static Optional<String> refusal(Job job) {
    if (job.stage().isFinal() || job.isRetired()) {
      return Optional.of("job " + job.id() + " has already ended (" + job.stage().wireName()
          + ", health " + job.health().wireName() + ")");
    }
    return Optional.empty();
  }

  /** Ends {@code job}; call only when {@link #refusal} is empty. */
  public static void apply(Job job, Instant now) {
    boolean queued = job.stage() == JobStage.SUBMIT;
    job.setHealth(JobHealth.TERMINATE);
    job.setStage(JobStage.FINISH, now);
    if (!job.readiness().isSettled() && job.readiness() != DataReadiness.UPLOADED) {
      // uploaded: its statistics are being extracted and settle the data when they are in
      job.setReadiness(queued ? DataReadiness.NORUN : DataReadiness.INCOMPLETE);
    }
  }
}
