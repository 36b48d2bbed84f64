package org.compassci.sched.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A job as the scheduler answers it: the whole document (credentials never included), with
 * shortcuts for the fields tests ask about most.
 *
 * @param json the job's JSON, as {@code GET /scheduler/v1/jobs/{id}} answers it
 */
public record JobView(ObjectNode json) {

  /** The job id. */
  public long id() {
    return Long.parseLong(json.path("id").asText("0"));
  }

  /** {@code submit}, {@code dispatch}, ..., {@code finish}, {@code cancel}, ... */
  public String stage() {
    return field("job_stage");
  }

  /** {@code unknown}, {@code success}, {@code fail}, {@code timeout_running}, ... */
  public String health() {
    return field("job_health");
  }

  /** {@code N/A}, {@code uploaded}, {@code complete}, {@code incomplete}, {@code norun}. */
  public String readiness() {
    return field("job_data_readiness");
  }

  /** The testbox the job was handed to, or "" while it is queued. */
  public String hostMachine() {
    return field("host_machine");
  }

  /** A field as text, "" when the job has no such field. */
  public String field(String name) {
    JsonNode v = json.get(name);
    return v == null || v.isNull() ? "" : v.asText();
  }

  @Override
  public String toString() {
    return json.toString();
  }
}
