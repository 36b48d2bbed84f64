package org.compassci.sched.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.compassci.sched.config.SchedulerSettings;
import org.compassci.sched.extract.Extraction;
import org.compassci.sched.model.JobIntake;
import org.compassci.sched.model.JobUpdate;
import org.compassci.sched.model.Json;
import org.compassci.sched.model.Outcome;
import org.compassci.sched.model.Testbox;
import org.compassci.sched.model.Timeouts;
import org.compassci.sched.persistence.JdbcJobStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The stats actor collecting from the real matcher and lifecycle over the embedded store. */
class StatsActorTest {

  static final ActorTestKit testKit = ActorTestKit.create();
  static final Duration WAIT = Duration.ofSeconds(10);

  @AfterAll
  static void shutdown() {
    testKit.shutdownTestKit();
  }

  @org.junit.jupiter.api.extension.RegisterExtension
  final Spawned actors = new Spawned(testKit);

  @TempDir Path dir;

  @Test
  void countsWhatTheMatcherAndTheLifecycleDidWithoutAMessagePerDispatch() throws Exception {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      ActorRef<PersistenceActor.Command> persistence = actors.spawn(PersistenceActor.create(store, 100));
      ActorRef<ExtractActor.Command> extractor = actors.spawn(ExtractActor.create(
          new Extraction(Extraction.installed(), dir.resolve("results"), "/result"), Clock.systemUTC()));
      ActorRef<LifecycleActor.Command> lifecycle = actors.spawn(
          LifecycleActor.create(persistence, extractor, Timeouts.defaults(), Clock.systemUTC()));
      ActorRef<MatcherActor.Command> matcher = actors.spawn(MatcherActor.create(persistence, lifecycle,
          SchedulerSettings.fromConfig(testKit.system().settings().config()), Clock.systemUTC()));
      ActorRef<StatsActor.Command> stats = actors.spawn(
          StatsActor.create(matcher, lifecycle, Duration.ofMillis(100), Clock.systemUTC()));

      TestProbe<MatcherActor.SubmitResult> submitted = testKit.createTestProbe();
      matcher.tell(new MatcherActor.Submit(List.of(
          JobIntake.prepare(Json.parse("{\"suite\":\"a\",\"testbox\":\"dc-8g\",\"my_account\":\"alice\"}")),
          JobIntake.prepare(Json.parse("{\"suite\":\"b\",\"testbox\":\"dc-8g\",\"my_account\":\"bob\"}"))),
          submitted.getRef()));
      assertTrue(submitted.receiveMessage(WAIT).error().isEmpty());
      TestProbe<MatcherActor.DispatchResult> answer = testKit.createTestProbe();
      Testbox box = new Testbox("h1", Set.of("hostname=h1", "arch=x86_64", "tbox_type=dc"), 65536);
      matcher.tell(new MatcherActor.Dispatch(box, Duration.ZERO, answer.getRef()));
      long id = assertInstanceOf(MatcherActor.Assigned.class, answer.receiveMessage(WAIT)).id();
      // 1 GB free: too little for an 8 GB job
      Testbox other = new Testbox("r1", Set.of("hostname=r1", "arch=x86_64", "tbox_type=dc"), 1024);
      matcher.tell(new MatcherActor.Dispatch(other, Duration.ZERO, answer.getRef()));
      assertInstanceOf(MatcherActor.NoJob.class, answer.receiveMessage(WAIT));
      TestProbe<Outcome> updated = testKit.createTestProbe();
      lifecycle.tell(new LifecycleActor.Update(id, List.of(new JobUpdate.Param("job_health", "fail")),
          JobUpdate.Mode.STRICT, updated.getRef()));
      assertEquals(Outcome.Status.OK, updated.receiveMessage(WAIT).status());

      TestProbe<ObjectNode> summary = testKit.createTestProbe();
      ObjectNode s = Json.object();
      // the lifecycle's counts and the matcher's tally come in on their own: until both are in
      for (int i = 0; i < 100 && (s.path("finished").path("fail").asInt() < 1 || s.path("submitted").asInt() < 2); i++) {
        Thread.sleep(100);
        stats.tell(new StatsActor.GetSummary(summary.getRef()));
        s = summary.receiveMessage(WAIT);
      }
      assertEquals(2, s.path("submitted").asInt(), s.toString());
      assertEquals(1, s.path("dispatched").asInt(), s.toString());
      assertEquals(1, s.path("finished").path("fail").asInt(), s.toString());
      assertEquals(1, s.path("dispatch_requests").path("job").asInt(), s.toString());
      assertEquals(1, s.path("dispatch_requests").path("none").asInt(), s.toString());
      assertEquals(1, s.path("wait_seconds").path("count").asInt(), s.toString());
      assertEquals(1, s.path("pending").asInt(), s.toString());

      TestProbe<String> scrape = testKit.createTestProbe();
      stats.tell(new StatsActor.Scrape(scrape.getRef()));
      String text = scrape.receiveMessage(WAIT);
      assertTrue(text.contains("scheduler_jobs_submitted_total 2.0"), text);
      assertTrue(text.contains("scheduler_jobs_finished_total{health=\"fail\"} 1.0"), text);
      assertTrue(text.contains("scheduler_jobs_pending_by_account{my_account=\""), text);

      // a tally is taken once: asked again, the matcher starts from zero
      TestProbe<MatcherTally> tally = testKit.createTestProbe();
      matcher.tell(new MatcherActor.TakeTally(tally.getRef()));
      MatcherTally t = tally.receiveMessage(WAIT);
      assertEquals(0, t.submitted());
      assertEquals(0, t.dispatched());
      assertEquals(1, t.pendingByAccount().values().stream().mapToInt(Integer::intValue).sum());
    }
  }
}
