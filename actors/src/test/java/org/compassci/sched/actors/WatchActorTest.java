package org.compassci.sched.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.compassci.sched.extract.Extraction;
import org.compassci.sched.model.DataReadiness;
import org.compassci.sched.model.Job;
import org.compassci.sched.model.JobStage;
import org.compassci.sched.model.JobIntake;
import org.compassci.sched.model.JobUpdate;
import org.compassci.sched.model.Json;
import org.compassci.sched.model.Outcome;
import org.compassci.sched.model.Timeouts;
import org.compassci.sched.persistence.JdbcJobStore;
import org.compassci.sched.watch.WaitCondition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The watch actor with the real lifecycle, persistence actor and embedded store. */
class WatchActorTest {

  static final ActorTestKit testKit = ActorTestKit.create();
  static final Duration WAIT = Duration.ofSeconds(10);

  @AfterAll
  static void shutdown() {
    testKit.shutdownTestKit();
  }

  @org.junit.jupiter.api.extension.RegisterExtension
  final Spawned actors = new Spawned(testKit);

  @TempDir Path dir;

  private record Lab(JdbcJobStore store, ActorRef<LifecycleActor.Command> lifecycle,
      ActorRef<WatchActor.Command> watch, TestProbe<HostRegistryActor.Command> hosts) {}

  private Lab lab(JdbcJobStore store) {
    ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(store, 100));
    ActorRef<ExtractActor.Command> x = actors.spawn(ExtractActor.create(
        new Extraction(Extraction.installed(), dir.resolve("results"), "/result"), Clock.systemUTC()));
    TestProbe<HostRegistryActor.Command> hosts = testKit.createTestProbe();
    ActorRef<LifecycleActor.Command> lc = actors.spawn(
        LifecycleActor.create(p, x, hosts.getRef(), Timeouts.defaults(), Clock.systemUTC()));
    ActorRef<WatchActor.Command> watch = actors.spawn(WatchActor.create(lc, WAIT, Clock.systemUTC()));
    return new Lab(store, lc, watch, hosts);
  }

  private static Job dispatched(long id) {
    Job job = Job.submitted(JobIntake.prepare(Json.parse("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}")),
        id, Instant.now(), "/result");
    job.handOut("h1", "tok", Instant.now());
    return job;
  }

  /** A job that ran and retired with its data {@code readiness}. */
  private static Job finished(long id, DataReadiness readiness) {
    Job job = dispatched(id);
    job.setStage(JobStage.FINISH, Instant.now());
    job.setReadiness(readiness);
    return job;
  }

  private static void update(Lab lab, long id, String name, String value) {
    TestProbe<Outcome> probe = testKit.createTestProbe();
    lab.lifecycle().tell(new LifecycleActor.Update(id, List.of(new JobUpdate.Param(name, value)),
        JobUpdate.Mode.STRICT, probe.getRef()));
    assertEquals(Outcome.Status.OK, probe.receiveMessage(WAIT).status());
  }

  private static <T extends WatchActor.Event> T next(TestProbe<WatchActor.Event> probe, Class<T> type) {
    return assertInstanceOf(type, probe.receiveMessage(WAIT));
  }

  /**
   * After a lifecycle restart the watch actor reads each followed job again, while the new
   * lifecycle already reports changes: an answer older than a change that came in first must not
   * take the job back a stage (it did, now and then, to this class's first test); one at the same
   * or a later stage still brings what changed.
   */
  @Test
  void aCatchUpReadOlderThanAChangeDoesNotTakeTheJobBack() {
    TestProbe<LifecycleActor.Command> lifecycle = testKit.createTestProbe();
    ActorRef<WatchActor.Command> watch = actors.spawn(WatchActor.create(lifecycle.getRef(), WAIT, Clock.systemUTC()));
    Job job = dispatched(5);
    com.fasterxml.jackson.databind.node.ObjectNode atDispatch = job.view();
    job.setStage(JobStage.RUNNING, Instant.now());
    com.fasterxml.jackson.databind.node.ObjectNode atRunning = job.view();
    job.setStage(JobStage.POST_RUN, Instant.now());
    com.fasterxml.jackson.databind.node.ObjectNode atPostRun = job.view();

    TestProbe<WatchActor.Event> a = testKit.createTestProbe();
    watch.tell(new WatchActor.Subscribe(List.of(5L), a.getRef(), null));
    lifecycle.expectMessageClass(LifecycleActor.Watch.class);
    lifecycle.expectMessageClass(LifecycleActor.Get.class).replyTo().tell(Outcome.ok(atDispatch));
    assertEquals("dispatch", next(a, WatchActor.JobEvent.class).fields().path("job_stage").asText());

    watch.tell(new WatchActor.LifecycleStarted());
    lifecycle.expectMessageClass(LifecycleActor.Watch.class);
    var stale = lifecycle.expectMessageClass(LifecycleActor.Get.class);
    // the new lifecycle reports a change before the read is answered with what came before it
    watch.tell(new WatchActor.Changed(5, atRunning));
    assertEquals("running", next(a, WatchActor.JobEvent.class).fields().path("job_stage").asText());
    stale.replyTo().tell(Outcome.ok(atDispatch));
    a.expectNoMessage(Duration.ofMillis(300));

    watch.tell(new WatchActor.LifecycleStarted());
    lifecycle.expectMessageClass(LifecycleActor.Watch.class);
    lifecycle.expectMessageClass(LifecycleActor.Get.class).replyTo().tell(Outcome.ok(atPostRun));
    assertEquals("post_run", next(a, WatchActor.JobEvent.class).fields().path("job_stage").asText());
  }

  /**
   * A catch-up read after a lifecycle restart that a change overtook is dropped even at the same
   * stage (it would bring older fields back), and one that failed is tried again: it used to be
   * dropped, and a job that retired meanwhile kept its streams open for good.
   */
  @Test
  void aCatchUpReadIsTriedAgainUntilItOrAChangeComes() {
    TestProbe<LifecycleActor.Command> lifecycle = testKit.createTestProbe();
    ActorRef<WatchActor.Command> watch = actors.spawn(WatchActor.create(lifecycle.getRef(), WAIT, Clock.systemUTC()));
    Job job = dispatched(7);
    job.setStage(JobStage.RUNNING, Instant.now());
    com.fasterxml.jackson.databind.node.ObjectNode running = job.view();
    com.fasterxml.jackson.databind.node.ObjectNode stepped = running.deepCopy().put("job_step", "2");
    TestProbe<WatchActor.Event> a = testKit.createTestProbe();
    watch.tell(new WatchActor.Subscribe(List.of(7L), a.getRef(), null));
    lifecycle.expectMessageClass(LifecycleActor.Watch.class);
    lifecycle.expectMessageClass(LifecycleActor.Get.class).replyTo().tell(Outcome.ok(running));
    next(a, WatchActor.JobEvent.class);

    // the same stage: a change that came first wins over the read's older fields
    watch.tell(new WatchActor.LifecycleStarted());
    lifecycle.expectMessageClass(LifecycleActor.Watch.class);
    var overtaken = lifecycle.expectMessageClass(LifecycleActor.Get.class);
    watch.tell(new WatchActor.Changed(7, stepped));
    assertEquals("2", next(a, WatchActor.JobEvent.class).fields().path("job_step").asText());
    overtaken.replyTo().tell(Outcome.ok(running));
    a.expectNoMessage(Duration.ofMillis(300));

    // a read that fails is asked again, and the job that retired meanwhile closes its stream
    watch.tell(new WatchActor.LifecycleStarted());
    lifecycle.expectMessageClass(LifecycleActor.Watch.class);
    lifecycle.expectMessageClass(LifecycleActor.Get.class).replyTo()
        .tell(Outcome.of(Outcome.Status.UNAVAILABLE, "the store is away"));
    Job ended = finished(7, DataReadiness.NORUN);
    lifecycle.expectMessageClass(LifecycleActor.Get.class, Duration.ofSeconds(5)).replyTo()
        .tell(Outcome.ok(ended.view()));
    assertEquals("finish", next(a, WatchActor.JobEvent.class).fields().path("job_stage").asText());
    assertEquals(7L, next(a, WatchActor.Closed.class).id());
  }

  /**
   * An id a read found unknown is answered so again for a few seconds without another read: a
   * socket naming the same 1,000 unknown ids in each message made 1,000 reads a message.
   */
  @Test
  void anIdFoundUnknownIsNotReadAgainAtOnce() {
    TestProbe<LifecycleActor.Command> lifecycle = testKit.createTestProbe();
    ActorRef<WatchActor.Command> watch = actors.spawn(WatchActor.create(lifecycle.getRef(), WAIT, Clock.systemUTC()));
    TestProbe<WatchActor.Event> a = testKit.createTestProbe();
    watch.tell(new WatchActor.Subscribe(List.of(9L), a.getRef(), null));
    lifecycle.expectMessageClass(LifecycleActor.Watch.class);
    lifecycle.expectMessageClass(LifecycleActor.Get.class).replyTo()
        .tell(Outcome.of(Outcome.Status.NOT_FOUND, "no job 9"));
    assertEquals("no job 9", next(a, WatchActor.Closed.class).error());
    for (int i = 0; i < 3; i++) {
      TestProbe<WatchActor.Event> again = testKit.createTestProbe();
      watch.tell(new WatchActor.Subscribe(List.of(9L), again.getRef(), null));
      assertEquals("no job 9", next(again, WatchActor.Closed.class).error());
    }
    // the first one's unwatch, then each one's watch and unwatch
    for (LifecycleActor.Command c : lifecycle.receiveSeveralMessages(7, WAIT)) {
      assertInstanceOf(LifecycleActor.Watch.class, c, "no read: " + c);
    }
    lifecycle.expectNoMessage(Duration.ofMillis(200));
  }

  /** A field gone from the job (a requeue drops the hand-out's) is sent as null. */
  @Test
  void aFieldThatIsGoneIsSentAsNull() {
    TestProbe<LifecycleActor.Command> lifecycle = testKit.createTestProbe();
    ActorRef<WatchActor.Command> watch = actors.spawn(WatchActor.create(lifecycle.getRef(), WAIT, Clock.systemUTC()));
    com.fasterxml.jackson.databind.node.ObjectNode handedOut = dispatched(8).view();
    com.fasterxml.jackson.databind.node.ObjectNode requeued = handedOut.deepCopy().put("job_stage", "submit");
    requeued.remove(List.of("host_machine", "dispatch_time"));
    TestProbe<WatchActor.Event> a = testKit.createTestProbe();
    watch.tell(new WatchActor.Subscribe(List.of(8L), a.getRef(), null));
    lifecycle.expectMessageClass(LifecycleActor.Watch.class);
    lifecycle.expectMessageClass(LifecycleActor.Get.class).replyTo().tell(Outcome.ok(handedOut));
    assertEquals("h1", next(a, WatchActor.JobEvent.class).fields().path("host_machine").asText());
    watch.tell(new WatchActor.Changed(8, requeued));
    com.fasterxml.jackson.databind.JsonNode change = next(a, WatchActor.JobEvent.class).fields();
    assertEquals("submit", change.path("job_stage").asText());
    assertTrue(change.get("host_machine").isNull() && change.get("dispatch_time").isNull(), change.toString());
    assertFalse(change.has("suite"), change.toString());
  }

  @Test
  void aStreamGetsTheStateThenEachChangeThenCloseWhenTheJobRetires() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      Lab lab = lab(store);
      Job job = dispatched(5);
      store.upsert(List.of(job.toRecord()));
      lab.lifecycle().tell(new LifecycleActor.Track(job.toRecord()));
      TestProbe<WatchActor.Event> a = testKit.createTestProbe();
      TestProbe<WatchActor.Event> b = testKit.createTestProbe();
      lab.watch().tell(new WatchActor.Subscribe(List.of(5L), a.getRef(), null));
      WatchActor.JobEvent first = next(a, WatchActor.JobEvent.class);
      assertEquals("5", first.fields().path("job_id").asText());
      assertEquals("dispatch", first.fields().path("job_stage").asText());
      assertEquals("s", first.fields().path("suite").asText(), "the first event is the whole state");
      // a second watcher of the same job shares what the actor already knows
      lab.watch().tell(new WatchActor.Subscribe(List.of(5L), b.getRef(), null));
      assertEquals("dispatch", next(b, WatchActor.JobEvent.class).fields().path("job_stage").asText());

      update(lab, 5, "job_stage", "running");
      for (TestProbe<WatchActor.Event> p : List.of(a, b)) {
        WatchActor.JobEvent change = next(p, WatchActor.JobEvent.class);
        assertEquals("running", change.fields().path("job_stage").asText());
        assertTrue(change.fields().has("running_time"), change.fields().toString());
        assertFalse(change.fields().has("suite"), "only what changed: " + change.fields());
      }
      lab.watch().tell(new WatchActor.Unsubscribe(b.getRef()));
      update(lab, 5, "job_stage", "finish");
      assertEquals("finish", next(a, WatchActor.JobEvent.class).fields().path("job_stage").asText());
      update(lab, 5, "job_data_readiness", "norun");
      assertEquals("norun", next(a, WatchActor.JobEvent.class).fields().path("job_data_readiness").asText());
      assertEquals(5L, next(a, WatchActor.Closed.class).id());
      next(a, WatchActor.End.class);
      b.expectNoMessage(Duration.ofMillis(200));

      TestProbe<ActorStats> stats = testKit.createTestProbe();
      lab.watch().tell(new WatchActor.GetStats(stats.getRef()));
      ActorStats s = stats.receiveMessage(WAIT);
      assertEquals(0L, s.holds().get("followed_jobs"), "a retired job is no longer followed");
      assertEquals(0L, s.holds().get("streams"));
    }
  }

  @Test
  void anUnknownJobClosesWithAnErrorAndARetiredOneWithItsLastState() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      Lab lab = lab(store);
      store.upsert(List.of(finished(8, DataReadiness.COMPLETE).toRecord()));
      TestProbe<WatchActor.Event> out = testKit.createTestProbe();
      lab.watch().tell(new WatchActor.Subscribe(List.of(404L, 8L), out.getRef(), null));
      Map<Long, WatchActor.Event> seen = new LinkedHashMap<>();
      List<WatchActor.Event> events = List.of(out.receiveMessage(WAIT), out.receiveMessage(WAIT),
          out.receiveMessage(WAIT), out.receiveMessage(WAIT));
      for (WatchActor.Event e : events) {
        if (e instanceof WatchActor.Closed c) {
          seen.put(c.id(), c);
        }
      }
      assertTrue(((WatchActor.Closed) seen.get(404L)).error().contains("does not exist"));
      assertEquals(null, ((WatchActor.Closed) seen.get(8L)).error());
      assertTrue(events.stream().anyMatch(e -> e instanceof WatchActor.JobEvent j && j.id() == 8L
          && j.fields().path("job_data_readiness").asText().equals("complete")));
      assertInstanceOf(WatchActor.End.class, events.get(3));
    }
  }

  @Test
  void aClientThatHangsUpEndsItsStreamsAtOnce() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      Lab lab = lab(store);
      store.upsert(List.of(dispatched(61).toRecord()));
      org.compassci.sched.model.ConnectionId connection = org.compassci.sched.model.ConnectionId.next();
      TestProbe<WatchActor.Event> out = testKit.createTestProbe();
      TestProbe<WatchActor.Event> other = testKit.createTestProbe();
      lab.watch().tell(new WatchActor.Subscribe(List.of(61L), out.getRef(), connection));
      lab.watch().tell(new WatchActor.Subscribe(List.of(61L), other.getRef(), org.compassci.sched.model.ConnectionId.next()));
      next(out, WatchActor.JobEvent.class);
      next(other, WatchActor.JobEvent.class);
      lab.watch().tell(new WatchActor.ClientGone(connection));
      next(out, WatchActor.End.class);
      other.expectNoMessage(Duration.ofMillis(200));
      TestProbe<ActorStats> stats = testKit.createTestProbe();
      lab.watch().tell(new WatchActor.GetStats(stats.getRef()));
      assertEquals(1L, stats.receiveMessage(WAIT).holds().get("streams"), "the other client's stream stays");
    }
  }

  @Test
  void aWaitIsAnsweredWhenAConditionHoldsAndNamesWhatRemains() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      Lab lab = lab(store);
      for (long id : List.of(11L, 12L)) {
        store.upsert(List.of(dispatched(id).toRecord()));
      }
      Map<Long, WaitCondition> on = new LinkedHashMap<>();
      on.put(11L, WaitCondition.parse("11", Json.parse("{\"job_stage\":\"running\"}")));
      on.put(12L, WaitCondition.parse("12", null));
      TestProbe<WatchActor.WaitResult> probe = testKit.createTestProbe();
      lab.watch().tell(new WatchActor.Wait(on, Duration.ofSeconds(30), probe.getRef()));
      probe.expectNoMessage(Duration.ofMillis(300));
      // a later stage than the one waited for also satisfies it: stages compare by order
      update(lab, 11, "job_stage", "post_run");
      WatchActor.WaitResult r = probe.receiveMessage(WAIT);
      assertEquals(List.of(12L), List.copyOf(r.remaining().keySet()));
      assertEquals("post_run", r.waited().get(11L).path("job_stage").asText());
      assertEquals("dispatch", r.waited().get(12L).path("job_stage").asText());
    }
  }

  @Test
  void aWaitThatCanNeverHoldOrNamesAnUnknownJobIsAnsweredAtOnce() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      Lab lab = lab(store);
      store.upsert(List.of(finished(31, DataReadiness.NORUN).toRecord()));
      TestProbe<WatchActor.WaitResult> probe = testKit.createTestProbe();
      lab.watch().tell(new WatchActor.Wait(Map.of(31L, WaitCondition.parse("31", null)),
          Duration.ofSeconds(30), probe.getRef()));
      WatchActor.WaitResult never = probe.receiveMessage(Duration.ofSeconds(5));
      assertTrue(never.remaining().isEmpty(), "data norun never becomes complete");
      assertEquals("norun", never.waited().get(31L).path("job_data_readiness").asText());

      lab.watch().tell(new WatchActor.Wait(Map.of(999L, WaitCondition.parse("999", null)),
          Duration.ofSeconds(30), probe.getRef()));
      WatchActor.WaitResult unknown = probe.receiveMessage(Duration.ofSeconds(5));
      assertTrue(unknown.waited().get(999L).path("error").asText().contains("does not exist"));
    }
  }

  /**
   * A job whose stored row cannot be read is closed with an error for its stream and answered in
   * a wait: before, it was read again every second for as long as anyone watched.
   */
  @Test
  void aJobWhoseStoredRowCannotBeReadClosesItsStream() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      Lab lab = lab(store);
      var good = finished(61, DataReadiness.COMPLETE).toRecord();
      store.upsert(List.of(new org.compassci.sched.persistence.JobRecord(good.id(), good.stage(), good.health(),
          good.readiness(), good.tenant(), good.tboxGroup(), good.submitTimeMillis(), "{not json",
          good.host(), good.tokenHash(), good.dispatchTimeMillis())));
      TestProbe<WatchActor.Event> a = testKit.createTestProbe();
      lab.watch().tell(new WatchActor.Subscribe(List.of(61L), a.getRef(), null));
      assertTrue(next(a, WatchActor.Closed.class).error().contains("cannot be read"));
      next(a, WatchActor.End.class);

      TestProbe<WatchActor.WaitResult> waited = testKit.createTestProbe();
      lab.watch().tell(new WatchActor.Wait(Map.of(61L, WaitCondition.parse("61", null)),
          Duration.ofSeconds(30), waited.getRef()));
      assertTrue(waited.receiveMessage(Duration.ofSeconds(5)).waited().get(61L).path("error").asText()
          .contains("cannot be read"));
    }
  }

  @Test
  void aWaitRunsOutWithEveryJobStillRemaining() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      Lab lab = lab(store);
      store.upsert(List.of(dispatched(41).toRecord()));
      TestProbe<WatchActor.WaitResult> probe = testKit.createTestProbe();
      lab.watch().tell(new WatchActor.Wait(Map.of(41L, WaitCondition.parse("41",
          // long enough for the job's state to be read first, even on a slow machine
          Json.parse("{\"job_stage\":\"finish\",\"job_health\":\"success\"}"))), Duration.ofSeconds(3), probe.getRef()));
      WatchActor.WaitResult r = probe.receiveMessage(WAIT);
      assertEquals(List.of(41L), List.copyOf(r.remaining().keySet()));
      assertEquals("dispatch", r.waited().get(41L).path("job_stage").asText());
    }
  }

  @Test
  void aJobThatEndsOnItsBoxIsNoLongerItsCurrentJob() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      Lab lab = lab(store);
      Job job = dispatched(51);
      store.upsert(List.of(job.toRecord()));
      lab.lifecycle().tell(new LifecycleActor.Track(job.toRecord()));
      HostRegistryActor.HandedOut h1 = new HostRegistryActor.HandedOut("h1", 51);
      HostRegistryActor.Command told = lab.hosts().receiveMessage(WAIT);
      if (told.equals(new HostRegistryActor.HandOuts(List.of(h1)))) {
        // the lifecycle's load at its start found the job already in the store; the Track follows
        told = lab.hosts().receiveMessage(WAIT);
      }
      assertEquals(h1, told);
      update(lab, 51, "job_stage", "running");
      lab.hosts().expectNoMessage(Duration.ofMillis(100));
      update(lab, 51, "job_health", "fail");
      HostRegistryActor.JobEnded ended = (HostRegistryActor.JobEnded) lab.hosts().receiveMessage(WAIT);
      assertEquals(new HostRegistryActor.JobEnded("h1", 51), ended);
    }
  }

  /**
   * A watcher's socket: jobs come and go with Follow and Unfollow, an unknown one and one past
   * the limit are answered with an error, and the socket stays open when its jobs close.
   */
  @Test
  void aSocketFollowsJobsAsTheyComeAndStaysOpenWhenTheyClose() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      Lab lab = lab(store);
      for (long id : List.of(21L, 22L, 23L)) {
        Job job = dispatched(id);
        store.upsert(List.of(job.toRecord()));
        lab.lifecycle().tell(new LifecycleActor.Track(job.toRecord()));
      }
      TestProbe<WatchActor.Event> socket = testKit.createTestProbe();
      lab.watch().tell(new WatchActor.OpenSocket(socket.getRef(), null, 2));
      socket.expectNoMessage(Duration.ofMillis(100));
      lab.watch().tell(new WatchActor.Follow(socket.getRef(), List.of(404L)));
      WatchActor.Closed unknown = next(socket, WatchActor.Closed.class);
      assertEquals(404L, unknown.id());
      assertTrue(unknown.error().contains("404"), unknown.error());

      lab.watch().tell(new WatchActor.Follow(socket.getRef(), List.of(21L, 22L, 23L)));
      Map<Long, WatchActor.Event> seen = new LinkedHashMap<>();
      for (int i = 0; i < 3; i++) {
        WatchActor.Event e = socket.receiveMessage(WAIT);
        seen.put(e instanceof WatchActor.JobEvent j ? j.id() : ((WatchActor.Closed) e).id(), e);
      }
      WatchActor.Closed overLimit = assertInstanceOf(WatchActor.Closed.class, seen.get(23L));
      assertTrue(overLimit.error().contains("at most 2"), overLimit.error());
      assertInstanceOf(WatchActor.JobEvent.class, seen.get(21L));
      assertInstanceOf(WatchActor.JobEvent.class, seen.get(22L));

      lab.watch().tell(new WatchActor.Unfollow(socket.getRef(), List.of(22L)));
      update(lab, 22, "job_stage", "running");
      update(lab, 21, "job_stage", "finish");
      assertEquals(21L, next(socket, WatchActor.JobEvent.class).id(), "nothing about the job it left");
      update(lab, 21, "job_data_readiness", "norun");
      assertEquals(21L, next(socket, WatchActor.JobEvent.class).id());
      assertEquals(21L, next(socket, WatchActor.Closed.class).id());
      socket.expectNoMessage(Duration.ofMillis(200));

      TestProbe<ActorStats> stats = testKit.createTestProbe();
      lab.watch().tell(new WatchActor.GetStats(stats.getRef()));
      assertEquals(1L, stats.receiveMessage(WAIT).holds().get("sockets"), "open with no job");
      lab.watch().tell(new WatchActor.Unsubscribe(socket.getRef()));
      lab.watch().tell(new WatchActor.GetStats(stats.getRef()));
      ActorStats after = stats.receiveMessage(WAIT);
      assertEquals(0L, after.holds().get("sockets"));
      assertEquals(0L, after.holds().get("followed_jobs"));
    }
  }

  /**
   * A job known retired stays followed while a wait still waits on another job; a stream of it
   * opened then gets its last state and its close at once: no later change would bring one,
   * and the stream stayed open for good (a `submit -m` that never returned).
   */
  @Test
  void aNewStreamOfAJobKnownRetiredClosesAtOnce() {
    TestProbe<LifecycleActor.Command> lifecycle = testKit.createTestProbe();
    ActorRef<WatchActor.Command> watch = actors.spawn(WatchActor.create(lifecycle.getRef(), WAIT, Clock.systemUTC()));
    TestProbe<WatchActor.WaitResult> waited = testKit.createTestProbe();
    watch.tell(new WatchActor.Wait(Map.of(5L, WaitCondition.parse("5", null), 6L, WaitCondition.parse("6", null)),
        Duration.ofSeconds(30), waited.getRef()));
    // job 5's read is answered (retired), job 6's is held
    LifecycleActor.Get read5 = null;
    for (int i = 0; i < 10 && read5 == null; i++) {
      if (lifecycle.receiveMessage(WAIT) instanceof LifecycleActor.Get g && g.id() == 5L) {
        read5 = g;
      }
    }
    assertTrue(read5 != null, "job 5 read");
    read5.replyTo().tell(Outcome.ok(finished(5, DataReadiness.COMPLETE).view()));
    waited.expectNoMessage(Duration.ofMillis(200));

    TestProbe<WatchActor.Event> out = testKit.createTestProbe();
    watch.tell(new WatchActor.Subscribe(List.of(5L), out.getRef(), null));
    WatchActor.JobEvent state = assertInstanceOf(WatchActor.JobEvent.class, out.receiveMessage(WAIT));
    assertEquals("finish", state.fields().path("job_stage").asText());
    WatchActor.Closed closed = assertInstanceOf(WatchActor.Closed.class, out.receiveMessage(WAIT));
    assertEquals(5L, closed.id());
    assertEquals(null, closed.error());
    assertInstanceOf(WatchActor.End.class, out.receiveMessage(WAIT));
  }
}
