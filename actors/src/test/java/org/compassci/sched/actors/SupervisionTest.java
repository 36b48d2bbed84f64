package org.compassci.sched.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.compassci.sched.config.SchedulerSettings;
import org.compassci.sched.model.JobIntake;
import org.compassci.sched.model.Json;
import org.compassci.sched.model.Testbox;
import org.compassci.sched.persistence.JdbcJobStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An unexpected exception in a handler restarts the actor; no job is lost or handed out twice. */
class SupervisionTest {

  static final ActorTestKit testKit = ActorTestKit.create();
  static final Duration WAIT = Duration.ofSeconds(10);

  @AfterAll
  static void shutdown() {
    testKit.shutdownTestKit();
  }

  @org.junit.jupiter.api.extension.RegisterExtension
  final Spawned actors = new Spawned(testKit);

  @TempDir Path dir;

  /** The system clock, whose millis() throws once when armed: a fault inside a handler. */
  static final class FaultyClock extends Clock {
    final AtomicBoolean armed = new AtomicBoolean();

    @Override
    public long millis() {
      if (armed.compareAndSet(true, false)) {
        throw new IllegalStateException("injected fault");
      }
      return System.currentTimeMillis();
    }

    @Override
    public Instant instant() {
      return Instant.ofEpochMilli(System.currentTimeMillis());
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }
  }

  private static final Testbox BOX = new Testbox("h1", Set.of("hostname=h1", "arch=x86_64",
      "tbox_type=dc", "tbox_group=h1"), 65536);

  @Test
  void aMatcherThatThrowsInAHandlerComesBackWithEveryJobAndNoneTwice() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      FaultyClock clock = new FaultyClock();
      Restarts restarts = new Restarts();
      ActorRef<PersistenceActor.Command> persistence = actors.spawn(PersistenceActor.create(store, 100));
      TestProbe<LifecycleActor.Command> lifecycle = testKit.createTestProbe();
      ActorRef<MatcherActor.Command> matcher = actors.spawn(restarts.supervise("matcher",
          MatcherActor.create(persistence, lifecycle.getRef(),
              SchedulerSettings.fromConfig(testKit.system().settings().config()), clock)));
      List<JobIntake.Draft> drafts = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        drafts.add(JobIntake.prepare(Json.parse("{\"suite\":\"s" + i + "\",\"testbox\":\"dc-8g\"}")));
      }
      TestProbe<MatcherActor.SubmitResult> submitted = testKit.createTestProbe();
      matcher.tell(new MatcherActor.Submit(drafts, submitted.getRef()));
      Set<Long> ids = new HashSet<>();
      submitted.receiveMessage(WAIT).jobs().forEach(j -> ids.add(j.id()));
      assertEquals(5, ids.size());

      // the fault strikes after the first job left the queue, before its hand-out was asked
      clock.armed.set(true);
      TestProbe<MatcherActor.DispatchResult> lost = testKit.createTestProbe();
      matcher.tell(new MatcherActor.Dispatch(BOX, Duration.ZERO, lost.getRef()));
      lost.expectNoMessage(Duration.ofMillis(300));

      Set<Long> handedOut = new HashSet<>();
      for (int i = 0; i < 5; i++) {
        MatcherActor.Assigned a = assertInstanceOf(MatcherActor.Assigned.class, MatcherActorTest.dispatch(matcher, BOX));
        assertTrue(handedOut.add(a.id()), "handed out twice: " + a.id());
      }
      assertEquals(ids, handedOut, "every job comes back after the restart");
      assertInstanceOf(MatcherActor.NoJob.class, MatcherActorTest.dispatch(matcher, BOX));
      assertEquals(1, restarts.of("matcher"));
      for (long id : ids) {
        assertEquals("dispatch", store.find(id).orElseThrow().stage());
      }
    }
  }
}
