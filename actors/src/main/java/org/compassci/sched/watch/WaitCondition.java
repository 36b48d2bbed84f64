package org.compassci.sched.watch;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import org.compassci.sched.model.DataReadiness;
import org.compassci.sched.model.InvalidJobException;
import org.compassci.sched.model.JobHealth;
import org.compassci.sched.model.JobStage;

/**
 * What a jobs/wait caller waits for on one job, in the Compass-CI form: {@code null} means
 * "until its data is complete"; an object names a stage (reached when the job's stage is that
 * one or later in stage order), a health, a data readiness, or several of them (all must hold).
 */
public record WaitCondition(JsonNode raw, JobStage stage, JobHealth health, DataReadiness readiness) {

  public enum Verdict { HOLDS, NEVER, NOT_YET }

  /** Throws InvalidJobException with what is wrong, for a 400. */
  public static WaitCondition parse(String id, JsonNode raw) {
    if (raw == null || raw.isNull()) {
      return new WaitCondition(raw, null, null, DataReadiness.COMPLETE);
    }
    if (!raw.isObject() || raw.isEmpty()) {
      throw new InvalidJobException("wait_on." + id + " must be null or an object with job_stage, "
          + "job_health or job_data_readiness");
    }
    JobStage stage = null;
    JobHealth health = null;
    DataReadiness readiness = null;
    for (Iterator<Map.Entry<String, JsonNode>> it = raw.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (!e.getValue().isTextual()) {
        // Compass-CI sends names; a number or an object here is a client's mistake, said as such
        throw new InvalidJobException("wait_on." + id + "." + e.getKey() + ": must be a name in quotes "
            + "(such as \"finish\"), not " + e.getValue());
      }
      String value = e.getValue().asText();
      switch (e.getKey()) {
        case "job_stage" -> stage = known(id, e.getKey(), JobStage.fromName(value), value);
        case "job_health" -> health = known(id, e.getKey(), JobHealth.fromName(value), value);
        case "job_data_readiness" -> readiness = known(id, e.getKey(), DataReadiness.fromName(value), value);
        default -> throw new InvalidJobException("wait_on." + id + ": unknown condition " + e.getKey()
            + " (job_stage, job_health or job_data_readiness)");
      }
    }
    return new WaitCondition(raw, stage, health, readiness);
  }

  private static <T> T known(String id, String key, Optional<T> parsed, String value) {
    return parsed.orElseThrow(() -> new InvalidJobException(
        "wait_on." + id + "." + key + ": unknown value '" + value + "'"));
  }

  /** Judges a job's current state (its JSON view). */
  public Verdict judge(JsonNode state) {
    JobStage now = stageOf(state);
    JobHealth h = JobHealth.fromName(state.path("job_health").asText()).orElse(JobHealth.UNKNOWN);
    DataReadiness r = readinessOf(state);
    boolean holds = (stage == null || now.ordinal() >= stage.ordinal())
        && (health == null || h == health)
        && (readiness == null || r == readiness);
    if (holds) {
      return Verdict.HOLDS;
    }
    // nothing changes a retired job again: what does not hold now never will
    return retired(state) ? Verdict.NEVER : Verdict.NOT_YET;
  }

  /** Finished and its data settled: the job will not change again. */
  public static boolean retired(JsonNode state) {
    return stageOf(state).isFinal() && readinessOf(state).isSettled();
  }

  /** The stage a job's view names (submit when it names none). */
  public static JobStage stageOf(JsonNode state) {
    return JobStage.fromName(state.path("job_stage").asText()).orElse(JobStage.SUBMIT);
  }

  private static DataReadiness readinessOf(JsonNode state) {
    return DataReadiness.fromName(state.path("job_data_readiness").asText()).orElse(DataReadiness.NA);
  }
}
