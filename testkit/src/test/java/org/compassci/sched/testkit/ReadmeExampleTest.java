package org.compassci.sched.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The README's example, word for word, so that it stays true. */
class ReadmeExampleTest {
  static final Duration WAIT = Duration.ofSeconds(10);
  @RegisterExtension static SchedulerTestKit kit = SchedulerTestKit.create();

  @Test
  void aJobWhoseBoxVanishedRunsOnTheNextBox() {
    long id = kit.client().submitOne("{\"suite\":\"hackbench\",\"testbox\":\"dc-8g\"}");
    TestProbe<JobEvent> events = kit.events(id);
    kit.testbox("dc-host--1", 16384, "tbox_type=dc").askForJob().orElseThrow(); // never heard of again
    events.fishForMessage(WAIT, JobEvent.untilStage("dispatch"));

    kit.advance(Duration.ofMinutes(11));                         // past the 10-minute dispatch-ack
    events.fishForMessage(WAIT, JobEvent.untilStage("submit"));  // back in the queue

    SimulatedTestbox next = kit.testbox("dc-host--2", 16384, "tbox_type=dc");
    assertEquals(id, next.askForJob().orElseThrow().id());
    next.boot().running().upload("stats.json", "{\"hackbench.throughput\": 52012}").finish("success");
    events.fishForMessage(WAIT, JobEvent.untilClosed());
    assertEquals("complete", kit.client().job(id).readiness());
  }
}
