package org.compassci.sched.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.compassci.sched.model.JobUpdate.Mode;
import org.compassci.sched.model.JobUpdate.Param;
import org.junit.jupiter.api.Test;

class JobUpdateTest {

  private final Instant now = Instant.parse("2026-01-01T00:00:00Z");

  private Job dispatched() {
    Job job = Job.submitted(JobIntake.prepare(Json.parse("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\"}")),
        42, now, "/result");
    job.handOut("h1", "tok", now);
    return job;
  }

  private static List<Param> params(String... kv) {
    List<Param> out = new ArrayList<>();
    for (int i = 0; i < kv.length; i += 2) {
      out.add(new Param(kv[i], kv[i + 1]));
    }
    return out;
  }

  @Test
  void theValueNameDecidesTheField() {
    Job job = dispatched();
    assertFalse(JobUpdate.apply(job, params("job_state", "Running"), Mode.STRICT, now).refused());
    assertEquals(JobStage.RUNNING, job.stage());
    assertEquals(now.toString(), job.field("running_time"));
    JobUpdate.apply(job, params("job_stage", "uploading"), Mode.STRICT, now);
    assertEquals(DataReadiness.UPLOADING, job.readiness());
    JobUpdate.apply(job, params("job_state", "finished"), Mode.STRICT, now);
    assertEquals(JobHealth.SUCCESS, job.health());
    assertEquals(JobStage.RUNNING, job.stage(), "success does not end the job");
  }

  @Test
  void stagesOnlyGoForward() {
    Job job = dispatched();
    JobUpdate.apply(job, params("job_stage", "running"), Mode.STRICT, now);
    JobUpdate.Result back = JobUpdate.apply(job, params("job_stage", "boot"), Mode.STRICT, now);
    assertEquals(Outcome.Status.CONFLICT, back.refusal());
    assertEquals(JobStage.RUNNING, job.stage());
    assertFalse(JobUpdate.apply(job, params("job_stage", "running"), Mode.STRICT, now).refused(),
        "repeating the current stage is harmless");
    assertEquals(Outcome.Status.CONFLICT,
        JobUpdate.apply(job, params("job_stage", "cancel"), Mode.STRICT, now).refusal());
  }

  /**
   * Settled data does not go back: a running job whose statistics are in (extracted again after a
   * restart) is not opened to uploads by a late "uploading", and its statistics are not dropped.
   * Refused 409 on the strict route, recorded and ignored on the legacy one.
   */
  @Test
  void settledDataDoesNotGoBack() {
    Job job = dispatched();
    JobUpdate.apply(job, params("job_stage", "running"), Mode.STRICT, now);
    job.setReadiness(org.compassci.sched.model.DataReadiness.COMPLETE);
    String before = Json.write(job.view());
    assertEquals(Outcome.Status.CONFLICT,
        JobUpdate.apply(job, params("job_data_readiness", "uploading"), Mode.STRICT, now).refusal());
    assertEquals(before, Json.write(job.view()));
    assertFalse(JobUpdate.apply(job, params("job_data_readiness", "uploading", "job_stage", "post_run"),
        Mode.LEGACY, now).refused());
    assertEquals(org.compassci.sched.model.DataReadiness.COMPLETE, job.readiness());
    assertEquals(JobStage.POST_RUN, job.stage(), "the rest of the call is taken");
    assertTrue(job.view().path("last_refused_update").asText().contains("complete"), job.view().toString());
    assertFalse(JobUpdate.apply(job, params("job_data_readiness", "complete"), Mode.STRICT, now).refused(),
        "repeating it is harmless");
  }

  @Test
  void aBadHealthEndsAnUnfinishedJob() {
    Job job = dispatched();
    JobUpdate.apply(job, params("job_state", "OOM"), Mode.STRICT, now);
    assertEquals(JobHealth.OOM, job.health());
    assertEquals(JobStage.FINISH, job.stage());
  }

  @Test
  void aFinishedAndCompleteJobIsLocked() {
    Job job = dispatched();
    JobUpdate.apply(job, params("job_stage", "finish", "job_data_readiness", "complete"), Mode.STRICT, now);
    assertTrue(job.isRetired());
    assertEquals(Outcome.Status.LOCKED,
        JobUpdate.apply(job, params("job_stage", "running"), Mode.STRICT, now).refusal());
  }

  @Test
  void strictRefusesUnknownValuesAndChangesNothing() {
    Job job = dispatched();
    String before = Json.write(job.view());
    JobUpdate.Result r = JobUpdate.apply(job, params("loadavg", "1", "job_stage", "flying"), Mode.STRICT, now);
    assertEquals(Outcome.Status.INVALID, r.refusal());
    assertEquals(before, Json.write(job.view()));
    assertEquals(Outcome.Status.INVALID,
        JobUpdate.apply(job, params("result_root", "/etc"), Mode.STRICT, now).refusal());
    // where tokenless uploads may come from is the scheduler's to say
    assertEquals(Outcome.Status.INVALID,
        JobUpdate.apply(job, params(Job.BOX_ADDRESS, "10.6.6.6"), Mode.STRICT, now).refusal());
    JobUpdate.apply(job, params(Job.BOX_ADDRESS, "10.6.6.6"), Mode.LEGACY, now);
    assertTrue(job.boxAddress().isEmpty(), "nor by a legacy call");
    assertEquals(Outcome.Status.INVALID,
        JobUpdate.apply(job, params("renew_seconds", "soon"), Mode.STRICT, now).refusal());
  }

  @Test
  void legacyRecordsUnknownValuesAndKeepsFields() {
    Job job = dispatched();
    JobUpdate.Result r = JobUpdate.apply(job, params("job_file", "/lkp/x.yaml", "job_id", "42",
        "job_state", "kexec_fail", "loadavg", "0.28 0.82", "start_time", "1587725398"), Mode.LEGACY, now);
    assertFalse(r.refused());
    assertEquals("kexec_fail", job.field("last_reported_state"));
    assertEquals("0.28 0.82", job.field("loadavg"));
    assertEquals("1587725398", job.field("start_time"));
    assertEquals("", job.field("job_file"));
  }

  /**
   * A job's package (job.sh) is made from what it was submitted with, when its box downloads it:
   * a legacy call (no token) adds nothing to it and, until the job runs, changes nothing of what
   * was submitted. Before, anyone who knew the id of a job on its way to a box could set what its
   * job.sh exports (http_proxy, PERL5OPT, ...).
   */
  @Test
  void legacyCallsDoNotReachTheJobsPackage() {
    Job job = Job.submitted(JobIntake.prepare(Json.parse(
        "{\"suite\":\"s\",\"testbox\":\"vm-2p8g\",\"nr_threads\":\"4\"}")), 42, now, "/result");
    job.handOut("h1", "tok", now);
    assertFalse(JobUpdate.apply(job, params("job_id", "42", "http_proxy", "http://evil.example:3128",
        "nr_threads", "1"), Mode.LEGACY, now).refused());
    assertEquals("4", job.field("nr_threads"), "what was submitted stays");
    assertTrue(job.field("last_refused_update").contains("nr_threads"), job.field("last_refused_update"));
    assertEquals("http://evil.example:3128", job.field("http_proxy"), "recorded, as reports are");
    assertFalse(job.packageDoc().has("http_proxy"), "but no part of what the box runs");
    assertEquals("4", job.packageDoc().path("nr_threads").asText());
    assertFalse(job.view().has("_added_names"), "the list is not shown");
    // the same once booting; its own reports, once added, it may update again
    job.setStage(JobStage.BOOT, now);
    assertFalse(JobUpdate.apply(job, params("nr_threads", "2", "http_proxy", "other"), Mode.LEGACY, now).refused());
    assertEquals("4", job.field("nr_threads"));
    assertEquals("other", job.field("http_proxy"));
    // kept through a store round trip
    Job back = Job.fromRecord(job.toRecord());
    assertFalse(back.packageDoc().has("http_proxy"));
    // running, the box's reports update what it has, as before
    assertFalse(JobUpdate.apply(back, params("job_state", "running"), Mode.LEGACY, now).refused());
    assertFalse(JobUpdate.apply(back, params("nr_threads", "8"), Mode.LEGACY, now).refused());
    assertEquals("8", back.field("nr_threads"));
    assertEquals("4", back.packageDoc().path("nr_threads").asText(), "its package is what it was submitted with");
    assertFalse(back.view().has("_submitted_values"), "the kept values are not shown");
    // with a token (anyone's who asked jobs/dispatch) the same: refused whole before it runs
    Job strict = dispatched();
    assertEquals(Outcome.Status.INVALID, JobUpdate.apply(strict, params("suite", "other", "note", "x"),
        Mode.STRICT, now).refusal());
    assertEquals("s", strict.field("suite"));
    assertFalse(JobUpdate.apply(strict, params("kernel_uri", "http://evil.example/vmlinuz"), Mode.STRICT, now)
        .refused());
    assertFalse(strict.packageDoc().has("kernel_uri"), "added by an update all the same");
    // back in the queue, the job is the next box's as it was submitted
    strict.returnToQueue();
    assertFalse(strict.has("kernel_uri"), strict.view().toString());
    strict.handOut("h2", "tok2", now);
    assertFalse(strict.view().has("kernel_uri"));
  }

  /**
   * A legacy call that moves the job to running before its box has its package is past the rule
   * that nothing it was submitted with changes before it runs: what a second call then overwrites
   * is recorded, but the package is made from what the job was submitted with.
   */
  @Test
  void movedToRunningFirstAnOverwriteStillDoesNotReachThePackage() {
    Job job = Job.submitted(JobIntake.prepare(Json.parse("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\","
        + "\"http_proxy\":\"http://proxy.lab:3128\",\"program\":{\"p\":{\"n\":1}}}")), 43, now, "/result");
    job.handOut("h1", "tok", now);
    assertFalse(JobUpdate.apply(job, params("job_id", "43", "job_stage", "running"), Mode.LEGACY, now).refused());
    assertFalse(JobUpdate.apply(job, params("job_id", "43", "http_proxy", "http://evil.example:3128",
        "program", "evil"), Mode.LEGACY, now).refused());
    assertFalse(JobUpdate.apply(job, params("http_proxy", "http://evil2.example"), Mode.LEGACY, now).refused());
    assertEquals("http://evil2.example", job.field("http_proxy"), "recorded, as reports are");
    for (Job j : List.of(job, Job.fromRecord(job.toRecord()))) {
      assertEquals("http://proxy.lab:3128", j.packageDoc().path("http_proxy").asText());
      assertEquals(1, j.packageDoc().path("program").path("p").path("n").asInt());
    }
  }

  /** A renew without a token (lkp-renew, set-job-stage's timeout) counts only once the job runs. */
  @Test
  void aTokenlessRenewWaitsUntilTheJobRuns() {
    Job job = dispatched();
    assertFalse(JobUpdate.apply(job, params("renew_seconds", "2592000"), Mode.LEGACY, now).refused());
    assertEquals("", job.field("renew_deadline"), "a lost hand-out still goes back at its dispatch-ack");
    assertFalse(job.packageDoc().has("last_refused_update"));
    assertFalse(JobUpdate.apply(job, params("job_stage", "running", "timeout", "7200"), Mode.LEGACY, now).refused());
    assertEquals(now.plusSeconds(7200).toString(), job.field("renew_deadline"), "renewed with the stage it runs in");
  }

  @Test
  void terminalAlternativesSetHealthAndNorun() {
    Job job = dispatched();
    JobUpdate.apply(job, params("job_stage", "abort_wait"), Mode.STRICT, now);
    assertEquals(JobStage.ABORT_WAIT, job.stage());
    assertEquals(JobHealth.ABORT_WAIT, job.health());
    assertEquals(DataReadiness.NORUN, job.readiness());
    assertTrue(job.isRetired());
  }

  /**
   * A readiness sent with a stage of cancel or later does not undo its norun: such a stage has no
   * deadline, and the job stayed in memory for good with "uploading".
   */
  @Test
  void aReadinessSentWithATerminalAlternativeLeavesItNorun() {
    Job job = dispatched();
    JobUpdate.apply(job, params("job_stage", "abort_wait", "job_data_readiness", "uploading"), Mode.STRICT, now);
    assertEquals(JobStage.ABORT_WAIT, job.stage());
    assertEquals(DataReadiness.NORUN, job.readiness());
    assertTrue(job.isRetired());
    // finish takes the readiness that comes with it
    Job finished = dispatched();
    JobUpdate.apply(finished, params("job_stage", "finish", "job_data_readiness", "uploaded"), Mode.STRICT, now);
    assertEquals(DataReadiness.UPLOADED, finished.readiness());
  }

  @Test
  void renewIsCappedAtThirtyDays() {
    Job job = dispatched();
    JobUpdate.apply(job, params("renew_seconds", "999999999"), Mode.STRICT, now);
    assertEquals(now.plus(JobUpdate.MAX_RENEW).toString(), job.field("renew_deadline"));
  }
  /**
   * Updates add at most MAX_RECORDED_NAMES names to a job over its life: the legacy calls are
   * open to anyone who knows a job's id, and calls with new names grew a job without end. Past
   * the bound a legacy call still moves the stage and updates the names the job has, and says
   * what it left out; a strict update is refused whole. What the job was submitted with does not
   * count, and the count is not shown.
   */
  @Test
  void updatesAddAtMostTheBoundOfNewNames() {
    Job job = dispatched();
    for (int n = 0; n < JobUpdate.MAX_RECORDED_NAMES; n++) {
      assertFalse(JobUpdate.apply(job, params("f" + n, "v"), Mode.LEGACY, now).refused());
    }
    assertTrue(job.has("f0") && job.has("f" + (JobUpdate.MAX_RECORDED_NAMES - 1)));
    assertFalse(job.view().has("_recorded_names"), "the count is not shown");

    JobUpdate.Result strict = JobUpdate.apply(job, params("job_stage", "running", "more", "v"), Mode.STRICT, now);
    assertTrue(strict.refused());
    assertEquals(JobStage.DISPATCH, job.stage(), "refused whole");

    assertFalse(JobUpdate.apply(job, params("job_state", "running", "more", "v", "f0", "w"), Mode.LEGACY, now)
        .refused());
    assertEquals(JobStage.RUNNING, job.stage());
    assertEquals("w", job.field("f0"), "a name it has is updated");
    assertFalse(job.has("more"));
    assertTrue(job.field("last_refused_update").contains("1 new ones not recorded"), job.field("last_refused_update"));
    for (int k = 0; k < 100; k++) {
      JobUpdate.apply(job, params("again" + k, "v"), Mode.LEGACY, now);
    }
    assertFalse(job.has("again0") || job.has("again99"), "no growth past the bound");

    // the count is kept with the job, as stored and read back
    Job back = Job.fromRecord(job.toRecord());
    JobUpdate.apply(back, params("after_restart", "v"), Mode.LEGACY, now);
    assertFalse(back.has("after_restart"));

    // a job submitted with many fields still takes its reports
    com.fasterxml.jackson.databind.node.ObjectNode big = Json.object().put("suite", "s").put("testbox", "vm-2p8g");
    for (int n = 0; n < 9_990; n++) {
      big.put("k" + n, "v");
    }
    Job large = Job.submitted(JobIntake.prepare(big), 43, now, "/result");
    large.handOut("h1", "tok", now);
    assertFalse(JobUpdate.apply(large, params("job_step", "smoke", "loadavg", "0.1"), Mode.LEGACY, now).refused());
    assertEquals("smoke", large.field("job_step"));
  }
}
