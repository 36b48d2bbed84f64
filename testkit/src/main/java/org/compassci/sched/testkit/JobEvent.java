package org.compassci.sched.testkit;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.function.Function;
import org.apache.pekko.actor.testkit.typed.FishingOutcome;
import org.apache.pekko.actor.testkit.typed.javadsl.FishingOutcomes;

/**
 * What a probe from {@link SchedulerTestKit#events} receives about a job: first its whole state,
 * then one {@link Changed} per change, and {@link Closed} when the job retires. These are the
 * watch actor's own messages, the ones the event stream ({@code /scheduler/v1/jobs/{id}/events})
 * is made of, so a probe sees what a watcher would.
 */
public sealed interface JobEvent {

  /** The job this event is about. */
  long jobId();

  /**
   * The job changed (or, as the first event, this is where it stands).
   *
   * @param jobId the job
   * @param fields {@code job_id} and the fields that changed (all of them, the first time)
   * @param state the whole job after the change, credentials already removed
   */
  record Changed(long jobId, ObjectNode fields, ObjectNode state) implements JobEvent {

    /** The job's stage after the change. */
    public String stage() {
      return state.path("job_stage").asText();
    }

    /** The job's health after the change. */
    public String health() {
      return state.path("job_health").asText();
    }

    /** The job's data readiness after the change. */
    public String readiness() {
      return state.path("job_data_readiness").asText();
    }

    /** True when this change set {@code field}. */
    public boolean changed(String field) {
      return fields.has(field);
    }

    /** The whole job after the change. */
    public JobView job() {
      return new JobView(state);
    }
  }

  /**
   * No more events for this job: it retired (stage finish or later, data settled), or, with
   * {@code error} set, it does not exist.
   *
   * @param jobId the job
   * @param error null when the job retired; why otherwise
   */
  record Closed(long jobId, String error) implements JobEvent {}

  /**
   * For {@code probe.fishForMessage(timeout, JobEvent.untilStage("running"))}: skips events until
   * the job is in {@code stage}, and fails if the job closes first.
   */
  static Function<JobEvent, FishingOutcome> untilStage(String stage) {
    return e -> {
      if (e instanceof Changed c && c.stage().equals(stage)) {
        return FishingOutcomes.complete();
      }
      if (e instanceof Closed c) {
        return FishingOutcomes.fail("job " + c.jobId() + " closed before reaching " + stage
            + (c.error() == null ? "" : ": " + c.error()));
      }
      return FishingOutcomes.continueAndIgnore();
    };
  }

  /**
   * For {@code fishForMessage}: skips events until the job retires, and fails if it is closed with
   * an error instead (it does not exist: a test that watched a wrong id must not pass).
   */
  static Function<JobEvent, FishingOutcome> untilClosed() {
    return e -> {
      if (e instanceof Closed c) {
        return c.error() == null ? FishingOutcomes.complete()
            : FishingOutcomes.fail("job " + c.jobId() + " closed with an error: " + c.error());
      }
      return FishingOutcomes.continueAndIgnore();
    };
  }
}
