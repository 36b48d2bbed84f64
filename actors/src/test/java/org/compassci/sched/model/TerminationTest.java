package org.compassci.sched.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import org.junit.jupiter.api.Test;

class TerminationTest {

  private static Job job() {
    return Job.submitted(JobIntake.prepare(Json.parse("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\"}")),
        1, Instant.now(), "/result");
  }

  @Test
  void aRunningJobEndsInFinishWithHealthTerminateAndIncompleteData() {
    Job j = job();
    j.handOut("h", "tok", Instant.now());
    j.setStage(JobStage.RUNNING, Instant.now());
    assertTrue(Termination.refusal(j).isEmpty());
    Termination.apply(j, Instant.now());
    assertEquals(JobStage.FINISH, j.stage());
    assertEquals(JobHealth.TERMINATE, j.health());
    assertEquals(DataReadiness.INCOMPLETE, j.readiness());
    assertTrue(j.isRetired());
    assertTrue(Termination.refusal(j).get().contains("has already ended"));
  }

  @Test
  void aQueuedJobNeverRanAndAnUploadedOneKeepsItsExtraction() {
    Job queued = job();
    Termination.apply(queued, Instant.now());
    assertEquals(DataReadiness.NORUN, queued.readiness());
    assertEquals(JobStage.FINISH, queued.stage());

    Job uploaded = job();
    uploaded.handOut("h", "tok", Instant.now());
    uploaded.setStage(JobStage.POST_RUN, Instant.now());
    uploaded.setReadiness(DataReadiness.UPLOADED);
    Termination.apply(uploaded, Instant.now());
    assertEquals(DataReadiness.UPLOADED, uploaded.readiness(), "its statistics settle the data");
    assertEquals(JobHealth.TERMINATE, uploaded.health());
  }

  @Test
  void anEndedJobIsRefused() {
    Job j = job();
    j.setHealth(JobHealth.FAIL);
    j.setStage(JobStage.FINISH, Instant.now());
    assertTrue(Termination.refusal(j).isPresent(), "finished, data still to come: ended all the same");
  }
}
