package org.compassci.sched.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.compassci.sched.extract.Extraction;
import org.compassci.sched.model.Job;
import org.compassci.sched.model.JobIntake;
import org.compassci.sched.model.JobUpdate;
import org.compassci.sched.model.Json;
import org.compassci.sched.model.Outcome;
import org.compassci.sched.model.Timeouts;
import org.compassci.sched.persistence.JdbcJobStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LifecycleActorTest {

  static final ActorTestKit testKit = ActorTestKit.create();

  @AfterAll
  static void shutdown() {
    testKit.shutdownTestKit();
  }

  @org.junit.jupiter.api.extension.RegisterExtension
  final Spawned actors = new Spawned(testKit);

  @TempDir Path dir;
  @TempDir Path results;

  private ActorRef<ExtractActor.Command> extractor() {
    return actors.spawn(ExtractActor.create(
        new Extraction(Extraction.installed(), results, "/result"), Clock.systemUTC()));
  }

  private static Job dispatchedJob(long id) {
    Job job = Job.submitted(JobIntake.prepare(Json.parse("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}")),
        id, Instant.now(), "/result");
    job.handOut("h1", "tok", Instant.now());
    return job;
  }

  /** The lifecycle's first word to its store, a barrier behind any write of an earlier incarnation: passed. */
  private static void passBarrier(TestProbe<PersistenceActor.Command> store) {
    store.expectMessageClass(PersistenceActor.Barrier.class).replyTo().tell(org.apache.pekko.Done.getInstance());
  }

  /** A lifecycle whose store is {@code store}, past its load (the store had no active job). */
  private ActorRef<LifecycleActor.Command> loadedOn(TestProbe<PersistenceActor.Command> store) {
    return loadedOn(store, Timeouts.defaults());
  }

  private ActorRef<LifecycleActor.Command> loadedOn(TestProbe<PersistenceActor.Command> store, Timeouts timeouts) {
    return loadedOn(store, timeouts, testKit.createTestProbe());
  }

  private ActorRef<LifecycleActor.Command> loadedOn(TestProbe<PersistenceActor.Command> store, Timeouts timeouts,
      TestProbe<HostRegistryActor.Command> hosts) {
    ActorRef<LifecycleActor.Command> lc = actors.spawn(LifecycleActor.create(store.getRef(), extractor(),
        hosts.getRef(), timeouts, java.time.Clock.systemUTC()));
    passBarrier(store);
    // the active jobs, then the ended ones whose data is still to settle: none of either
    for (int part = 0; part < 2; part++) {
      store.expectMessageClass(PersistenceActor.LoadStages.class).replyTo()
          .tell(new PersistenceActor.LoadResult(List.of(), java.util.Optional.empty(), true));
    }
    return lc;
  }

  /**
   * Cluster mode: the start-up load waits until this node's matcher holds the current epoch.
   * Read before, a job's row could still be changed by the node this one replaces, whose writes
   * the store refuses only from then on.
   */
  @Test
  void inAClusterTheLoadWaitsForThisNodesEpoch() {
    TestProbe<PersistenceActor.Command> store = testKit.createTestProbe();
    TestProbe<HostRegistryActor.Command> hosts = testKit.createTestProbe();
    actors.spawn(LifecycleActor.create(store.getRef(), extractor(), hosts.getRef(), Timeouts.defaults(),
        java.time.Clock.systemUTC(), () -> null, Duration.ZERO, "10.0.0.2:25520"));
    passBarrier(store);
    // none yet; another process's, even under this node's name (a stable hostname)
    for (String node : List.of("", "10.0.0.1:25520", "10.0.0.2:25520")) {
      PersistenceActor.ReadEpoch read = store.expectMessageClass(PersistenceActor.ReadEpoch.class, Duration.ofSeconds(10));
      read.replyTo().tell(new PersistenceActor.Epoch(node.isEmpty() ? java.util.Optional.empty()
          : java.util.Optional.of(new org.compassci.sched.persistence.MatcherEpoch(7, node, 1L)), 0,
          java.util.Optional.empty(), false));
    }
    PersistenceActor.ReadEpoch read = store.expectMessageClass(PersistenceActor.ReadEpoch.class, Duration.ofSeconds(10));
    read.replyTo().tell(new PersistenceActor.Epoch(java.util.Optional.of(
        new org.compassci.sched.persistence.MatcherEpoch(8, "10.0.0.2:25520", 2L)), 0, java.util.Optional.empty(), true));
    store.expectMessageClass(PersistenceActor.LoadStages.class, Duration.ofSeconds(10));
  }

  /**
   * A watch actor listed only after the lifecycle has loaded (in a cluster, a node whose entry
   * reaches the new singleton's node late) is still asked to follow its jobs again: looked up
   * once at the load, it was missed, and its streams heard nothing from this lifecycle.
   */
  @Test
  void aWatchActorListedAfterTheLoadIsAskedToFollowItsJobsAgain() {
    TestProbe<PersistenceActor.Command> store = testKit.createTestProbe();
    loadedOn(store);
    // the load is over once the lifecycle asks the store for nothing more; then a watcher comes
    store.expectNoMessage(Duration.ofMillis(300));
    TestProbe<WatchActor.Command> watcher = testKit.createTestProbe();
    testKit.system().receptionist().tell(org.apache.pekko.actor.typed.receptionist.Receptionist.register(
        WatchActor.WATCHERS, watcher.getRef()));
    try {
      watcher.expectMessageClass(WatchActor.LifecycleStarted.class, Duration.ofSeconds(10));
    } finally {
      testKit.system().receptionist().tell(org.apache.pekko.actor.typed.receptionist.Receptionist.deregister(
          WatchActor.WATCHERS, watcher.getRef()));
    }
  }

  /**
   * The matcher takes a hand-out back (Forget) while a read of that job is out: the read's answer,
   * older than the take-back, must not bring the job into memory as handed out (its box gone, and
   * the matcher queueing it again). The job is read again instead.
   */
  @Test
  void aTakeBackWhileAReadIsOutIsNotUndoneByTheRead() {
    TestProbe<PersistenceActor.Command> store = testKit.createTestProbe();
    ActorRef<LifecycleActor.Command> lc = loadedOn(store);
    Job job = dispatchedJob(31);
    TestProbe<Outcome> got = testKit.createTestProbe();
    lc.tell(new LifecycleActor.Get(31, got.getRef()));
    PersistenceActor.Find find = store.expectMessageClass(PersistenceActor.Find.class);
    Job back = dispatchedJob(31);
    back.requeue("the box hung up");
    lc.tell(new LifecycleActor.Forget(31, "h1", job.tokenHash(), back.view()));
    // the read answers what it saw before the take-back committed
    find.replyTo().tell(new PersistenceActor.FindResult(31, java.util.Optional.of(job.toRecord()),
        java.util.Optional.empty()));
    PersistenceActor.Find again = store.expectMessageClass(PersistenceActor.Find.class, Duration.ofSeconds(10));
    again.replyTo().tell(new PersistenceActor.FindResult(31, java.util.Optional.of(back.toRecord()),
        java.util.Optional.empty()));
    assertEquals("submit", got.receiveMessage(Duration.ofSeconds(10)).job().path("job_stage").asText());
  }

  /**
   * Requests past the loading lifecycle's stash (the store away at a start, and a busy lab) are
   * answered unavailable at once: before, the stash overflowed, the actor failed, and every
   * stashed asker waited out its timeout, again and again while the store stayed away.
   */
  @Test
  void requestsPastAFullStashWhileLoadingAreAnsweredUnavailable() {
    TestProbe<PersistenceActor.Command> store = testKit.createTestProbe();
    ActorRef<LifecycleActor.Command> lc = actors.spawn(LifecycleActor.create(store.getRef(), extractor(),
        testKit.<HostRegistryActor.Command>createTestProbe().getRef(), Timeouts.defaults(), java.time.Clock.systemUTC()));
    passBarrier(store);
    PersistenceActor.LoadStages active = store.expectMessageClass(PersistenceActor.LoadStages.class);
    TestProbe<Outcome> waiting = testKit.createTestProbe();
    for (int i = 0; i < LifecycleActor.STASH - LifecycleActor.STASH_KEPT_FOR_THE_ACTORS; i++) {
      lc.tell(new LifecycleActor.Get(1_000_000 + i, waiting.getRef()));
    }
    TestProbe<Outcome> past = testKit.createTestProbe();
    lc.tell(new LifecycleActor.Get(7, past.getRef()));
    assertEquals(Outcome.Status.UNAVAILABLE, past.receiveMessage(Duration.ofSeconds(10)).status());
    waiting.expectNoMessage(Duration.ofMillis(100));
    // still the same actor, still loading: a further request is answered the same way
    TestProbe<Outcome> later = testKit.createTestProbe();
    lc.tell(new LifecycleActor.Get(8, later.getRef()));
    assertEquals(Outcome.Status.UNAVAILABLE, later.receiveMessage(Duration.ofSeconds(10)).status());
    // what the actors tell still has room: a hand-out's Track is taken once the jobs are in
    lc.tell(new LifecycleActor.Track(dispatchedJob(9).toRecord()));
    active.replyTo().tell(new PersistenceActor.LoadResult(List.of(), java.util.Optional.empty(), true));
    store.expectMessageClass(PersistenceActor.LoadStages.class).replyTo()
        .tell(new PersistenceActor.LoadResult(List.of(), java.util.Optional.empty(), true));
    TestProbe<ActorStats> stats = testKit.createTestProbe();
    lc.tell(new LifecycleActor.GetStats(stats.getRef()));
    assertEquals(1L, stats.receiveMessage(Duration.ofSeconds(30)).holds().get("handed_out_unread"));
  }

  /**
   * A lifecycle handed over answers what still waits instead of dropping it: a read asked while
   * it loaded, and one waiting for its job's read from the store. Their askers ask again, of the
   * next lifecycle, rather than wait out their ask.
   */
  @Test
  void aLifecycleHandedOverAnswersWhatStillWaits() {
    TestProbe<PersistenceActor.Command> loadingStore = testKit.createTestProbe();
    ActorRef<LifecycleActor.Command> loading = actors.spawn(LifecycleActor.create(loadingStore.getRef(), extractor(),
        testKit.<HostRegistryActor.Command>createTestProbe().getRef(), Timeouts.defaults(), java.time.Clock.systemUTC()));
    passBarrier(loadingStore);
    loadingStore.expectMessageClass(PersistenceActor.LoadStages.class);
    TestProbe<Outcome> early = testKit.createTestProbe();
    loading.tell(new LifecycleActor.Get(21, early.getRef()));
    loading.tell(new LifecycleActor.HandOver());
    assertEquals(Outcome.Status.UNAVAILABLE, early.receiveMessage(Duration.ofSeconds(10)).status());

    TestProbe<PersistenceActor.Command> store = testKit.createTestProbe();
    ActorRef<LifecycleActor.Command> lc = loadedOn(store);
    TestProbe<Outcome> reading = testKit.createTestProbe();
    lc.tell(new LifecycleActor.Get(22, reading.getRef()));
    store.expectMessageClass(PersistenceActor.Find.class);
    lc.tell(new LifecycleActor.HandOver());
    store.expectMessageClass(PersistenceActor.Drain.class).replyTo().tell(org.apache.pekko.Done.getInstance());
    assertEquals(Outcome.Status.UNAVAILABLE, reading.receiveMessage(Duration.ofSeconds(10)).status());
  }

  private static Outcome update(ActorRef<LifecycleActor.Command> lc, long id, JobUpdate.Mode mode,
      String name, String value) {
    TestProbe<Outcome> probe = testKit.createTestProbe();
    lc.tell(new LifecycleActor.Update(id, List.of(new JobUpdate.Param(name, value)), mode, probe.getRef()));
    return probe.receiveMessage(Duration.ofSeconds(10));
  }

  /** A dispatch-ack timeout short enough for a test; everything else as by default. */
  /** A lifecycle over {@code store} with a short dispatch-ack, telling {@code matcher} of lost hand-outs. */
  private ActorRef<LifecycleActor.Command> quickLifecycle(org.compassci.sched.persistence.JobStore store,
      TestProbe<MatcherActor.Command> matcher) {
    ActorRef<PersistenceActor.Command> persistence = actors.spawn(PersistenceActor.create(store, 100));
    ActorRef<LifecycleActor.Command> lc = actors.spawn(LifecycleActor.create(persistence, extractor(),
        quickAck(), Clock.systemUTC()));
    lc.tell(new LifecycleActor.UseMatcher(matcher.getRef()));
    return lc;
  }

  static Timeouts quickAck() {
    Timeouts d = Timeouts.defaults();
    return new Timeouts(d.dispatch(), Duration.ofMillis(300), d.boot(), d.bootVm(), d.bootDc(),
        d.setup(), d.waitPeer(), d.running(), d.postRun(), d.manualCheck(), d.requeueMax());
  }

  private static Job lostHandOut(long id) {
    Job job = Job.submitted(JobIntake.prepare(Json.parse("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}")),
        id, Instant.now().minusSeconds(60), "/result");
    job.handOut("h" + id, "tok" + id, Instant.now().minusSeconds(30));
    return job;
  }

  @Test
  void twoLostHandOutsTimingOutTogetherEachGetTheirOwnAnswer() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      Job one = lostHandOut(31);
      Job two = lostHandOut(32);
      store.upsert(List.of(one.toRecord(), two.toRecord()));
      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(store, 100));
      TestProbe<MatcherActor.Command> matcher = testKit.createTestProbe();
      ActorRef<LifecycleActor.Command> lc = actors.spawn(
          LifecycleActor.create(p, extractor(), quickAck(), Clock.systemUTC()));
      lc.tell(new LifecycleActor.UseMatcher(matcher.getRef()));
      MatcherActor.Requeue first = matcher.expectMessageClass(MatcherActor.Requeue.class, Duration.ofSeconds(10));
      MatcherActor.Requeue second = matcher.expectMessageClass(MatcherActor.Requeue.class, Duration.ofSeconds(10));
      MatcherActor.Requeue of31 = first.id() == 31 ? first : second;
      MatcherActor.Requeue of32 = first.id() == 31 ? second : first;
      // 32 goes back to the queue; 31's box reported meanwhile, so its requeue is refused and
      // the store's word decides: still a lost hand-out there, so it is requeued again
      Job back = Job.fromRecord(two.toRecord());
      back.returnToQueue();
      store.upsert(List.of(back.toRecord()));
      of32.replyTo().tell(new MatcherActor.Requeued(32, Outcome.ok(back.view())));
      of31.replyTo().tell(new MatcherActor.Requeued(31, Outcome.of(Outcome.Status.CONFLICT, "reported")));
      MatcherActor.Requeue again = matcher.expectMessageClass(MatcherActor.Requeue.class, Duration.ofSeconds(10));
      assertEquals(31, again.id(), "the refused requeue is the one read again");
    }
  }

  @Test
  void handOutsNotReportedInTimeGoBackAndReportedOnesStay() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(store, 100));
      TestProbe<MatcherActor.Command> matcher = testKit.createTestProbe();
      // the deadlines (300 ms after each hand-out) fall only once every report below is in
      StillClock clock = new StillClock();
      ActorRef<LifecycleActor.Command> lc = actors.spawn(
          LifecycleActor.create(p, extractor(), quickAck(), clock));
      lc.tell(new LifecycleActor.UseMatcher(matcher.getRef()));
      // loaded before the jobs are written: its load must not find them (a job loaded gets a
      // timer of its own, beside the queue of deadlines, and could fall out of their order)
      TestProbe<ActorStats> loaded = testKit.createTestProbe();
      lc.tell(new LifecycleActor.GetStats(loaded.getRef()));
      loaded.receiveMessage(Duration.ofSeconds(10));
      List<org.compassci.sched.persistence.JobRecord> first = new ArrayList<>();
      for (long id = 61; id <= 63; id++) {
        Job job = dispatchedJob(id);
        store.upsert(List.of(job.toRecord()));
        first.add(job.toRecord());
      }
      // one commit's hand-outs; 62's box reports in time
      lc.tell(new LifecycleActor.Track(first));
      assertEquals(Outcome.Status.OK, update(lc, 62, JobUpdate.Mode.STRICT, "job_stage", "boot").status());
      // a later hand-out, on its own
      Job later = dispatchedJob(64);
      store.upsert(List.of(later.toRecord()));
      lc.tell(new LifecycleActor.Track(later.toRecord()));
      matcher.expectNoMessage(Duration.ofMillis(500));
      clock.advance(Duration.ofSeconds(10));
      List<Long> requeued = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        requeued.add(matcher.expectMessageClass(MatcherActor.Requeue.class, Duration.ofSeconds(10)).id());
      }
      assertEquals(List.of(61L, 63L, 64L), requeued, "in the order their deadlines fell");
      matcher.expectNoMessage(Duration.ofMillis(500));
      assertEquals("boot", store.find(62).orElseThrow().stage());
    }
  }

  /**
   * A box known by its MAC boots again: of what it holds, only a hand-out it never fetched goes
   * back, counted as lost. Not one made after its request came (another request of the same box
   * was just answered with it), nor one in boot, nor one of another box, nor one whose requeues
   * are spent (its dispatch-ack timeout ends it abort_provider; it used to go round for ever).
   */
  @Test
  void aBoxThatBootsAgainGivesBackOnlyTheHandOutItNeverFetched() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(store, 100));
      TestProbe<MatcherActor.Command> matcher = testKit.createTestProbe();
      ActorRef<LifecycleActor.Command> lc = actors.spawn(LifecycleActor.create(p, extractor(),
          testKit.<HostRegistryActor.Command>createTestProbe().getRef(), Timeouts.defaults(), Clock.systemUTC()));
      lc.tell(new LifecycleActor.UseMatcher(matcher.getRef()));
      TestProbe<ActorStats> loaded = testKit.createTestProbe();
      lc.tell(new LifecycleActor.GetStats(loaded.getRef()));
      loaded.receiveMessage(Duration.ofSeconds(10));
      Job unfetched = dispatchedJob(71);
      Job booted = dispatchedJob(72);
      Job spent = dispatchedJob(73);
      for (int i = 0; i < Timeouts.defaults().requeueMax(); i++) {
        spent.requeue("lost");
        spent.handOut("h1", "tok", Instant.now());
      }
      Job another = Job.submitted(JobIntake.prepare(Json.parse("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}")),
          74, Instant.now(), "/result");
      another.handOut("h2", "tok", Instant.now());
      List<org.compassci.sched.persistence.JobRecord> records = List.of(unfetched.toRecord(), booted.toRecord(),
          spent.toRecord(), another.toRecord());
      store.upsert(records);
      lc.tell(new LifecycleActor.Track(records));
      assertEquals(Outcome.Status.OK, update(lc, 72, JobUpdate.Mode.STRICT, "job_stage", "boot").status());
      List<Long> held = List.of(71L, 72L, 73L, 74L);

      TestProbe<LifecycleActor.GivingBack> back = testKit.createTestProbe();
      lc.tell(new LifecycleActor.BootedAgain("h1", held, 0, back.getRef()));
      assertEquals(0, back.receiveMessage(Duration.ofSeconds(10)).jobs(), "a request older than every hand-out");
      matcher.expectNoMessage(Duration.ofMillis(300));

      lc.tell(new LifecycleActor.BootedAgain("h1", held, System.currentTimeMillis() + 60_000, back.getRef()));
      assertEquals(1, back.receiveMessage(Duration.ofSeconds(10)).jobs());
      MatcherActor.Requeue requeue = matcher.expectMessageClass(MatcherActor.Requeue.class, Duration.ofSeconds(10));
      assertEquals(71, requeue.id());
      assertTrue(requeue.reason().contains("booted again"), requeue.reason());
      matcher.expectNoMessage(Duration.ofMillis(300));
    }
  }

  @Test
  void aLostHandOutFoundAtStartIsRequeuedNotAborted() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      store.upsert(List.of(lostHandOut(41).toRecord()));
      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(store, 100));
      TestProbe<MatcherActor.Command> matcher = testKit.createTestProbe();
      // as at a restart: no Track has come, only the matcher given at spawn
      ActorRef<LifecycleActor.Command> lc = actors.spawn(
          LifecycleActor.create(p, extractor(), quickAck(), Clock.systemUTC()));
      lc.tell(new LifecycleActor.UseMatcher(matcher.getRef()));
      assertEquals(41, matcher.expectMessageClass(MatcherActor.Requeue.class, Duration.ofSeconds(10)).id());
      assertEquals("dispatch", store.find(41).orElseThrow().stage(), "not aborted");
    }
  }

  @Test
  void theLifecycleAloneTellsTheHostRegistryWhatABoxIsRunning() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(store, 100));
      TestProbe<HostRegistryActor.Command> hosts = testKit.createTestProbe();
      ActorRef<LifecycleActor.Command> lc = actors.spawn(LifecycleActor.create(p, extractor(),
          hosts.getRef(), Timeouts.defaults(), Clock.systemUTC()));
      Job job = dispatchedJob(51);
      store.upsert(List.of(job.toRecord()));
      lc.tell(new LifecycleActor.Track(job.toRecord()));
      HostRegistryActor.HandedOut h1 = new HostRegistryActor.HandedOut("h1", 51);
      HostRegistryActor.Command told = hosts.receiveMessage(Duration.ofSeconds(10));
      if (told.equals(new HostRegistryActor.HandOuts(List.of(h1)))) {
        // the lifecycle's load at its start found the job already in the store; the Track follows
        told = hosts.receiveMessage(Duration.ofSeconds(10));
      }
      assertEquals(h1, told);
      Job back = Job.fromRecord(job.toRecord());
      back.requeue("lost");
      lc.tell(new LifecycleActor.Forget(51, "h1", job.tokenHash(), back.view()));
      assertEquals(new HostRegistryActor.JobEnded("h1", 51), hosts.receiveMessage(Duration.ofSeconds(10)));
    }
  }

  @Test
  void updatesAreDurableAndFollowTheRules() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(store, 100));
      ActorRef<LifecycleActor.Command> lc = actors.spawn(LifecycleActor.create(p, extractor(), Timeouts.defaults(), Clock.systemUTC()));
      Job job = dispatchedJob(7);
      store.upsert(List.of(job.toRecord()));
      lc.tell(new LifecycleActor.Track(job.toRecord()));

      assertEquals(Outcome.Status.OK, update(lc, 7, JobUpdate.Mode.STRICT, "job_stage", "running").status());
      assertEquals("running", store.find(7).orElseThrow().stage());
      assertEquals(Outcome.Status.CONFLICT, update(lc, 7, JobUpdate.Mode.STRICT, "job_stage", "boot").status());
      assertEquals(Outcome.Status.OK, update(lc, 7, JobUpdate.Mode.LEGACY, "job_stage", "boot").status(),
          "busybox cannot read a refusal");
      assertEquals(Outcome.Status.INVALID, update(lc, 7, JobUpdate.Mode.STRICT, "job_stage", "nope").status());
      assertEquals(Outcome.Status.NOT_FOUND, update(lc, 8, JobUpdate.Mode.STRICT, "job_stage", "running").status());

      update(lc, 7, JobUpdate.Mode.STRICT, "job_stage", "finish");
      update(lc, 7, JobUpdate.Mode.STRICT, "job_data_readiness", "complete");
      assertEquals("complete", store.find(7).orElseThrow().readiness());
      assertEquals(Outcome.Status.LOCKED, update(lc, 7, JobUpdate.Mode.STRICT, "job_health", "fail").status(),
          "retired: read from the store and refused");
    }
  }

  /**
   * A running limit past what a timer can wait (Pekko's scheduler refuses about 248 days) or past
   * what an instant can hold: the job runs and reports like any other, and the lifecycle stays.
   */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {
      "\"timeout\":31536000", "\"timeout\":\"1e300\"", "\"runtime\":1e300"})
  void aRunningLimitOfYearsOrMoreIsKeptWithoutStoppingTheLifecycle(String limit) {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      Job job = Job.submitted(JobIntake.prepare(Json.parse("{\"suite\":\"s\",\"testbox\":\"dc-8g\"," + limit + "}")),
          11, Instant.now(), "/result");
      job.handOut("h1", "tok", Instant.now());
      ActorRef<LifecycleActor.Command> lc = tracking(store, Timeouts.defaults(), job);

      assertEquals(Outcome.Status.OK, update(lc, 11, JobUpdate.Mode.STRICT, "job_stage", "running").status());
      assertEquals(Outcome.Status.OK, update(lc, 11, JobUpdate.Mode.STRICT, "job_stage", "post_run").status(),
          "the lifecycle that set the running timer is still there");
      assertEquals("post_run", store.find(11).orElseThrow().stage());
    }
  }

  /** A lifecycle over {@code store} (with a persistence actor of its own) that tracks {@code job}, stored. */
  private ActorRef<LifecycleActor.Command> tracking(org.compassci.sched.persistence.JobStore store, Timeouts timeouts,
      Job job) {
    store.upsert(List.of(job.toRecord()));
    ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(store, 100));
    ActorRef<LifecycleActor.Command> lc = actors.spawn(LifecycleActor.create(p, extractor(), timeouts, Clock.systemUTC()));
    lc.tell(new LifecycleActor.Track(job.toRecord()));
    return lc;
  }

  /** Waits (15 s at most) until the lifecycle holds none of {@code what} (its GetStats counts). */
  private static void awaitNoneHeld(ActorRef<LifecycleActor.Command> lc, String... what) {
    TestProbe<ActorStats> stats = testKit.createTestProbe();
    stats.awaitAssert(Duration.ofSeconds(15), () -> {
      lc.tell(new LifecycleActor.GetStats(stats.getRef()));
      java.util.Map<String, Long> holds = stats.receiveMessage().holds();
      assertEquals(0L, java.util.Arrays.stream(what).mapToLong(holds::get).sum(), "held: " + holds);
      return null;
    });
  }

  /** A box that fails before it uploads: the job finishes with readiness N/A, and nothing will come. */
  @Test
  void aFinishedJobWhoseDataNeverSettlesRetiresAfterPostRunsTime() {
    Timeouts d = Timeouts.defaults();
    Timeouts quickPostRun = new Timeouts(d.dispatch(), d.dispatchAck(), d.boot(), d.bootVm(), d.bootDc(),
        d.setup(), d.waitPeer(), d.running(), Duration.ofMillis(300), d.manualCheck(), d.requeueMax());
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      ActorRef<LifecycleActor.Command> lc = tracking(store, quickPostRun, dispatchedJob(12));
      assertEquals(Outcome.Status.OK, update(lc, 12, JobUpdate.Mode.LEGACY, "job_state", "wget_initrd_fail").status());
      assertEquals("finish", store.find(12).orElseThrow().stage());

      // retired, and written
      awaitNoneHeld(lc, "active_jobs", "retiring");
      assertEquals("norun", store.find(12).orElseThrow().readiness());
      assertEquals("wget_initrd_fail", store.find(12).orElseThrow().health());
    }
  }

  /**
   * A retiring job's write that met the store away is kept by the persistence actor and made
   * when the store is back, but nobody is told: the lifecycle writes it again until it takes, and
   * lets the job go. It used to keep every job that retired during an outage until a restart.
   */
  @Test
  void aJobThatRetiredWhileTheStoreWasAwayLeavesMemoryOnceTheStoreIsBack() {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 2)) {
      java.util.concurrent.atomic.AtomicBoolean away = new java.util.concurrent.atomic.AtomicBoolean();
      // the store's answer is lost while "away" (the write may or may not have taken)
      org.compassci.sched.persistence.JobStore store = StoreHooks.after(real, call -> {
        if (away.get() && call.equals("commit")) {
          away.set(false);
          throw new IllegalStateException("connection reset");
        }
      });
      ActorRef<LifecycleActor.Command> lc = tracking(store, Timeouts.defaults(), dispatchedJob(13));
      assertEquals(Outcome.Status.OK, update(lc, 13, JobUpdate.Mode.STRICT, "job_stage", "running").status());
      away.set(true);
      TestProbe<Outcome> finished = testKit.createTestProbe();
      lc.tell(new LifecycleActor.Update(13, List.of(new JobUpdate.Param("job_stage", "finish"),
          new JobUpdate.Param("job_data_readiness", "incomplete")), JobUpdate.Mode.STRICT, finished.getRef()));
      assertEquals(Outcome.Status.UNAVAILABLE, finished.receiveMessage(Duration.ofSeconds(10)).status(),
          "the box is told the store is away");

      // written again, and let go
      awaitNoneHeld(lc, "retiring");
      assertEquals("finish", real.find(13).orElseThrow().stage());
      assertEquals("incomplete", real.find(13).orElseThrow().readiness());
    }
  }

  /**
   * A hand-over (the singleton moves to another node) ends once the lifecycle's own writes are
   * answered; a report that comes meanwhile is told to try again. It used to be taken on after
   * the store had drained: written behind the next lifecycle's read, and answered to no one.
   */
  @Test
  void aHandOverAnswersWhatItWroteAndSendsLaterReportsOnToTheNextLifecycle() {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 2)) {
      // commits take 300 ms: a write made during the hand-over is still out when the store drained;
      // and while "held", a commit waits for the test, so the store cannot drain before a report
      java.util.concurrent.CountDownLatch held = new java.util.concurrent.CountDownLatch(1);
      java.util.concurrent.atomic.AtomicBoolean hold = new java.util.concurrent.atomic.AtomicBoolean(true);
      org.compassci.sched.persistence.JobStore slow = StoreHooks.after(real, call -> {
        if (call.equals("commit")) {
          try {
            if (hold.get()) {
              held.await(30, java.util.concurrent.TimeUnit.SECONDS);
            }
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          StoreHooks.pause(300);
        }
      });
      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(slow, 100));
      Job job = dispatchedJob(14);
      real.upsert(List.of(job.toRecord()));
      TestProbe<Object> watcher = testKit.createTestProbe();

      ActorRef<LifecycleActor.Command> idle = actors.spawn(LifecycleActor.create(p, extractor(), Timeouts.defaults(), Clock.systemUTC()));
      idle.tell(new LifecycleActor.Track(job.toRecord()));
      TestProbe<ActorStats> loaded = testKit.createTestProbe();
      idle.tell(new LifecycleActor.GetStats(loaded.getRef()));
      loaded.receiveMessage(Duration.ofSeconds(10));
      // someone else's write holds the store, so the hand-over's drain waits on it
      TestProbe<PersistenceActor.Written> other = testKit.createTestProbe();
      p.tell(new PersistenceActor.Write(List.of(dispatchedJob(15).toRecord()), "other", other.getRef()));
      TestProbe<Outcome> later = testKit.createTestProbe();
      idle.tell(new LifecycleActor.HandOver());
      idle.tell(new LifecycleActor.Update(14, List.of(new JobUpdate.Param("job_stage", "boot")), JobUpdate.Mode.STRICT, later.getRef()));
      try {
        assertEquals(Outcome.Status.UNAVAILABLE, later.receiveMessage(Duration.ofSeconds(10)).status(),
            "the next lifecycle takes it");
      } finally {
        hold.set(false);
        held.countDown();
      }
      other.receiveMessage(Duration.ofSeconds(10));
      watcher.expectTerminated(idle, Duration.ofSeconds(10));
      assertEquals("dispatch", real.find(14).orElseThrow().stage());

      ActorRef<LifecycleActor.Command> busy = actors.spawn(LifecycleActor.create(p, extractor(), Timeouts.defaults(), Clock.systemUTC()));
      busy.tell(new LifecycleActor.Track(job.toRecord()));
      busy.tell(new LifecycleActor.GetStats(loaded.getRef()));
      loaded.receiveMessage(Duration.ofSeconds(10));
      TestProbe<Outcome> first = testKit.createTestProbe();
      busy.tell(new LifecycleActor.Update(14, List.of(new JobUpdate.Param("job_stage", "boot")), JobUpdate.Mode.STRICT, first.getRef()));
      busy.tell(new LifecycleActor.HandOver());
      assertEquals(Outcome.Status.OK, first.receiveMessage(Duration.ofSeconds(10)).status(), "answered once durable");
      watcher.expectTerminated(busy, Duration.ofSeconds(10));
      assertEquals("boot", real.find(14).orElseThrow().stage());
    }
  }

  /**
   * The lifecycle logs under its own name. Pekko names an actor's logger from the call stack of
   * its first use, and when a timer fired first that was Pekko's own class, which the scheduler
   * logs at WARN only: after a restart with overdue hand-outs, "lifecycle loaded N active jobs"
   * never reached an operator.
   */
  @Test
  void theLifecycleLogsUnderItsOwnName() {
    try (org.compassci.sched.persistence.LogLines lines =
            org.compassci.sched.persistence.LogLines.of(LifecycleActor.class);
        JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      store.upsert(List.of(dispatchedJob(71).toRecord()));
      // a timer fires while the load is out (its first log use was then Pekko's timer code, on
      // no frame of the lifecycle's): a sweep every 10 ms, and a load that takes 300 ms
      org.compassci.sched.persistence.JobStore slow = StoreHooks.after(store, call -> {
        if (call.equals("findByStage")) {
          StoreHooks.pause(300);
        }
      });
      ActorRef<LifecycleActor.Command> lc = actors.spawn(LifecycleActor.create(
          actors.spawn(PersistenceActor.create(slow, 100)), extractor(), testKit.system().ignoreRef(),
          Timeouts.defaults(), Clock.systemUTC(), () -> null, Duration.ofMillis(10)));
      TestProbe<ActorStats> loaded = testKit.createTestProbe();
      lc.tell(new LifecycleActor.GetStats(loaded.getRef()));
      loaded.receiveMessage(Duration.ofSeconds(10));
      List<String> seen = lines.messages();
      assertTrue(seen.stream().anyMatch(m -> m.startsWith("lifecycle loaded 1 active jobs ")), seen.toString());
    }
  }

  /** A hand-over before the active jobs are read: the reports that waited are told to try again. */
  @Test
  void aHandOverWhileLoadingSendsWaitingReportsOnToTheNextLifecycle() {
    TestProbe<PersistenceActor.Command> store = testKit.createTestProbe();
    TestProbe<HostRegistryActor.Command> hosts = testKit.createTestProbe();
    ActorRef<LifecycleActor.Command> lc = actors.spawn(LifecycleActor.create(store.getRef(), extractor(),
        hosts.getRef(), Timeouts.defaults(), Clock.systemUTC()));
    passBarrier(store);
    store.expectMessageClass(PersistenceActor.LoadStages.class);
    TestProbe<Outcome> waiting = testKit.createTestProbe();
    lc.tell(new LifecycleActor.Update(15, List.of(new JobUpdate.Param("job_stage", "boot")), JobUpdate.Mode.STRICT, waiting.getRef()));
    lc.tell(new LifecycleActor.HandOver());
    assertEquals(Outcome.Status.UNAVAILABLE, waiting.receiveMessage(Duration.ofSeconds(10)).status());
    testKit.createTestProbe().expectTerminated(lc, Duration.ofSeconds(10));
  }

  @Test
  void anActiveJobUnknownToMemoryIsTakenBackFromTheStore() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      store.upsert(List.of(dispatchedJob(9).toRecord()));
      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(store, 100));
      ActorRef<LifecycleActor.Command> lc = actors.spawn(LifecycleActor.create(p, extractor(), Timeouts.defaults(), Clock.systemUTC()));
      TestProbe<Outcome> a = testKit.createTestProbe();
      TestProbe<Outcome> b = testKit.createTestProbe();
      // two updates arrive while the first read is in flight: both apply, in order
      lc.tell(new LifecycleActor.Update(9, List.of(new JobUpdate.Param("job_stage", "boot")), JobUpdate.Mode.STRICT, a.getRef()));
      lc.tell(new LifecycleActor.Update(9, List.of(new JobUpdate.Param("job_stage", "running")), JobUpdate.Mode.STRICT, b.getRef()));
      assertEquals(Outcome.Status.OK, a.receiveMessage(Duration.ofSeconds(10)).status());
      assertEquals("running", b.receiveMessage(Duration.ofSeconds(10)).job().path("job_stage").asText());
      assertEquals("running", store.find(9).orElseThrow().stage());
    }
  }

  /** {@code job} as its box left it: {@code stage}, then the readiness, each applied as a report. */
  private static Job reported(Job job, String stage, String readiness) {
    JobUpdate.apply(job, List.of(new JobUpdate.Param("job_stage", stage)), JobUpdate.Mode.STRICT, Instant.now());
    JobUpdate.apply(job, List.of(new JobUpdate.Param("job_data_readiness", readiness)), JobUpdate.Mode.STRICT,
        Instant.now());
    return job;
  }

  /**
   * A scheduler stopped while jobs had ended but their data had not settled: one uploaded (its
   * extraction was in the stopped one's memory), one whose box never uploaded. The next
   * lifecycle takes both up again: the first is extracted and settles complete, the second
   * settles norun at its post-run deadline. Both stayed unsettled in the store for good before.
   * A job still running whose data was uploaded (extracted as its data came) is extracted again
   * too: before, only ended ones were, and its statistics were lost.
   */
  @Test
  void aRestartTakesUpTheEndedJobsWhoseDataWasStillToSettle() throws Exception {
    Timeouts d = Timeouts.defaults();
    Timeouts quickPostRun = new Timeouts(d.dispatch(), d.dispatchAck(), d.boot(), d.bootVm(), d.bootDc(),
        d.setup(), d.waitPeer(), d.running(), Duration.ofMillis(300), d.manualCheck(), d.requeueMax());
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      Job uploaded = dispatchedJob(81);
      Job nothing = dispatchedJob(82);
      Job settled = dispatchedJob(83);
      Job running = dispatchedJob(84);
      store.insert(List.of(uploaded.toRecord(), nothing.toRecord(), settled.toRecord(), running.toRecord()));
      store.upsert(List.of(reported(uploaded, "finish", "uploaded").toRecord(),
          reported(nothing, "finish", "uploading").toRecord(), reported(settled, "finish", "complete").toRecord(),
          reported(running, "running", "uploaded").toRecord()));
      for (Job j : List.of(uploaded, running)) {
        Path folder = results.resolve(j.resultRoot().substring("/result/".length()));
        java.nio.file.Files.createDirectories(folder);
        java.nio.file.Files.writeString(folder.resolve("stats"), "hackbench.throughput: 99.5\n");
      }

      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(store, 100));
      actors.spawn(LifecycleActor.create(p, extractor(), quickPostRun, Clock.systemUTC()));
      String first = "";
      String second = "";
      for (int i = 0; i < 200 && !(first.equals("complete") && second.equals("incomplete")); i++) {
        Thread.sleep(50);
        first = store.find(81).orElseThrow().readiness();
        second = store.find(82).orElseThrow().readiness();
      }
      assertEquals("complete", first);
      assertEquals("incomplete", second, "uploading, then nothing: what came is incomplete");
      assertEquals(99.5, Job.fromRecord(store.find(81).orElseThrow()).view().path("stats")
          .path("hackbench.throughput").asDouble());
      assertEquals("complete", store.find(83).orElseThrow().readiness());
      String third = "";
      for (int i = 0; i < 200 && !third.equals("complete"); i++) {
        Thread.sleep(50);
        third = store.find(84).orElseThrow().readiness();
      }
      assertEquals("complete", third, "the running job's upload extracted again");
      assertEquals("running", store.find(84).orElseThrow().stage());
    }
  }

  /**
   * An extraction still out when the job's post-run deadline passes settles the job itself: after
   * a restart later than post_run the deadline has passed before the extraction even starts.
   */
  @Test
  void anExtractionOutPastTheDeadlineSettlesTheJob() throws Exception {
    Timeouts d = Timeouts.defaults();
    Timeouts quickPostRun = new Timeouts(d.dispatch(), d.dispatchAck(), d.boot(), d.bootVm(), d.bootDc(),
        d.setup(), d.waitPeer(), d.running(), Duration.ofMillis(200), d.manualCheck(), d.requeueMax());
    org.compassci.sched.extract.ExtractPlugin slow = TestPlugin.named("slow", (job, stats) -> {
      Thread.sleep(1500);
      stats.put("slow.answer", 42);
    });
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      Job job = dispatchedJob(85);
      store.insert(List.of(job.toRecord()));
      store.upsert(List.of(reported(job, "finish", "uploaded").toRecord()));
      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(store, 100));
      ActorRef<ExtractActor.Command> extractor = actors.spawn(ExtractActor.create(
          new Extraction(List.of(slow), results, "/result"), Clock.systemUTC()));
      actors.spawn(LifecycleActor.create(p, extractor, quickPostRun, Clock.systemUTC()));
      String readiness = "";
      for (int i = 0; i < 200 && !(readiness.equals("complete") || readiness.equals("incomplete")); i++) {
        Thread.sleep(50);
        readiness = store.find(85).orElseThrow().readiness();
      }
      assertEquals("complete", readiness);
      assertEquals(42, Job.fromRecord(store.find(85).orElseThrow()).view().path("stats").path("slow.answer").asInt());
    }
  }

  @Test
  void uploadedResultsAreExtractedThenTheJobRetires() throws Exception {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(store, 100));
      ActorRef<LifecycleActor.Command> lc = actors.spawn(LifecycleActor.create(p, extractor(), Timeouts.defaults(), Clock.systemUTC()));
      Job good = dispatchedJob(21);
      Job bad = dispatchedJob(22);
      store.upsert(List.of(good.toRecord(), bad.toRecord()));
      lc.tell(new LifecycleActor.Track(good.toRecord()));
      lc.tell(new LifecycleActor.Track(bad.toRecord()));
      Path folder = results.resolve(good.resultRoot().substring("/result/".length()));
      java.nio.file.Files.createDirectories(folder);
      java.nio.file.Files.writeString(folder.resolve("stats"), "hackbench.throughput: 1234.5\nkernel: 6.6\n");

      assertEquals(Outcome.Status.OK, update(lc, 21, JobUpdate.Mode.LEGACY, "job_stage", "finish").status());
      assertEquals(Outcome.Status.OK, update(lc, 21, JobUpdate.Mode.LEGACY, "job_data_readiness", "uploaded").status());
      assertEquals(Outcome.Status.OK, update(lc, 22, JobUpdate.Mode.STRICT, "job_stage", "finish").status());
      assertEquals(Outcome.Status.OK, update(lc, 22, JobUpdate.Mode.STRICT, "job_data_readiness", "uploaded").status());
      String goodState = "";
      String badState = "";
      for (int i = 0; i < 100 && !(goodState.equals("complete") && badState.equals("incomplete")); i++) {
        Thread.sleep(50);
        goodState = store.find(21).orElseThrow().readiness();
        badState = store.find(22).orElseThrow().readiness();
      }
      assertEquals("complete", goodState);
      assertEquals("incomplete", badState);
      var stats = Job.fromRecord(store.find(21).orElseThrow()).view().path("stats");
      assertEquals(1234.5, stats.path("hackbench.throughput").asDouble());
      assertEquals("6.6", stats.path("kernel").asText());
      assertTrue(Job.fromRecord(store.find(22).orElseThrow()).field("extract_error").contains("stats"));
      assertEquals(Outcome.Status.LOCKED, update(lc, 21, JobUpdate.Mode.STRICT, "job_health", "fail").status(),
          "complete and finished: retired");
    }
  }

  /**
   * A retiring job's final state that the store refuses for good: the lifecycle lets the job go
   * instead of writing the state again every 30 s for as long as it runs. A failure that is only
   * the store away is written again, as before.
   */
  @Test
  void aRetiringJobWhoseStateTheStoreRefusesLeavesMemory() {
    TestProbe<PersistenceActor.Command> store = testKit.createTestProbe();
    ActorRef<LifecycleActor.Command> lc = loadedOn(store);
    TestProbe<Outcome> ends = testKit.createTestProbe();
    TestProbe<ActorStats> stats = testKit.createTestProbe();

    lc.tell(new LifecycleActor.Track(dispatchedJob(92).toRecord()));
    lc.tell(new LifecycleActor.Terminate(92, ends.getRef()));
    PersistenceActor.Write away = store.expectMessageClass(PersistenceActor.Write.class);
    away.replyTo().tell(new PersistenceActor.Written(away.context(), java.util.Optional.of("store away")));
    ends.receiveMessage(Duration.ofSeconds(10));
    // written again after 2 s
    PersistenceActor.Write again = store.expectMessageClass(PersistenceActor.Write.class, Duration.ofSeconds(10));
    assertEquals(away.records(), again.records());
    again.replyTo().tell(new PersistenceActor.Written(again.context(), java.util.Optional.empty()));

    lc.tell(new LifecycleActor.Track(dispatchedJob(91).toRecord()));
    lc.tell(new LifecycleActor.Terminate(91, ends.getRef()));
    PersistenceActor.Write refused = store.expectMessageClass(PersistenceActor.Write.class);
    refused.replyTo().tell(new PersistenceActor.Written(refused.context(), java.util.Optional.of("refused"), true));
    ends.receiveMessage(Duration.ofSeconds(10));
    store.expectNoMessage(Duration.ofSeconds(3));
    lc.tell(new LifecycleActor.GetStats(stats.getRef()));
    assertEquals(0L, stats.receiveMessage(Duration.ofSeconds(10)).holds().get("retiring"));
  }

  /**
   * A read from the store that comes back after the job was handed out (Track) must not make a
   * second copy: the first copy retires, and the second came back to life and could be ended again.
   */
  @Test
  void aReadThatComesBackAfterAHandOutMakesNoSecondCopy() {
    TestProbe<PersistenceActor.Command> store = testKit.createTestProbe();
    ActorRef<LifecycleActor.Command> lc = loadedOn(store);
    Job job = dispatchedJob(31);
    TestProbe<Outcome> reads = testKit.createTestProbe();
    // the job is still queued as far as the lifecycle knows: a read goes to the store ...
    lc.tell(new LifecycleActor.Get(31, reads.getRef()));
    PersistenceActor.Find find = store.expectMessageClass(PersistenceActor.Find.class);
    // ... the matcher hands it out meanwhile, then the read comes back
    lc.tell(new LifecycleActor.Track(job.toRecord()));
    find.replyTo().tell(new PersistenceActor.FindResult(31, java.util.Optional.of(job.toRecord()), java.util.Optional.empty()));
    assertEquals("dispatch", reads.receiveMessage(Duration.ofSeconds(10)).job().path("job_stage").asText());

    TestProbe<Outcome> ends = testKit.createTestProbe();
    lc.tell(new LifecycleActor.Terminate(31, ends.getRef()));
    PersistenceActor.Write w = store.expectMessageClass(PersistenceActor.Write.class);
    w.replyTo().tell(new PersistenceActor.Written(w.context(), java.util.Optional.empty()));
    assertEquals(Outcome.Status.OK, ends.receiveMessage(Duration.ofSeconds(10)).status());

    // retired: the next request reads the store (no copy left in memory), which says it ended
    lc.tell(new LifecycleActor.Terminate(31, ends.getRef()));
    PersistenceActor.Find again = store.expectMessageClass(PersistenceActor.Find.class);
    again.replyTo().tell(new PersistenceActor.FindResult(31, java.util.Optional.of(w.records().get(0)), java.util.Optional.empty()));
    Outcome second = ends.receiveMessage(Duration.ofSeconds(10));
    assertEquals(Outcome.Status.CONFLICT, second.status(), second.message());
  }

  /**
   * The store answers reads beside a claim's commit, and the matcher sends Track only once the
   * claim is forced: a terminate can read the hand-out, end the job and write its end before the
   * Track arrives. That Track is older news and must not bring the hand-out back: the box booted
   * the terminated job, and its boot was written over the job's end.
   */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
  void aHandOutReadBeforeItsTrackCameIsNotBroughtBackByIt(boolean endWrittenFirst) {
    TestProbe<PersistenceActor.Command> store = testKit.createTestProbe();
    ActorRef<LifecycleActor.Command> lc = loadedOn(store);
    Job job = dispatchedJob(51);
    TestProbe<Outcome> ends = testKit.createTestProbe();
    lc.tell(new LifecycleActor.Terminate(51, ends.getRef()));
    PersistenceActor.Find find = store.expectMessageClass(PersistenceActor.Find.class);
    find.replyTo().tell(new PersistenceActor.FindResult(51, java.util.Optional.of(job.toRecord()), java.util.Optional.empty()));
    PersistenceActor.Write end = store.expectMessageClass(PersistenceActor.Write.class);
    assertEquals("finish", end.records().get(0).stage());
    if (endWrittenFirst) {
      end.replyTo().tell(new PersistenceActor.Written(end.context(), java.util.Optional.empty()));
      assertEquals(Outcome.Status.OK, ends.receiveMessage(Duration.ofSeconds(10)).status());
    }
    lc.tell(new LifecycleActor.Track(job.toRecord()));
    if (!endWrittenFirst) {
      end.replyTo().tell(new PersistenceActor.Written(end.context(), java.util.Optional.empty()));
      assertEquals(Outcome.Status.OK, ends.receiveMessage(Duration.ofSeconds(10)).status());
    }
    // the box asks for its package: the job is read (no copy in memory), and the store has its end
    TestProbe<Outcome> fetched = testKit.createTestProbe();
    lc.tell(new LifecycleActor.FetchPackage(51, "tok", null, fetched.getRef()));
    PersistenceActor.Find again = store.expectMessageClass(PersistenceActor.Find.class);
    again.replyTo().tell(new PersistenceActor.FindResult(51, java.util.Optional.of(end.records().get(0)),
        java.util.Optional.empty()));
    Outcome package_ = fetched.receiveMessage(Duration.ofSeconds(10));
    assertTrue(package_.status() != Outcome.Status.OK, "no package for a terminated job: " + package_.status());
    store.expectNoMessage(Duration.ofMillis(300));
  }

  /**
   * A read of a hand-out before its Track came (a client polling the job) tells the host registry
   * of it, as the Track would have: that Track is passed over, and the box's entry named no job
   * (get_deadline by testbox 404, a box booting again not giving it back). A Track of a later
   * hand-out, with a new token, is taken as ever.
   */
  @Test
  void aHandOutReadBeforeItsTrackCameIsToldToTheRegistry() {
    TestProbe<PersistenceActor.Command> store = testKit.createTestProbe();
    TestProbe<HostRegistryActor.Command> hosts = testKit.createTestProbe();
    ActorRef<LifecycleActor.Command> lc = loadedOn(store, Timeouts.defaults(), hosts);
    Job job = dispatchedJob(61);
    TestProbe<Outcome> reads = testKit.createTestProbe();
    lc.tell(new LifecycleActor.Get(61, reads.getRef()));
    store.expectMessageClass(PersistenceActor.Find.class).replyTo()
        .tell(new PersistenceActor.FindResult(61, java.util.Optional.of(job.toRecord()), java.util.Optional.empty()));
    assertEquals("dispatch", reads.receiveMessage(Duration.ofSeconds(10)).job().path("job_stage").asText());
    assertEquals(new HostRegistryActor.HandedOut("h1", 61), hosts.expectMessageClass(HostRegistryActor.HandedOut.class));
    lc.tell(new LifecycleActor.Track(job.toRecord()));
    hosts.expectNoMessage(Duration.ofMillis(300));

    // given back and handed out again, to h2 with a new token: that Track is the job's news
    Job again = dispatchedJob(61);
    again.returnToQueue();
    again.handOut("h2", "tok-2", java.time.Instant.now());
    lc.tell(new LifecycleActor.Track(again.toRecord()));
    assertEquals(new HostRegistryActor.HandedOut("h2", 61), hosts.expectMessageClass(HostRegistryActor.HandedOut.class));
    lc.tell(new LifecycleActor.Get(61, reads.getRef()));
    assertEquals("h2", reads.receiveMessage(Duration.ofSeconds(10)).job().path("host_machine").asText());
  }

  /**
   * A read that comes back after the job was handed out and has ended since (terminated, its
   * final state written or being written) does not take the job back into memory at the stage it
   * read: the requests that waited are answered from the job's end, and nothing revives it.
   */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
  void aReadThatComesBackAfterTheJobEndedDoesNotBringItBack(boolean endWritten) {
    TestProbe<PersistenceActor.Command> store = testKit.createTestProbe();
    ActorRef<LifecycleActor.Command> lc = loadedOn(store);
    Job job = dispatchedJob(41);
    TestProbe<Outcome> reads = testKit.createTestProbe();
    lc.tell(new LifecycleActor.Get(41, reads.getRef()));
    PersistenceActor.Find find = store.expectMessageClass(PersistenceActor.Find.class);
    lc.tell(new LifecycleActor.Track(job.toRecord()));
    TestProbe<Outcome> ends = testKit.createTestProbe();
    lc.tell(new LifecycleActor.Terminate(41, ends.getRef()));
    PersistenceActor.Write w = store.expectMessageClass(PersistenceActor.Write.class);
    if (endWritten) {
      w.replyTo().tell(new PersistenceActor.Written(w.context(), java.util.Optional.empty()));
      assertEquals(Outcome.Status.OK, ends.receiveMessage(Duration.ofSeconds(10)).status());
    }
    // the read was made before the hand-out's end: it says dispatch
    find.replyTo().tell(new PersistenceActor.FindResult(41, java.util.Optional.of(job.toRecord()), java.util.Optional.empty()));
    if (endWritten) {
      // left memory: read again, and the store has the end now
      PersistenceActor.Find again = store.expectMessageClass(PersistenceActor.Find.class);
      again.replyTo().tell(new PersistenceActor.FindResult(41, java.util.Optional.of(w.records().get(0)),
          java.util.Optional.empty()));
    }
    Outcome read = reads.receiveMessage(Duration.ofSeconds(10));
    assertEquals(Outcome.Status.OK, read.status(), read.message());
    assertEquals("finish", read.job().path("job_stage").asText());
    if (!endWritten) {
      w.replyTo().tell(new PersistenceActor.Written(w.context(), java.util.Optional.empty()));
      assertEquals(Outcome.Status.OK, ends.receiveMessage(Duration.ofSeconds(10)).status());
    }
    // a box's late report on it is not applied to a revived copy: the job is read (not in
    // memory), and nothing is written
    TestProbe<Outcome> report = testKit.createTestProbe();
    lc.tell(new LifecycleActor.Update(41, List.of(new JobUpdate.Param("job_stage", "running")),
        JobUpdate.Mode.LEGACY, report.getRef()));
    PersistenceActor.Find last = store.expectMessageClass(PersistenceActor.Find.class);
    last.replyTo().tell(new PersistenceActor.FindResult(41, java.util.Optional.of(w.records().get(0)),
        java.util.Optional.empty()));
    report.receiveMessage(Duration.ofSeconds(10));
    store.expectNoMessage(Duration.ofMillis(300));
  }

  /**
   * Requests that waited for a job's read are answered before any that came in after the read
   * was back: a box's "running" sent on the heels of the read must not pass its "boot".
   */
  @Test
  void requestsThatWaitedForAReadAreHandledBeforeLaterOnes() {
    TestProbe<PersistenceActor.Command> store = testKit.createTestProbe();
    ActorRef<LifecycleActor.Command> lc = loadedOn(store);
    // active in the store, unknown to memory (as after a load that missed it)
    Job job = dispatchedJob(35);
    TestProbe<Outcome> boot = testKit.createTestProbe();
    TestProbe<Outcome> running = testKit.createTestProbe();
    lc.tell(new LifecycleActor.Update(35, List.of(new JobUpdate.Param("job_stage", "boot")),
        JobUpdate.Mode.STRICT, boot.getRef()));
    PersistenceActor.Find find = store.expectMessageClass(PersistenceActor.Find.class);
    // keeps the actor busy, so that the read's answer and the later request are both queued
    // before it takes the first of them
    TestProbe<ActorStats> busy = testKit.createTestProbe();
    for (int i = 0; i < 20_000; i++) {
      lc.tell(new LifecycleActor.GetStats(busy.getRef()));
    }
    find.replyTo().tell(new PersistenceActor.FindResult(35, java.util.Optional.of(job.toRecord()), java.util.Optional.empty()));
    lc.tell(new LifecycleActor.Update(35, List.of(new JobUpdate.Param("job_stage", "running")),
        JobUpdate.Mode.STRICT, running.getRef()));
    List<PersistenceActor.Command> seen = store.receiveSeveralMessages(2, Duration.ofSeconds(5));
    for (PersistenceActor.Command c : seen) {
      if (c instanceof PersistenceActor.Write w) {
        w.replyTo().tell(new PersistenceActor.Written(w.context(), java.util.Optional.empty()));
      }
    }
    Outcome first = boot.receiveMessage(Duration.ofSeconds(10));
    Outcome second = running.receiveMessage(Duration.ofSeconds(10));
    assertEquals(Outcome.Status.OK, first.status(), first.message());
    assertEquals(Outcome.Status.OK, second.status(), second.message());
    assertEquals("running", second.job().path("job_stage").asText());
  }

  /**
   * A box asks for its package just as its hand-out expired and is being requeued. The store
   * still says dispatch (the requeue has not committed); meanwhile the requeue commits and the
   * job goes to a second box. The first box must not get the package, and the second box's
   * hand-out must stay as it is.
   */
  @Test
  void aPackageAskedForWhileTheJobIsRequeuedWaitsForTheRequeue() throws Exception {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 4)) {
      Job job = dispatchedJob(5);
      real.upsert(List.of(job.toRecord()));
      String secondHash = org.compassci.sched.model.Tokens.sha256("second-token");
      java.util.concurrent.atomic.AtomicBoolean requeued = new java.util.concurrent.atomic.AtomicBoolean();
      // what the matcher does on Requeue: the job back in the queue, then out to box h2 (once)
      Runnable requeueAndHandOutAgain = () -> {
        if (requeued.compareAndSet(false, true)) {
          Job back = Job.fromRecord(real.find(5).orElseThrow());
          back.requeue("no report");
          real.upsert(List.of(back.toRecord()));
          real.commit(List.of(), List.of(), List.of(new org.compassci.sched.persistence.Claim(5, "h2",
              secondHash, System.currentTimeMillis(), 0)));
        }
      };
      // the real store; a read of the job done while its requeue is still out is followed at once
      // by the requeue and the second hand-out, before the reader can write what it read
      org.compassci.sched.persistence.JobStore store = StoreHooks.after(real, call -> {
        if (call.equals("find")) {
          requeueAndHandOutAgain.run();
        }
      });
      TestProbe<MatcherActor.Command> matcher = testKit.createTestProbe();
      ActorRef<LifecycleActor.Command> lc = quickLifecycle(store, matcher);
      lc.tell(new LifecycleActor.Track(job.toRecord()));
      MatcherActor.Requeue requeue = matcher.expectMessageClass(MatcherActor.Requeue.class, Duration.ofSeconds(10));
      TestProbe<Outcome> fetched = testKit.createTestProbe();
      lc.tell(new LifecycleActor.FetchPackage(5, "tok", null, fetched.getRef()));
      fetched.expectNoMessage(Duration.ofMillis(300));
      requeueAndHandOutAgain.run();
      requeue.replyTo().tell(new MatcherActor.Requeued(5, Outcome.ok(Json.MAPPER.createObjectNode())));
      Outcome o = fetched.receiveMessage(Duration.ofSeconds(10));
      assertTrue(o.status() != Outcome.Status.OK, "the first box gets no package: " + o.status());
      var stored = real.find(5).orElseThrow();
      assertEquals("dispatch", stored.stage());
      assertEquals("h2", stored.host());
      assertEquals(secondHash, stored.tokenHash());
    }
  }

  /**
   * The matcher never answers a requeue (it restarted and lost it): what waited gets 503 after
   * 10 s, and the requeue is sent again; nothing is written meanwhile.
   */
  @Test
  void aRequeueNobodyAnswersIsSentAgainAndWhatWaitedIsAskedToComeBack() throws Exception {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      Job job = dispatchedJob(6);
      store.upsert(List.of(job.toRecord()));
      TestProbe<MatcherActor.Command> matcher = testKit.createTestProbe();
      ActorRef<LifecycleActor.Command> lc = quickLifecycle(store, matcher);
      lc.tell(new LifecycleActor.Track(job.toRecord()));
      matcher.expectMessageClass(MatcherActor.Requeue.class, Duration.ofSeconds(10));
      TestProbe<Outcome> fetched = testKit.createTestProbe();
      lc.tell(new LifecycleActor.FetchPackage(6, "tok", null, fetched.getRef()));
      Outcome o = fetched.receiveMessage(Duration.ofSeconds(15));
      assertEquals(Outcome.Status.UNAVAILABLE, o.status(), o.message());
      MatcherActor.Requeue again = matcher.expectMessageClass(MatcherActor.Requeue.class, Duration.ofSeconds(10));
      assertEquals(6, again.id());
      assertEquals("dispatch", store.find(6).orElseThrow().stage(), "nothing was written meanwhile");
    }
  }

  /**
   * A requeue's answer that comes after the job was handed out again (a matcher restarted in
   * between) forgets the hand-out it took back, not the newer one.
   */
  @Test
  void aLateForgetKeepsTheNewerHandOut() throws Exception {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      TestProbe<MatcherActor.Command> matcher = testKit.createTestProbe();
      ActorRef<LifecycleActor.Command> lc = quickLifecycle(store, matcher);
      Job first = dispatchedJob(52);
      Job back = Job.fromRecord(first.toRecord());
      back.requeue("lost");
      Job second = Job.fromRecord(back.toRecord());
      second.handOut("h2", "tok2", Instant.now());
      store.upsert(List.of(second.toRecord()));
      lc.tell(new LifecycleActor.Track(second.toRecord()));
      lc.tell(new LifecycleActor.Forget(52, "h1", first.tokenHash(), back.view()));
      // the newer hand-out's deadline is still kept: h2 never reports, and the job goes back
      // (nothing here reads the job meanwhile: a read would bring it back with a deadline anyway)
      MatcherActor.Requeue requeue = matcher.expectMessageClass(MatcherActor.Requeue.class, Duration.ofSeconds(10));
      assertEquals(second.tokenHash(), requeue.tokenHash());
    }
  }

  /**
   * A hand-out that became durable but was never tracked here (its Track lost to a failure):
   * the sweep finds it in the store, and it goes back to the queue at its deadline, not only at
   * the next restart.
   */
  @Test
  void aHandOutNobodyTrackedIsFoundAndGoesBack() throws Exception {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      TestProbe<MatcherActor.Command> matcher = testKit.createTestProbe();
      ActorRef<PersistenceActor.Command> persistence = actors.spawn(PersistenceActor.create(store, 100));
      ActorRef<LifecycleActor.Command> lc = actors.spawn(LifecycleActor.create(persistence, extractor(),
          testKit.system().ignoreRef(), quickAck(), Clock.systemUTC(), matcher::getRef, Duration.ofMillis(500)));
      // the lifecycle has loaded (an answer to a read comes after the load)
      TestProbe<Outcome> got = testKit.createTestProbe();
      lc.tell(new LifecycleActor.Get(404, got.getRef()));
      assertEquals(Outcome.Status.NOT_FOUND, got.receiveMessage(Duration.ofSeconds(10)).status());
      Job orphan = dispatchedJob(53);
      store.upsert(List.of(orphan.toRecord()));
      // no Track: two sweeps see it untracked, and its deadline has passed
      MatcherActor.Requeue back = matcher.expectMessageClass(MatcherActor.Requeue.class, Duration.ofSeconds(10));
      assertEquals(53, back.id());
      assertEquals(orphan.tokenHash(), back.tokenHash());
    }
  }

  /**
   * A job past dispatch that the store holds and nobody here does (a box's report written over a
   * hand-out the matcher had just taken back): the sweep finds it too, and it ends by its stage's
   * timeout, not only at the next restart.
   */
  @Test
  void aRunningJobNobodyHoldsIsFoundAndEndsByItsTimeout() throws Exception {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      Timeouts d = Timeouts.defaults();
      Timeouts quickRun = new Timeouts(d.dispatch(), d.dispatchAck(), d.boot(), d.bootVm(), d.bootDc(),
          d.setup(), d.waitPeer(), Duration.ofMillis(300), d.postRun(), d.manualCheck(), d.requeueMax());
      ActorRef<PersistenceActor.Command> persistence = actors.spawn(PersistenceActor.create(store, 100));
      TestProbe<HostRegistryActor.Command> hosts = testKit.createTestProbe();
      ActorRef<LifecycleActor.Command> lc = actors.spawn(LifecycleActor.create(persistence, extractor(),
          hosts.getRef(), quickRun, Clock.systemUTC(),
          testKit.<MatcherActor.Command>createTestProbe()::getRef, Duration.ofMillis(500)));
      TestProbe<Outcome> got = testKit.createTestProbe();
      lc.tell(new LifecycleActor.Get(404, got.getRef()));
      assertEquals(Outcome.Status.NOT_FOUND, got.receiveMessage(Duration.ofSeconds(10)).status());
      Job stranded = dispatchedJob(57);
      stranded.setStage(org.compassci.sched.model.JobStage.RUNNING, Instant.now());
      store.upsert(List.of(stranded.toRecord()));
      // the registry hears which box runs it, as at a load
      HostRegistryActor.HandedOut held = hosts.expectMessageClass(HostRegistryActor.HandedOut.class, Duration.ofSeconds(10));
      assertEquals(57, held.jobId());
      assertEquals("h1", held.hostname());
      long until = System.nanoTime() + Duration.ofSeconds(15).toNanos();
      String stage = "running";
      while (!stage.equals("finish") && System.nanoTime() < until) {
        Thread.sleep(100);
        stage = store.find(57).map(org.compassci.sched.persistence.JobRecord::stage).orElse("");
      }
      assertEquals("finish", stage);
      assertEquals("timeout_running", store.find(57).orElseThrow().health());
    }
  }

  /** The next read the lifecycle asks of {@code store}, past anything else it sends meanwhile. */
  private static PersistenceActor.Find nextFind(TestProbe<PersistenceActor.Command> store) {
    for (int i = 0; i < 100; i++) {
      if (store.receiveMessage(Duration.ofSeconds(10)) instanceof PersistenceActor.Find f) {
        return f;
      }
    }
    throw new AssertionError("no read of a job among 100 messages to the store");
  }

  /**
   * A lost hand-out's requeue fails (the store is away), and so does the read a second later
   * that should decide what happens to it: the job is read again until the store answers, and
   * goes back to the queue then, instead of staying in dispatch with nobody looking at it.
   */
  @Test
  void aLostHandOutIsReadAgainWhenItsRequeueAndTheReadAfterMeetTheStoreAway() {
    TestProbe<PersistenceActor.Command> store = testKit.createTestProbe();
    ActorRef<LifecycleActor.Command> lc = loadedOn(store, quickAck());
    TestProbe<MatcherActor.Command> matcher = testKit.createTestProbe();
    lc.tell(new LifecycleActor.UseMatcher(matcher.getRef()));
    Job job = dispatchedJob(71);
    lc.tell(new LifecycleActor.Track(job.toRecord()));
    MatcherActor.Requeue requeue = matcher.expectMessageClass(MatcherActor.Requeue.class, Duration.ofSeconds(10));
    requeue.replyTo().tell(new MatcherActor.Requeued(71, Outcome.of(Outcome.Status.UNAVAILABLE, "store away")));
    PersistenceActor.Find read = nextFind(store);
    assertEquals(71, read.id());
    read.replyTo().tell(new PersistenceActor.FindResult(71, java.util.Optional.empty(),
        java.util.Optional.of("Connection refused")));
    PersistenceActor.Find again = nextFind(store);
    assertEquals(71, again.id());
    again.replyTo().tell(new PersistenceActor.FindResult(71, java.util.Optional.of(job.toRecord()),
        java.util.Optional.empty()));
    // still in dispatch, its deadline long past: back to the queue
    MatcherActor.Requeue back = matcher.expectMessageClass(MatcherActor.Requeue.class, Duration.ofSeconds(10));
    assertEquals(71, back.id());
    assertEquals(job.tokenHash(), back.tokenHash());
  }

  /**
   * A cancel the matcher passed on (it did not hold the job) for a job that is in submit by the
   * time the store is read (its requeue or a failed claim put it back): 503, try again, not
   * API.md's 409 "past submit", which it is not. A job that is past submit still gets 409.
   */
  @Test
  void aCancelForAJobBackInTheQueueIsToldToTryAgain() {
    TestProbe<PersistenceActor.Command> store = testKit.createTestProbe();
    ActorRef<LifecycleActor.Command> lc = loadedOn(store);
    Job queued = Job.submitted(JobIntake.prepare(Json.parse("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}")),
        72, Instant.now(), "/result");
    TestProbe<Outcome> answer = testKit.createTestProbe();
    lc.tell(new LifecycleActor.CancelNotQueued(72, answer.getRef()));
    nextFind(store).replyTo().tell(new PersistenceActor.FindResult(72, java.util.Optional.of(queued.toRecord()),
        java.util.Optional.empty()));
    Outcome o = answer.receiveMessage(Duration.ofSeconds(10));
    assertEquals(Outcome.Status.UNAVAILABLE, o.status(), o.message());

    Job ended = dispatchedJob(73);
    org.compassci.sched.model.Termination.apply(ended, Instant.now());
    lc.tell(new LifecycleActor.CancelNotQueued(73, answer.getRef()));
    nextFind(store).replyTo().tell(new PersistenceActor.FindResult(73, java.util.Optional.of(ended.toRecord()),
        java.util.Optional.empty()));
    o = answer.receiveMessage(Duration.ofSeconds(10));
    assertEquals(Outcome.Status.CONFLICT, o.status(), o.message());
  }
}
