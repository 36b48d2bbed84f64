package org.compassci.sched.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class TimeoutsTest {

  private final Instant t0 = Instant.parse("2026-01-01T00:00:00Z");
  private final Timeouts defaults = Timeouts.defaults();

  private Job job(String json, JobStage stage) {
    Job job = Job.submitted(JobIntake.prepare(Json.parse(json)), 1, t0, "/result");
    job.handOut("h1", "tok", t0);
    if (stage != JobStage.DISPATCH) {
      job.setStage(stage, t0);
    }
    return job;
  }

  @Test
  void aHandOutIsLostAfterTheDispatchAckTimeout() {
    Timeouts.Deadline d = defaults.deadline(job("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}", JobStage.DISPATCH), t0).orElseThrow();
    assertEquals(t0.plusSeconds(600), d.at());
    assertEquals(Timeouts.Kind.LOST_HAND_OUT, d.kind());
  }

  @Test
  void aLostHandOutIsRequeuedUntilRequeueMaxThenAborted() {
    Job job = job("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}", JobStage.DISPATCH);
    Instant late = t0.plusSeconds(601);
    assertEquals(Timeouts.Expiry.NOT_DUE, defaults.expire(job, t0.plusSeconds(599)));
    assertEquals(JobStage.DISPATCH, job.stage());
    for (int i = 0; i < defaults.requeueMax(); i++) {
      assertEquals(Timeouts.Expiry.REQUEUE, defaults.expire(job, late));
      job.requeue("lost");
      assertEquals(i + 1, job.requeueCount());
      job.handOut("h1", "tok", t0);
    }
    assertEquals(Timeouts.Expiry.ENDED, defaults.expire(job, late));
    assertEquals(JobStage.ABORT_PROVIDER, job.stage());
    assertEquals(JobHealth.ABORT_PROVIDER, job.health());
    assertEquals(DataReadiness.NORUN, job.readiness());
  }

  @Test
  void anyOtherStageEndsInFinishWithItsTimeoutHealth() {
    Job job = job("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}", JobStage.RUNNING);
    assertEquals(Timeouts.Expiry.ENDED, defaults.expire(job, t0.plusSeconds(3601)));
    assertEquals(JobStage.FINISH, job.stage());
    assertEquals("timeout_running", job.health().wireName());
    assertEquals(DataReadiness.INCOMPLETE, job.readiness());
    Job done = job("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}", JobStage.FINISH);
    done.setReadiness(DataReadiness.COMPLETE);
    assertEquals(Timeouts.Expiry.NOT_DUE, defaults.expire(done, t0.plusSeconds(999_999)), "no deadline");
  }

  @Test
  void aCorruptRequeueCountReadsAsNone() {
    Job job = job("{\"suite\":\"s\",\"testbox\":\"dc-8g\",\"requeue_count\":\"x\"}", JobStage.DISPATCH);
    assertEquals(0, job.requeueCount());
  }

  @Test
  void extractionSettlesUploadedDataOnceCompleteOrIncomplete() {
    Job ok = job("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}", JobStage.FINISH);
    assertTrue(!ok.settleData(Json.object().put("a", 1), null), "not uploaded yet");
    ok.setReadiness(DataReadiness.UPLOADED);
    assertTrue(ok.settleData(Json.object().put("a", 1), null));
    assertEquals(DataReadiness.COMPLETE, ok.readiness());
    assertEquals(1, ok.view().path("stats").path("a").asInt());
    assertTrue(!ok.settleData(Json.object(), "late"), "settled once");
    Job bad = job("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}", JobStage.FINISH);
    bad.setReadiness(DataReadiness.UPLOADED);
    assertTrue(bad.settleData(null, "no stats file"));
    assertEquals(DataReadiness.INCOMPLETE, bad.readiness());
    assertEquals("no stats file", bad.field("extract_error"));
  }

  @Test
  void onlyTheBoxHoldingTheJobMayNameItselfInAnUpdate() {
    Job job = job("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}", JobStage.RUNNING);
    assertTrue(JobUpdate.checkSender(job, List.of(new JobUpdate.Param("job_token", "tok"),
        new JobUpdate.Param("hostname", "h1"))).isEmpty());
    assertTrue(JobUpdate.checkSender(job, List.of(new JobUpdate.Param("job_stage", "boot"))).isEmpty(),
        "an update that names no sender is not checked here");
    assertTrue(JobUpdate.checkSender(job, List.of(new JobUpdate.Param("job_token", "old"))).isPresent());
    assertTrue(JobUpdate.checkSender(job, List.of(new JobUpdate.Param("hostname", "h2"))).isPresent());
  }

  @Test
  void bootDependsOnTheKindOfTestbox() {
    assertEquals(t0.plusSeconds(1200), defaults.deadline(job("{\"suite\":\"s\",\"testbox\":\"taishan\"}", JobStage.BOOT), t0).orElseThrow().at());
    assertEquals(t0.plusSeconds(600), defaults.deadline(job("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\"}", JobStage.BOOT), t0).orElseThrow().at());
    assertEquals(t0.plusSeconds(180), defaults.deadline(job("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}", JobStage.BOOT), t0).orElseThrow().at());
  }

  @Test
  void runningUsesTimeoutThenTheRuntimeFormulaThenTheDefault() {
    assertEquals(t0.plusSeconds(2), defaults.deadline(job("{\"suite\":\"s\",\"testbox\":\"dc-8g\",\"timeout\":2}", JobStage.RUNNING), t0).orElseThrow().at());
    // 10000 + max(1250, 300) + 100
    assertEquals(t0.plusSeconds(11350), defaults.deadline(job("{\"suite\":\"s\",\"testbox\":\"dc-8g\",\"runtime\":10000}", JobStage.RUNNING), t0).orElseThrow().at());
    // 100 + max(12.5, 300) + 10
    assertEquals(t0.plusSeconds(410), defaults.deadline(job("{\"suite\":\"s\",\"testbox\":\"dc-8g\",\"runtime\":\"100\"}", JobStage.RUNNING), t0).orElseThrow().at());
    assertEquals(t0.plusSeconds(3600), defaults.deadline(job("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}", JobStage.RUNNING), t0).orElseThrow().at());
    // lkp-tests' job files give both with a unit (jobs/trinity.yaml: runtime: 300s; borrow-1d.yaml: timeout: 1d)
    assertEquals(t0.plusSeconds(86400), defaults.deadline(job("{\"suite\":\"s\",\"testbox\":\"dc-8g\",\"timeout\":\"1d\"}", JobStage.RUNNING), t0).orElseThrow().at());
    assertEquals(t0.plusSeconds(7200), defaults.deadline(job("{\"suite\":\"s\",\"testbox\":\"dc-8g\",\"timeout\":\"120m\"}", JobStage.RUNNING), t0).orElseThrow().at());
    // 300 + max(37.5, 300) + 17.32
    assertEquals(t0.plusMillis(617_320), defaults.deadline(job("{\"suite\":\"s\",\"testbox\":\"dc-8g\",\"runtime\":\"300s\"}", JobStage.RUNNING), t0).orElseThrow().at());
    assertEquals(Timeouts.Kind.STAGE_TIMEOUT, defaults.deadline(job("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}", JobStage.RUNNING), t0).orElseThrow().kind());
  }

  @Test
  void renewPushesTheDeadlineOutButNeverIn() {
    Job job = job("{\"suite\":\"s\",\"testbox\":\"dc-8g\",\"timeout\":60}", JobStage.RUNNING);
    JobUpdate.apply(job, List.of(new JobUpdate.Param("renew_seconds", "7200")), JobUpdate.Mode.STRICT, t0);
    assertEquals(t0.plusSeconds(7200), defaults.deadline(job, t0).orElseThrow().at());
    JobUpdate.apply(job, List.of(new JobUpdate.Param("renew_seconds", "5")), JobUpdate.Mode.STRICT, t0);
    assertEquals(t0.plusSeconds(60), defaults.deadline(job, t0).orElseThrow().at());
  }

  @Test
  void aRenewalHoldsTheJobWhileItRunsNotItsDataOnceItHasEnded() {
    Job job = job("{\"suite\":\"s\",\"testbox\":\"dc-8g\",\"timeout\":60}", JobStage.RUNNING);
    JobUpdate.apply(job, List.of(new JobUpdate.Param("renew_seconds", "2592000")), JobUpdate.Mode.STRICT, t0);
    assertEquals(t0.plusSeconds(2_592_000), defaults.deadline(job, t0).orElseThrow().at());
    Instant ended = t0.plusSeconds(120);
    JobUpdate.apply(job, List.of(new JobUpdate.Param("job_stage", "finish"),
        new JobUpdate.Param("job_data_readiness", "uploaded")), JobUpdate.Mode.STRICT, ended);
    assertEquals(ended.plusSeconds(1800), defaults.deadline(job, ended).orElseThrow().at(),
        "post_run's time for the data, not the renewal");
  }

  @Test
  void finishedJobsWithSettledDataHaveNoDeadline() {
    Job job = job("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}", JobStage.FINISH);
    job.setReadiness(DataReadiness.COMPLETE);
    assertTrue(defaults.deadline(job, t0).isEmpty());
  }

  @Test
  void aFinishedJobWhoseDataNeverSettlesRetiresAfterPostRunsTime() {
    // the box failed before it uploaded anything: nothing will come
    Job failed = job("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}", JobStage.BOOT);
    JobUpdate.apply(failed, List.of(new JobUpdate.Param("job_health", "wget_initrd_fail")), JobUpdate.Mode.LEGACY, t0);
    assertEquals(JobStage.FINISH, failed.stage());
    assertEquals(DataReadiness.NA, failed.readiness());
    assertEquals(t0.plusSeconds(1800), defaults.deadline(failed, t0).orElseThrow().at());
    assertEquals(Timeouts.Expiry.NOT_DUE, defaults.expire(failed, t0.plusSeconds(1799)));
    assertEquals(Timeouts.Expiry.DATA_SETTLED, defaults.expire(failed, t0.plusSeconds(1801)));
    assertEquals(DataReadiness.NORUN, failed.readiness());
    assertEquals(JobHealth.fromName("wget_initrd_fail").orElseThrow(), failed.health(), "its health stays");
    assertTrue(failed.isRetired());

    // uploaded, and the statistics never came back
    Job uploaded = job("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}", JobStage.FINISH);
    uploaded.setReadiness(DataReadiness.UPLOADED);
    assertEquals(Timeouts.Expiry.DATA_SETTLED, defaults.expire(uploaded, t0.plusSeconds(1801)));
    assertEquals(DataReadiness.INCOMPLETE, uploaded.readiness());
    assertTrue(uploaded.isRetired());
  }

  /** An end other than finish stored with unsettled data (by an older scheduler) settles as finish does. */
  @Test
  void anyEndWithUnsettledDataSettlesAfterPostRunsTime() {
    Job job = job("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}", JobStage.ABORT_WAIT);
    job.setReadiness(DataReadiness.UPLOADING);
    assertEquals(t0.plusSeconds(1800), defaults.deadline(job, t0).orElseThrow().at());
    assertEquals(Timeouts.Expiry.DATA_SETTLED, defaults.expire(job, t0.plusSeconds(1801)));
    assertEquals(DataReadiness.INCOMPLETE, job.readiness());
    assertTrue(job.isRetired());
  }

  @Test
  void aStageTimeoutKeepsStatisticsAlreadyExtracted() {
    Job job = job("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}", JobStage.POST_RUN);
    job.setReadiness(DataReadiness.COMPLETE);
    assertEquals(Timeouts.Expiry.ENDED, defaults.expire(job, t0.plusSeconds(1801)));
    assertEquals("timeout_post_run", job.health().wireName());
    assertEquals(DataReadiness.COMPLETE, job.readiness());
    assertTrue(job.isRetired());
  }

  @Test
  void withoutRequeueTheDispatchTimeoutApplies() {
    Timeouts t = new Timeouts(Duration.ofSeconds(100), Duration.ofSeconds(600), Duration.ofSeconds(1),
        Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofSeconds(1),
        Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofSeconds(1), 0);
    Timeouts.Deadline d = t.deadline(job("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}", JobStage.DISPATCH), t0).orElseThrow();
    assertEquals(t0.plusSeconds(100), d.at());
    assertEquals(Timeouts.Kind.STAGE_TIMEOUT, d.kind());
  }
}
