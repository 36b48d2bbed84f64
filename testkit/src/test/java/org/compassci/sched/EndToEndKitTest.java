package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.compassci.sched.testkit.JobEvent;
import org.compassci.sched.testkit.SchedulerException;
import org.compassci.sched.testkit.SchedulerTestKit;
import org.compassci.sched.testkit.SimulatedTestbox;
import org.compassci.sched.testkit.SimulatedTestbox.HandedOut;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * End-to-end cases that hang on time (long polls, the dispatch-ack, stage timeouts), moved here
 * from EndToEndTest: on the kit's manual time they wait for nothing, and watch instead of polling.
 */
class EndToEndKitTest {

  static final String DC_JOB = "{\"suite\":\"s\",\"testbox\":\"dc-8g\"}";
  static final Duration WAIT = Duration.ofSeconds(10);

  @RegisterExtension SchedulerTestKit kit = SchedulerTestKit.builder()
      .setting("scheduler.requeue.max", 1).start();

  @Test
  void aParkedBoxGetsTheJobTheMomentItIsSubmittedAndOnlyOnce() throws Exception {
    CompletableFuture<Optional<HandedOut>> empty = kit.testbox("p0", "tbox_type=dc").longPoll(Duration.ofSeconds(1));
    kit.awaitParked(1);
    assertFalse(empty.isDone(), "a long poll waits before its 204");
    kit.advance(Duration.ofSeconds(1));
    assertEquals(Optional.empty(), empty.get(10, TimeUnit.SECONDS));

    CompletableFuture<Optional<HandedOut>> parked = kit.testbox("p1", "tbox_type=dc").longPoll(Duration.ofSeconds(30));
    CompletableFuture<Optional<HandedOut>> other = kit.testbox("p2", "arch=riscv64", "tbox_type=vm")
        .longPoll(Duration.ofSeconds(2));
    kit.awaitParked(2); // a box that asks later must not be served first
    long id = kit.client().submitOne(DC_JOB);
    assertEquals(id, parked.get(10, TimeUnit.SECONDS).orElseThrow().id());
    kit.advance(Duration.ofSeconds(2));
    assertEquals(Optional.empty(), other.get(10, TimeUnit.SECONDS), "a vm box does not fit a dc job");
    assertTrue(kit.testbox("p3", "tbox_type=dc").askForJob().isEmpty());
    assertEquals(0, kit.client().pending());
    assertEquals(400, kit.client().get("/scheduler/v1/dashboard/jobs/pending?group_by=color").status());
  }

  @Test
  void aBoxThatHungUpWhileParkedIsNotHandedTheJob() throws Exception {
    SimulatedTestbox gone = kit.testbox("gone", "tbox_type=dc");
    gone.longPoll(Duration.ofSeconds(30));
    kit.awaitParked(1);
    gone.disappear(); // the box gives up, as a wget with a short timeout does
    kit.awaitParked(0);
    long id = kit.client().submitOne(DC_JOB);
    assertEquals(id, kit.testbox("alive", "tbox_type=dc").askForJob().orElseThrow().id(),
        "the job waits for a box that is still there");
  }

  @Test
  void aLostHandOutGoesToTheNextBoxThenEndsWithAbortProvider() {
    long id = kit.client().submitOne(DC_JOB);
    TestProbe<JobEvent> events = kit.events(id);
    SimulatedTestbox box1 = kit.testbox("box1", "tbox_type=dc");
    box1.askForJob().orElseThrow();
    // box1 never reports boot: after the dispatch-ack the job is queued again, at its old place
    kit.advance(Duration.ofMinutes(10));
    SimulatedTestbox box2 = kit.testbox("box2", "tbox_type=dc");
    HandedOut second = box2.askForJob().orElseThrow();
    assertEquals(id, second.id());
    assertEquals("1", second.job().field("requeue_count"));
    assertEquals(409, kit.client().post("/scheduler/v1/jobs/" + id + "/update?job_stage=boot&hostname=box1", "")
        .status());
    assertEquals(409, org.junit.jupiter.api.Assertions.assertThrows(SchedulerException.class, box1::boot).status(),
        "box1's token is no longer good");
    assertEquals("dispatch", kit.client().job(id).stage(), "box1 changed nothing");
    // box2 loses it too: requeue.max is spent, the job ends
    kit.advance(Duration.ofMinutes(10));
    JobEvent.Changed ended = (JobEvent.Changed) events.fishForMessage(WAIT, JobEvent.untilStage("abort_provider")).get(0);
    assertEquals("abort_provider", ended.health());
    assertTrue(kit.testbox("box3", "tbox_type=dc").askForJob().isEmpty());
  }

  @Test
  void aRunningJobPastItsTimeoutEndsTimeoutRunning() {
    long id = kit.client().submitOne("{\"suite\":\"s\",\"testbox\":\"dc-8g\",\"timeout\":2}");
    TestProbe<JobEvent> events = kit.events(id);
    SimulatedTestbox box = kit.testbox("d1", "tbox_type=dc");
    box.askForJob().orElseThrow();
    box.running();
    kit.advance(Duration.ofSeconds(2));
    JobEvent.Changed ended = (JobEvent.Changed) events.fishForMessage(WAIT, JobEvent.untilStage("finish")).get(0);
    assertEquals("timeout_running", ended.health());
    assertEquals("incomplete", ended.readiness());
    assertEquals(423, org.junit.jupiter.api.Assertions.assertThrows(SchedulerException.class,
        () -> box.stage("post_run")).status());
  }
}
