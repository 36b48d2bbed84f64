package org.compassci.sched.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
  static final class FaultyClock extends UtcClock {
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

  /**
   * The embedded store, with one commit held at the gate when {@link #holdNext} is set, and the
   * commit after the held one failing when {@link #failAfterHold} is set.
   */
  static final class GatedStore {
    final java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
    final AtomicBoolean holdNext = new AtomicBoolean();
    final AtomicBoolean held = new AtomicBoolean();
    final AtomicBoolean failAfterHold = new AtomicBoolean();
    final org.compassci.sched.persistence.JobStore store;

    GatedStore(JdbcJobStore real) {
      store = (org.compassci.sched.persistence.JobStore) java.lang.reflect.Proxy.newProxyInstance(
          getClass().getClassLoader(), new Class<?>[] {org.compassci.sched.persistence.JobStore.class},
          (proxy, m, args) -> {
            if (m.getName().equals("commit")) {
              if (holdNext.compareAndSet(true, false)) {
                held.set(true);
                gate.await();
              } else if (held.get() && failAfterHold.compareAndSet(true, false)) {
                throw new org.compassci.sched.persistence.StoreUnavailableException("injected outage", null);
              }
            }
            try {
              return m.invoke(real, args);
            } catch (java.lang.reflect.InvocationTargetException e) {
              throw e.getCause();
            }
          });
    }
  }

  private static long waiting(ActorRef<PersistenceActor.Command> persistence) {
    TestProbe<ActorStats> stats = testKit.createTestProbe();
    persistence.tell(new PersistenceActor.GetStats(stats.getRef()));
    return stats.receiveMessage(WAIT).holds().get("writes_waiting");
  }

  private static Testbox box(String host) {
    return new Testbox(host, Set.of("hostname=" + host, "arch=x86_64", "tbox_type=dc", "tbox_group=" + host), 65536);
  }

  /**
   * A matcher restarts while a hand-out is being made durable. The new one reads the job as
   * queued (the claim has not committed) and hands it to another box, whose claim lands in the
   * same commit as the first. One box gets the job; the other is told there is none.
   */
  @Test
  void aHandOutInFlightAcrossARestartGoesToOneBoxOnly() throws Exception {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 4)) {
      RestartWithAClaimInFlight r = restartWithAClaimInFlight(real, false);
      ActorRef<MatcherActor.Command> matcher = r.matcher();
      TestProbe<MatcherActor.DispatchResult> third = testKit.createTestProbe();
      MatcherActor.DispatchResult thirdAnswer = null;
      // the new matcher answers Unavailable while it loads, for as long as that takes on a busy
      // machine; once it has the job, h3's claim waits
      for (long end = System.nanoTime() + WAIT.toNanos(); System.nanoTime() < end; ) {
        matcher.tell(new MatcherActor.Dispatch(box("h3"), Duration.ZERO, third.getRef()));
        thirdAnswer = poll(third, Duration.ofMillis(300));
        if (thirdAnswer == null) {
          break;
        }
        Thread.sleep(20);
      }
      assertEquals(null, thirdAnswer, "h3's claim waits behind the held commit");
      assertEquals(1, r.restarts().of("matcher"));
      r.gated().gate.countDown();
      List<MatcherActor.DispatchResult> answers = List.of(r.first().receiveMessage(WAIT), third.receiveMessage(WAIT));
      long got = answers.stream().filter(a -> a instanceof MatcherActor.Assigned g && g.id() == r.id()).count();
      assertEquals(1, got, "job " + r.id() + " handed out once: " + answers);
      assertInstanceOf(MatcherActor.NoJob.class, MatcherActorTest.dispatch(matcher, box("h4")));
      assertEquals("dispatch", real.find(r.id()).orElseThrow().stage());
    }
  }

  /**
   * A matcher restarts while a hand-out is being made durable, and that commit fails. The new
   * matcher keeps the job it read as queued (nothing of the old queue comes into the new one)
   * and hands it out once.
   */
  @Test
  void aHandOutThatFailsAfterARestartLeavesTheJobQueuedOnce() throws Exception {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 4)) {
      RestartWithAClaimInFlight r = restartWithAClaimInFlight(real, true);
      ActorRef<MatcherActor.Command> matcher = r.matcher();
      // the new matcher has read the queue: it answers a box that fits nothing
      Testbox arm = new Testbox("a1", Set.of("hostname=a1", "arch=aarch64", "tbox_type=dc", "tbox_group=a1"), 65536);
      TestProbe<MatcherActor.DispatchResult> armProbe = testKit.createTestProbe();
      MatcherActor.DispatchResult armAnswer = null;
      // Unavailable while it loads, which on a busy machine takes longer than a fixed number of
      // quick answers: the bound is a time
      for (long end = System.nanoTime() + WAIT.toNanos();
          !(armAnswer instanceof MatcherActor.NoJob) && System.nanoTime() < end; ) {
        matcher.tell(new MatcherActor.Dispatch(arm, Duration.ZERO, armProbe.getRef()));
        armAnswer = poll(armProbe, Duration.ofMillis(300));
        if (armAnswer instanceof MatcherActor.Unavailable) {
          Thread.sleep(20);
        }
      }
      assertInstanceOf(MatcherActor.NoJob.class, armAnswer);
      r.gated().gate.countDown();
      assertInstanceOf(MatcherActor.Unavailable.class, r.first().receiveMessage(WAIT));
      MatcherActor.Assigned a = assertInstanceOf(MatcherActor.Assigned.class, MatcherActorTest.dispatch(matcher, box("h3")));
      assertEquals(r.id(), a.id());
      assertInstanceOf(MatcherActor.NoJob.class, MatcherActorTest.dispatch(matcher, box("h4")));
      assertEquals(1, r.restarts().of("matcher"));
      assertEquals("dispatch", real.find(r.id()).orElseThrow().stage());
    }
  }

  /**
   * A lifecycle that throws in a handler restarts as a new instance, which reads the jobs out on
   * boxes from the store and must still give a lost hand-out back to the matcher.
   */
  @Test
  void aLifecycleThatRestartsStillGivesLostHandOutsBack(@TempDir Path results) throws Exception {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      org.compassci.sched.model.Timeouts quick = LifecycleActorTest.quickAck();
      FaultyClock clock = new FaultyClock();
      ActorRef<PersistenceActor.Command> persistence = actors.spawn(PersistenceActor.create(store, 100));
      TestProbe<MatcherActor.Command> matcher = testKit.createTestProbe();
      ActorRef<ExtractActor.Command> extract = actors.spawn(ExtractActor.create(
          new org.compassci.sched.extract.Extraction(org.compassci.sched.extract.Extraction.installed(),
              results, "/result"), Clock.systemUTC()));
      Restarts restarts = new Restarts();
      ActorRef<LifecycleActor.Command> lifecycle = actors.spawn(restarts.supervise("lifecycle",
          LifecycleActor.create(persistence, extract, testKit.system().ignoreRef(), quick, clock, matcher::getRef,
              Duration.ZERO)));
      org.compassci.sched.model.Job job = org.compassci.sched.model.Job.submitted(
          JobIntake.prepare(Json.parse("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}")), 5, Instant.now(), "/result");
      job.handOut("h1", "token", Instant.now());
      store.upsert(List.of(job.toRecord()));
      // the hand-out's deadline is set from the clock: the fault strikes there, and the new
      // instance finds the job in the store
      clock.armed.set(true);
      lifecycle.tell(new LifecycleActor.Track(job.toRecord()));
      MatcherActor.Requeue back = matcher.expectMessageClass(MatcherActor.Requeue.class, WAIT);
      assertEquals(5, back.id());
      assertEquals(1, restarts.of("lifecycle"));
    }
  }

  private record RestartWithAClaimInFlight(GatedStore gated, ActorRef<MatcherActor.Command> matcher,
      Restarts restarts, long id, TestProbe<MatcherActor.DispatchResult> first) {}

  /**
   * A supervised matcher with one job queued; a commit held at the store's gate (a job for a
   * box nobody has); box h1 asks, and its claim waits behind that commit; then a fault restarts
   * the matcher. {@code failAfterHold}: the commit after the held one (h1's claim) fails.
   */
  private RestartWithAClaimInFlight restartWithAClaimInFlight(JdbcJobStore real, boolean failAfterHold)
      throws Exception {
    GatedStore gated = new GatedStore(real);
    FaultyClock clock = new FaultyClock();
    Restarts restarts = new Restarts();
    ActorRef<PersistenceActor.Command> persistence = actors.spawn(PersistenceActor.create(gated.store, 100));
    TestProbe<LifecycleActor.Command> lifecycle = testKit.createTestProbe();
    ActorRef<MatcherActor.Command> matcher = actors.spawn(restarts.supervise("matcher",
        MatcherActor.create(persistence, lifecycle.getRef(),
            SchedulerSettings.fromConfig(testKit.system().settings().config()), clock)));
    long id = submit(matcher, "{\"suite\":\"s\",\"testbox\":\"dc-8g\"}");
    gated.holdNext.set(true);
    gated.failAfterHold.set(failAfterHold);
    matcher.tell(new MatcherActor.Submit(List.of(JobIntake.prepare(Json.parse(
        "{\"suite\":\"t\",\"testbox\":\"vm-2p8g\",\"arch\":\"riscv64\"}"))),
        testKit.createTestProbe(MatcherActor.SubmitResult.class).getRef()));
    for (long end = System.nanoTime() + WAIT.toNanos(); !gated.held.get() && System.nanoTime() < end; ) {
      Thread.sleep(20);
    }
    assertTrue(gated.held.get(), "the commit is held");
    TestProbe<MatcherActor.DispatchResult> first = testKit.createTestProbe();
    matcher.tell(new MatcherActor.Dispatch(box("h1"), Duration.ZERO, first.getRef()));
    for (long end = System.nanoTime() + WAIT.toNanos(); waiting(persistence) < 1 && System.nanoTime() < end; ) {
      Thread.sleep(20);
    }
    // a fault in the matcher: it restarts while h1's claim waits
    clock.armed.set(true);
    matcher.tell(new MatcherActor.Dispatch(box("h2"), Duration.ZERO,
        testKit.createTestProbe(MatcherActor.DispatchResult.class).getRef()));
    return new RestartWithAClaimInFlight(gated, matcher, restarts, id, first);
  }

  /** The probe's next message, or null when none comes within {@code d}. */
  private static <T> T poll(TestProbe<T> probe, Duration d) {
    try {
      return probe.receiveMessage(d);
    } catch (AssertionError none) {
      return null;
    }
  }

  private static long submit(ActorRef<MatcherActor.Command> matcher, String json) {
    TestProbe<MatcherActor.SubmitResult> submitted = testKit.createTestProbe();
    matcher.tell(new MatcherActor.Submit(List.of(JobIntake.prepare(Json.parse(json))), submitted.getRef()));
    return submitted.receiveMessage(WAIT).jobs().get(0).id();
  }

  /** The system clock, whose instant() throws once when armed: a fault inside any handler that notes its activity. */
  static final class FaultyInstant extends UtcClock {
    final AtomicBoolean armed = new AtomicBoolean();

    @Override
    public Instant instant() {
      if (armed.compareAndSet(true, false)) {
        throw new IllegalStateException("injected fault");
      }
      return Instant.now();
    }
  }

  /**
   * A watch actor restarted after a failure knows none of its followers: it ends their streams
   * (without closing their jobs: the CLI and the kit then follow them again, of the new
   * incarnation) and answers their waits. Before, they stayed open and heard nothing more.
   */
  @Test
  void aWatchActorThatThrowsClosesItsStreamsAndAnswersItsWaits() {
    FaultyInstant clock = new FaultyInstant();
    TestProbe<LifecycleActor.Command> lifecycle = testKit.createTestProbe();
    ActorRef<WatchActor.Command> watch = actors.spawn(new Restarts().supervise("watch",
        WatchActor.create(lifecycle.getRef(), WAIT, clock)));
    org.compassci.sched.model.Job job = org.compassci.sched.model.Job.submitted(
        JobIntake.prepare(Json.parse("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}")), 5, Instant.now(), "/result");
    job.handOut("h1", "tok", Instant.now());

    TestProbe<WatchActor.Event> stream = testKit.createTestProbe();
    watch.tell(new WatchActor.Subscribe(List.of(5L), stream.getRef(), null));
    lifecycle.expectMessageClass(LifecycleActor.Watch.class);
    lifecycle.expectMessageClass(LifecycleActor.Get.class).replyTo().tell(
        org.compassci.sched.model.Outcome.ok(job.view()));
    assertInstanceOf(WatchActor.JobEvent.class, stream.receiveMessage(WAIT));
    TestProbe<WatchActor.Event> socket = testKit.createTestProbe();
    watch.tell(new WatchActor.OpenSocket(socket.getRef(), null, 10));
    watch.tell(new WatchActor.Follow(socket.getRef(), List.of(5L)));
    assertInstanceOf(WatchActor.JobEvent.class, socket.receiveMessage(WAIT));
    TestProbe<WatchActor.WaitResult> waited = testKit.createTestProbe();
    watch.tell(new WatchActor.Wait(java.util.Map.of(5L, org.compassci.sched.watch.WaitCondition.parse("5",
        Json.parse("{\"job_stage\":\"finish\"}"))), Duration.ofMinutes(5), waited.getRef()));

    // the wait is in before the fault is armed (a tell is not handled at once)
    TestProbe<ActorStats> stats = testKit.createTestProbe();
    watch.tell(new WatchActor.GetStats(stats.getRef()));
    assertEquals(1L, stats.receiveMessage(WAIT).holds().get("waits"));
    clock.armed.set(true);
    job.setStage(org.compassci.sched.model.JobStage.RUNNING, Instant.now());
    watch.tell(new WatchActor.Changed(5, job.view()));
    for (TestProbe<WatchActor.Event> out : List.of(stream, socket)) {
      assertInstanceOf(WatchActor.End.class, out.receiveMessage(WAIT));
    }
    assertEquals(Set.of(5L), waited.receiveMessage(WAIT).remaining().keySet());
    LifecycleActor.Watch unwatched = lifecycle.expectMessageClass(LifecycleActor.Watch.class);
    assertEquals(5, unwatched.id());
    assertTrue(!unwatched.on());

    // the new incarnation serves the next watcher
    TestProbe<WatchActor.Event> again = testKit.createTestProbe();
    watch.tell(new WatchActor.Subscribe(List.of(5L), again.getRef(), null));
    lifecycle.expectMessageClass(LifecycleActor.Watch.class);
    lifecycle.expectMessageClass(LifecycleActor.Get.class).replyTo().tell(
        org.compassci.sched.model.Outcome.ok(job.view()));
    assertEquals("running", assertInstanceOf(WatchActor.JobEvent.class, again.receiveMessage(WAIT))
        .state().path("job_stage").asText());
  }

  /**
   * A store actor restarted after a failure answers the writes that waited for its next commit
   * as a failed commit's (a kept state is still written, once the store is free), and the commit
   * it had out is answered as it went; a drain is answered only once that commit is in. Before,
   * the waiting writes were forgotten: their writers waited for good (a claim's job stayed out of
   * its queue until a resync; a retiring job stayed in memory), and a drain could be answered
   * with claims still being committed.
   */
  @Test
  void aStoreActorThatThrowsAnswersTheWritesThatWaited() throws Exception {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 2)) {
      java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
      AtomicBoolean fault = new AtomicBoolean();
      TestProbe<PersistenceActor.Written> first = testKit.createTestProbe();
      TestProbe<PersistenceActor.Written> waiting = testKit.createTestProbe();
      // held at the gate: the next two wait for the following commit
      ActorRef<PersistenceActor.Command> p = writingWithItsCommitHeld(real, gate, fault, 71, first);
      p.tell(new PersistenceActor.Write(List.of(record(72)), "second", waiting.getRef()));
      p.tell(PersistenceActor.Write.kept(List.of(record(73)), "third", waiting.getRef()));
      fault.set(true);
      strike(p);
      for (String context : List.of("second", "third")) {
        PersistenceActor.Written w = waiting.receiveMessage(WAIT);
        assertEquals(context, w.context());
        assertTrue(w.error().isPresent(), "answered failed");
      }
      TestProbe<org.apache.pekko.Done> drained = testKit.createTestProbe();
      p.tell(new PersistenceActor.Drain(drained.getRef()));
      drained.expectNoMessage(Duration.ofMillis(300));
      gate.countDown();
      PersistenceActor.Written out = first.receiveMessage(WAIT);
      assertEquals("out", out.context());
      assertTrue(out.error().isEmpty(), out.toString());
      drained.receiveMessage(WAIT);
      assertTrue(real.find(71).isPresent());
      assertTrue(real.find(72).isEmpty());
      // the kept state is written by the next incarnation (its store check replays it within a second)
      long until = System.nanoTime() + WAIT.toNanos();
      while (real.find(73).isEmpty() && System.nanoTime() < until) {
        Thread.sleep(50);
      }
      assertTrue(real.find(73).isPresent(), "the kept state was written");
      // the restarted actor writes as before
      TestProbe<PersistenceActor.Written> after = testKit.createTestProbe();
      p.tell(new PersistenceActor.Write(List.of(record(72)), "again", after.getRef()));
      assertTrue(after.receiveMessage(WAIT).error().isEmpty());
      assertTrue(real.find(72).isPresent());
    }
  }

  /**
   * A barrier is answered only once the writes told before it are in: a restarted lifecycle loads
   * its jobs after it, or a job whose final state was still on its way was read as running, taken
   * in again, and later timed out over its success.
   */
  @Test
  void aBarrierIsAnsweredOnceTheWritesBeforeItAreIn() throws Exception {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 2)) {
      java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
      org.compassci.sched.persistence.JobStore store = StoreHooks.before(real, method -> {
        if (method.equals("commit")) {
          gate.await(30, java.util.concurrent.TimeUnit.SECONDS);
        }
      });
      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(store, 100));
      TestProbe<Object> order = testKit.createTestProbe();
      TestProbe<PersistenceActor.Written> written = testKit.createTestProbe();
      p.tell(new PersistenceActor.Write(List.of(record(81)), "first", written.getRef()));
      p.tell(new PersistenceActor.Write(List.of(record(82)), "second", written.getRef()));
      TestProbe<org.apache.pekko.Done> barrier = testKit.createTestProbe();
      p.tell(new PersistenceActor.Barrier(barrier.getRef()));
      barrier.expectNoMessage(Duration.ofMillis(300));
      gate.countDown();
      assertEquals("first", written.receiveMessage(WAIT).context());
      assertEquals("second", written.receiveMessage(WAIT).context());
      barrier.receiveMessage(WAIT);
      assertTrue(real.find(81).isPresent() && real.find(82).isPresent());
      // with nothing before it, at once, without a transaction of its own
      p.tell(new PersistenceActor.Barrier(barrier.getRef()));
      barrier.receiveMessage(WAIT);
    }
  }

  /**
   * A write that failed while the store was away, and is kept to be written again, is a write
   * told before the barrier and not yet in: the barrier waits for its replay. Answered at once, a
   * restarted lifecycle's load could read the job's older row and take it in as running.
   */
  @Test
  void aBarrierWaitsForTheStatesKeptWhileTheStoreWasAway() throws Exception {
    barrierBehindAKeptState(91, false);
  }

  /**
   * The same across a restart of the store's actor: the states kept while the store was away go
   * on to the next incarnation, and so does the barrier behind them. It used to be answered at
   * the restart, before they were in.
   */
  @Test
  void aBarrierWaitsForTheKeptStatesAcrossARestart() throws Exception {
    barrierBehindAKeptState(93, true);
  }

  private void barrierBehindAKeptState(long id, boolean restart) throws Exception {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 2)) {
      AtomicBoolean away = new AtomicBoolean(true);
      AtomicBoolean fault = new AtomicBoolean();
      org.compassci.sched.persistence.JobStore store = StoreHooks.before(
          StoreHooks.commitsFailWhile(real, away, "the store is away"), method -> {
            if (method.equals("epochTicket") && fault.compareAndSet(true, false)) {
              throw new IllegalStateException("injected fault");
            }
          });
      ActorRef<PersistenceActor.Command> p = actors.spawn(new Restarts().supervise("persistence",
          PersistenceActor.create(store, 100)));
      TestProbe<PersistenceActor.Written> written = testKit.createTestProbe();
      p.tell(PersistenceActor.Write.kept(List.of(record(id)), "kept", written.getRef()));
      assertTrue(written.receiveMessage(WAIT).error().isPresent());
      TestProbe<org.apache.pekko.Done> barrier = testKit.createTestProbe();
      p.tell(new PersistenceActor.Barrier(barrier.getRef()));
      if (restart) {
        Thread.sleep(300);
        fault.set(true);
        strike(p);
      }
      barrier.expectNoMessage(Duration.ofMillis(1500));
      assertFalse(fault.get(), "the fault struck, if armed");
      away.set(false);
      barrier.receiveMessage(WAIT);
      assertTrue(real.find(id).isPresent(), "the kept state is in before the barrier is answered");
    }
  }

  /** And a barrier still waiting for the next commit at the restart waits for the commit that was out. */
  @Test
  void aBarrierWaitingAtARestartWaitsForTheCommitOut() throws Exception {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 2)) {
      java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
      AtomicBoolean fault = new AtomicBoolean();
      TestProbe<PersistenceActor.Written> first = testKit.createTestProbe();
      ActorRef<PersistenceActor.Command> p = writingWithItsCommitHeld(real, gate, fault, 94, first);
      TestProbe<org.apache.pekko.Done> barrier = testKit.createTestProbe();
      p.tell(new PersistenceActor.Barrier(barrier.getRef()));
      fault.set(true);
      strike(p);
      barrier.expectNoMessage(Duration.ofMillis(1000));
      assertFalse(fault.get(), "the fault struck");
      gate.countDown();
      assertTrue(first.receiveMessage(WAIT).error().isEmpty());
      barrier.receiveMessage(WAIT);
      assertTrue(real.find(94).isPresent());
    }
  }

  /**
   * A job's state kept at a restart (it waited behind the commit out) is newer than the one that
   * commit carries. It used to be dropped when that commit took ("what was just written is
   * newer than what was kept") and written over by the older one when it failed: the store kept
   * the older state for good.
   */
  @Test
  void aStateKeptAtARestartIsNotLostToTheOlderOneInTheCommitOut() throws Exception {
    newerStateBehindTheCommitOut(95, false);
  }

  @Test
  void aStateKeptAtARestartIsNotWrittenOverByTheOlderOneInAFailedCommitOut() throws Exception {
    newerStateBehindTheCommitOut(96, true);
  }

  private void newerStateBehindTheCommitOut(long id, boolean commitOutFails) throws Exception {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 2)) {
      java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
      AtomicBoolean fault = new AtomicBoolean();
      AtomicBoolean away = new AtomicBoolean();
      org.compassci.sched.persistence.JobStore store = StoreHooks.before(real, method -> {
        if (method.equals("commit")) {
          gate.await(30, java.util.concurrent.TimeUnit.SECONDS);
          if (away.get()) {
            throw new org.compassci.sched.persistence.StoreUnavailableException("the store is away", null);
          }
        } else if (method.equals("epochTicket") && fault.compareAndSet(true, false)) {
          throw new IllegalStateException("injected fault");
        }
      });
      ActorRef<PersistenceActor.Command> p = actors.spawn(new Restarts().supervise("persistence",
          PersistenceActor.create(store, 100)));
      TestProbe<PersistenceActor.Written> written = testKit.createTestProbe();
      org.compassci.sched.persistence.JobRecord older = record(id);
      org.compassci.sched.persistence.JobRecord newer = new org.compassci.sched.persistence.JobRecord(
          id, "running", older.health(), older.readiness(), older.tenant(), older.tboxGroup(),
          older.submitTimeMillis(), older.document(), "h1", older.tokenHash(), older.dispatchTimeMillis());
      p.tell(PersistenceActor.Write.kept(List.of(older), "older", written.getRef()));
      Thread.sleep(300);
      p.tell(PersistenceActor.Write.kept(List.of(newer), "newer", written.getRef()));
      away.set(commitOutFails);
      fault.set(true);
      strike(p);
      PersistenceActor.Written atRestart = written.receiveMessage(WAIT);
      assertEquals("newer", atRestart.context());
      assertTrue(atRestart.error().isPresent(), "answered failed at the restart, and kept");
      assertFalse(fault.get(), "the fault struck");
      gate.countDown();
      PersistenceActor.Written out = written.receiveMessage(WAIT);
      assertEquals("older", out.context());
      assertEquals(commitOutFails, out.error().isPresent());
      away.set(false);
      // the kept states are written at the store's next check, once a second
      String stage = null;
      for (int i = 0; i < 400 && !"running".equals(stage); i++) {
        Thread.sleep(50);
        stage = real.find(id).map(org.compassci.sched.persistence.JobRecord::stage).orElse(null);
      }
      assertEquals("running", stage, "the newer state is the one the store keeps");
      Thread.sleep(1500);
      assertEquals("running", real.find(id).orElseThrow().stage(), "and no older one comes after it");
    }
  }

  /** {@code real}, its commits held until {@code gate} opens, and a fault armed by {@code fault}: see {@link #strike}. */
  private static org.compassci.sched.persistence.JobStore commitsHeldAndAFault(JdbcJobStore real,
      java.util.concurrent.CountDownLatch gate, AtomicBoolean fault) {
    return StoreHooks.before(real, method -> {
      if (method.equals("commit")) {
        gate.await(30, java.util.concurrent.TimeUnit.SECONDS);
      } else if (method.equals("epochTicket") && fault.compareAndSet(true, false)) {
        throw new IllegalStateException("injected fault");
      }
    });
  }

  /**
   * A store's actor under a supervisor that restarts it, over {@link #commitsHeldAndAFault}, with
   * a write of job {@code id} (context "out", told to {@code first}) sent and its commit held.
   */
  private ActorRef<PersistenceActor.Command> writingWithItsCommitHeld(JdbcJobStore real,
      java.util.concurrent.CountDownLatch gate, AtomicBoolean fault, long id,
      TestProbe<PersistenceActor.Written> first) throws InterruptedException {
    ActorRef<PersistenceActor.Command> p = actors.spawn(new Restarts().supervise("persistence",
        PersistenceActor.create(commitsHeldAndAFault(real, gate, fault), 100)));
    p.tell(new PersistenceActor.Write(List.of(record(id)), "out", first.getRef()));
    Thread.sleep(300);
    return p;
  }

  /** A request the store's actor runs on its own thread: with the fault armed, it throws there and restarts. */
  private static void strike(ActorRef<PersistenceActor.Command> p) {
    p.tell(new PersistenceActor.NextEpoch("a:1", System.currentTimeMillis(), System.nanoTime() + 5_000_000_000L,
        testKit.<PersistenceActor.Epoch>createTestProbe().getRef()));
  }

  private static org.compassci.sched.persistence.JobRecord record(long id) {
    return org.compassci.sched.model.Job.submitted(JobIntake.prepare(Json.parse(
        "{\"suite\":\"s\",\"testbox\":\"dc-8g\"}")), id, Instant.now(), "/result").toRecord();
  }
}
