package org.example.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.FishingOutcomes;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.compassci.sched.testkit.JobEvent;
import org.compassci.sched.testkit.JobView;
import org.compassci.sched.testkit.SchedulerTestKit;
import org.compassci.sched.testkit.SimulatedTestbox;
import org.compassci.sched.testkit.SimulatedTestbox.HandedOut;
import org.compassci.sched.testkit.Submitted;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What our lab relies on the scheduler for, checked against the real scheduler in this JVM.
 * Each test gets a scheduler of its own (an instance field): it starts in a few milliseconds once
 * the first one has, and no test sees another's jobs.
 */
class LabSuiteTest {

  static final Duration WAIT = Duration.ofSeconds(10);

  @RegisterExtension SchedulerTestKit kit = SchedulerTestKit.create();

  static String job(String account, String suite) {
    return "{\"suite\":\"" + suite + "\",\"testbox\":\"dc-8g\",\"my_account\":\"" + account + "\"}";
  }

  @Test
  void aUserBehindABotsBatchIsServedWithinTwoDispatches() {
    for (int i = 0; i < 20; i++) {
      kit.client().submitOne(job("bisect-bot", "bisect-" + i));
    }
    long mine = kit.client().submitOne(job("alice", "hackbench"));
    SimulatedTestbox box = kit.testbox("dc-host--1", 16384, "tbox_type=dc");
    List<String> served = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      HandedOut h = box.askForJob().orElseThrow();
      served.add(h.job().field("my_account"));
      box.boot().running().finish("success");
    }
    assertTrue(served.subList(0, 2).contains("alice"), "alice's one job waits at most one turn: " + served);
    assertEquals("finish", kit.client().job(mine).stage());
    assertEquals(1, served.stream().filter("alice"::equals).count(), "and the bot gets the rest: " + served);
  }

  @Test
  void aJobWhoseTestboxVanishedIsRequeuedAfterTheDispatchAck() {
    long id = kit.client().submitOne(job("alice", "netperf"));
    TestProbe<JobEvent> events = kit.events(id);
    SimulatedTestbox lost = kit.testbox("dc-host--1", "tbox_type=dc");
    lost.askForJob().orElseThrow();
    events.fishForMessage(WAIT, JobEvent.untilStage("dispatch"));
    lost.disappear();

    // the scheduler waits 10 minutes for a boot report: no need to wait them out
    kit.advance(Duration.ofMinutes(10).plusSeconds(1));
    JobEvent.Changed back = (JobEvent.Changed) events.fishForMessage(WAIT, JobEvent.untilStage("submit")).get(0);
    assertEquals("1", back.state().path("requeue_count").asText());

    SimulatedTestbox spare = kit.testbox("dc-host--2", "tbox_type=dc");
    assertEquals(id, spare.askForJob().orElseThrow().id());
    JobEvent.Changed again = (JobEvent.Changed) events.fishForMessage(WAIT, JobEvent.untilStage("dispatch")).get(0);
    assertEquals("dc-host--2", again.state().path("host_machine").asText());
  }

  @Test
  void aMatrixJobFileMakesEveryCombinationAndEachRunsToTheEnd() {
    List<Submitted> made = kit.client().submit(String.join("\n",
        "suite: hackbench",
        "testbox: dc-8g",
        "my_account: alice",
        "nr_threads: [1, 8]",
        "hackbench:",
        "  mode: [process, threads]",
        ""));
    assertEquals(4, made.size(), "two lists of two values: four jobs");
    long[] ids = made.stream().mapToLong(Submitted::id).toArray();
    TestProbe<JobEvent> events = kit.events(ids);

    SimulatedTestbox box = kit.testbox("dc-host--1", "tbox_type=dc");
    Set<String> combinations = new HashSet<>();
    for (int i = 0; i < ids.length; i++) {
      HandedOut h = box.askForJob().orElseThrow();
      combinations.add(h.job().field("nr_threads") + "/" + h.job().json().path("hackbench").path("mode").asText());
      box.boot().running().upload("stats.json", "{\"hackbench.throughput\": " + (1000 + i) + "}").finish("success");
    }
    assertEquals(Set.of("1/process", "1/threads", "8/process", "8/threads"), combinations);

    Set<Long> closed = new HashSet<>();
    events.fishForMessage(WAIT, e -> {
      if (e instanceof JobEvent.Closed c) {
        closed.add(c.jobId());
      }
      return closed.size() == ids.length ? FishingOutcomes.complete() : FishingOutcomes.continueAndIgnore();
    });
    for (long id : ids) {
      JobView done = kit.client().job(id);
      assertEquals("success", done.health());
      assertEquals("complete", done.readiness(), "statistics extracted from the upload");
      assertTrue(done.json().path("stats").path("hackbench.throughput").asInt() >= 1000);
    }
  }

  @Test
  void aCancelledJobIsSeenOnTheProbeAndNeverHandedOut() {
    long id = kit.client().submitOne(job("alice", "stream"));
    TestProbe<JobEvent> events = kit.events(id);
    assertEquals("submit", events.expectMessageClass(JobEvent.Changed.class).stage());

    kit.client().cancel(id);
    JobEvent.Changed cancelled = events.expectMessageClass(JobEvent.Changed.class);
    assertEquals("cancel", cancelled.stage());
    assertEquals("cancel", cancelled.health());
    assertEquals(new JobEvent.Closed(id, null), events.expectMessageClass(JobEvent.Closed.class));
    assertEquals(Optional.empty(), kit.testbox("dc-host--1", "tbox_type=dc").askForJob());
  }

  @Test
  void twoTestboxesRacingForOneJobGetItOnce() throws Exception {
    SimulatedTestbox a = kit.testbox("dc-host--a", "tbox_type=dc");
    SimulatedTestbox b = kit.testbox("dc-host--b", "tbox_type=dc");
    CompletableFuture<Optional<HandedOut>> pollA = a.longPoll(Duration.ofSeconds(60));
    CompletableFuture<Optional<HandedOut>> pollB = b.longPoll(Duration.ofSeconds(60));
    kit.awaitParked(2);

    long id = kit.client().submitOne(job("alice", "ltp"));
    CompletableFuture.anyOf(pollA, pollB).get(10, TimeUnit.SECONDS);
    // the other box's wait runs out on the kit's time, not the test's
    kit.advance(Duration.ofSeconds(60));
    Optional<HandedOut> gotA = pollA.get(10, TimeUnit.SECONDS);
    Optional<HandedOut> gotB = pollB.get(10, TimeUnit.SECONDS);
    assertNotEquals(gotA.isPresent(), gotB.isPresent(), "exactly one box has the job");
    HandedOut winner = gotA.or(() -> gotB).orElseThrow();
    assertEquals(id, winner.id());
    assertEquals(gotA.isPresent() ? "dc-host--a" : "dc-host--b", kit.client().job(id).hostMachine());
  }
}
