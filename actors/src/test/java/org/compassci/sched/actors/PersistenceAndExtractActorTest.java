package org.compassci.sched.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.compassci.sched.extract.Extraction;
import org.compassci.sched.model.Json;
import org.compassci.sched.persistence.Claim;
import org.compassci.sched.persistence.JdbcJobStore;
import org.compassci.sched.persistence.JobRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The persistence actor over the real embedded store, and the extract actor over real files. */
class PersistenceAndExtractActorTest {

  static final ActorTestKit testKit = ActorTestKit.create();
  static final Duration WAIT = Duration.ofSeconds(10);

  @AfterAll
  static void shutdown() {
    testKit.shutdownTestKit();
  }

  @org.junit.jupiter.api.extension.RegisterExtension
  final Spawned actors = new Spawned(testKit);

  @TempDir Path dir;

  private static JobRecord queued(long id) {
    return new JobRecord(id, "submit", "unknown", "N/A", "alice", "dc-8g", id, "{\"id\":\"" + id + "\"}");
  }

  @Test
  void writesArriveTogetherAndAreCommittedTogetherEachAnsweredOnce() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(store, 1000));
      TestProbe<PersistenceActor.Written> written = testKit.createTestProbe();
      for (int i = 1; i <= 300; i++) {
        p.tell(PersistenceActor.Write.newJobs(List.of(queued(i)), i, written.getRef()));
      }
      Set<Object> answered = new HashSet<>();
      for (int i = 0; i < 300; i++) {
        PersistenceActor.Written w = written.receiveMessage(WAIT);
        assertTrue(w.error().isEmpty(), w.toString());
        assertTrue(answered.add(w.context()), "answered twice: " + w.context());
      }
      assertEquals(300, store.findByStage(List.of("submit"), Long.MIN_VALUE, 1000).size());
      TestProbe<ActorStats> stats = testKit.createTestProbe();
      p.tell(new PersistenceActor.GetStats(stats.getRef()));
      long commits = stats.receiveMessage(WAIT).holds().get("commits");
      assertTrue(commits < 300, "writes that wait are committed together: " + commits + " commits");
    }
  }

  /**
   * Every thread that serves the store's reads is busy (a burst of slow reads, say): a write is
   * still committed, forced and answered. The commits once queued behind such reads, and with
   * them every hand-out.
   */
  @Test
  void aWriteIsCommittedWhileEveryReadThreadIsBusy() throws Exception {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(store, 1000));
      java.util.concurrent.CountDownLatch release = everyReadThreadBusy();
      try {
        TestProbe<PersistenceActor.Written> written = testKit.createTestProbe();
        p.tell(PersistenceActor.Write.newJobs(List.of(queued(1)), "one", written.getRef()));
        PersistenceActor.Written w = written.receiveMessage(WAIT);
        assertTrue(w.error().isEmpty(), w.toString());
      } finally {
        release.countDown();
      }
      assertEquals(1, store.findByStage(List.of("submit"), Long.MIN_VALUE, 10).size());
    }
  }

  /**
   * With {@code store-sync = second} the store's check, once a second, is the only force: it
   * runs beside the commits, not behind the reads, which delayed it (or failed it after the
   * pool's wait, and the health check then said the store was away).
   */
  @Test
  void theForceOnceASecondRunsWhileEveryReadThreadIsBusy() throws Exception {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 2, false)) {
      java.util.concurrent.atomic.AtomicInteger syncs = new java.util.concurrent.atomic.AtomicInteger();
      org.compassci.sched.persistence.JobStore store = StoreHooks.before(real, method -> {
        if (method.equals("sync")) {
          syncs.incrementAndGet();
        }
      });
      java.util.concurrent.CountDownLatch release = everyReadThreadBusy();
      try {
        actors.spawn(PersistenceActor.create(store, 1000));
        for (long end = System.nanoTime() + WAIT.toNanos(); syncs.get() == 0 && System.nanoTime() < end; ) {
          Thread.sleep(50);
        }
        assertTrue(syncs.get() > 0, "forced while the reads' threads are busy");
      } finally {
        release.countDown();
      }
    }
  }

  /**
   * A commit that is in but whose force fails again and again is not answered as written: after
   * an fsync error the kernel may have dropped its pages, and a power cut would lose what was
   * answered (a hand-out read back as queued goes to a second box). Its writer waits while the
   * force is tried again, less often, and is answered once a force takes.
   */
  @Test
  void aCommitWhoseForceKeepsFailingIsNotAnsweredUntilAForceTakes() throws Exception {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 2)) {
      assertTrue(real.forcesEachCommit());
      java.util.concurrent.atomic.AtomicBoolean diskFails = new java.util.concurrent.atomic.AtomicBoolean(true);
      java.util.concurrent.atomic.AtomicInteger forces = new java.util.concurrent.atomic.AtomicInteger();
      // the store's check (a ping, then a force, once a second) is let through: what fails is
      // the commits' own force, and the check alone said the store was fine
      ThreadLocal<Boolean> checking = ThreadLocal.withInitial(() -> false);
      org.compassci.sched.persistence.JobStore store = StoreHooks.before(real, method -> {
        if (method.equals("ping")) {
          checking.set(true);
        } else if (method.equals("sync") && checking.get()) {
          checking.set(false);
        } else if (method.equals("sync") && diskFails.get()) {
          forces.incrementAndGet();
          throw new org.compassci.sched.persistence.StoreUnavailableException("fsync: Input/output error", null);
        }
      });
      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(store, 1000));
      TestProbe<PersistenceActor.Written> written = testKit.createTestProbe();
      p.tell(PersistenceActor.Write.newJobs(List.of(queued(1)), "one", written.getRef()));
      written.expectNoMessage(Duration.ofSeconds(3));
      assertTrue(forces.get() > PersistenceActor.FORCE_TRIES, forces.get() + " forces of commits tried");
      TestProbe<PersistenceActor.PingResult> health = testKit.createTestProbe();
      p.tell(new PersistenceActor.Ping(health.getRef()));
      assertTrue(health.receiveMessage(WAIT).error().orElse("").contains("cannot be forced"), "the health check says so");
      diskFails.set(false);
      PersistenceActor.Written w = written.receiveMessage(Duration.ofSeconds(40));
      assertTrue(w.error().isEmpty(), w.toString());
      p.tell(new PersistenceActor.Ping(health.getRef()));
      assertTrue(health.receiveMessage(WAIT).error().isEmpty());
    }
  }

  /** Holds every thread of the store's reads until the latch returned is counted down. */
  private static java.util.concurrent.CountDownLatch everyReadThreadBusy() throws InterruptedException {
    return org.compassci.sched.persistence.BusyThreads.hold(
        testKit.system().dispatchers().lookup(
            org.apache.pekko.actor.typed.DispatcherSelector.fromConfig(PersistenceActor.DISPATCHER)),
        testKit.system().settings().config().getInt(PersistenceActor.DISPATCHER + ".thread-pool-executor.fixed-pool-size"));
  }

  /**
   * A store that forces each commit to disk: writers are told once a force begun after their
   * commit is over, and the next commit is written while that force runs (the force used to be
   * made inside each commit, which the next one waited for: 14 % of the hand-outs). The force
   * that began before the second commit was in answers the first alone.
   */
  @Test
  void writersAreToldOnceTheirCommitIsForcedAndTheNextIsWrittenMeanwhile() throws Exception {
    List<java.util.concurrent.CountDownLatch> gates = List.of(new java.util.concurrent.CountDownLatch(1),
        new java.util.concurrent.CountDownLatch(1));
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 2)) {
      assertTrue(real.forcesEachCommit());
      java.util.concurrent.atomic.AtomicInteger commits = new java.util.concurrent.atomic.AtomicInteger();
      java.util.concurrent.atomic.AtomicInteger forces = new java.util.concurrent.atomic.AtomicInteger();
      org.compassci.sched.persistence.JobStore store = gatedForces(real, gates, forces, commits);
      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(store, 100));
      TestProbe<PersistenceActor.Written> first = testKit.createTestProbe();
      TestProbe<PersistenceActor.Written> second = testKit.createTestProbe();
      p.tell(new PersistenceActor.Write(List.of(queued(1)), "first", first.getRef()));
      for (long end = System.nanoTime() + WAIT.toNanos(); forces.get() == 0 && System.nanoTime() < end; ) {
        Thread.sleep(10);
      }
      assertTrue(real.find(1).isPresent() && forces.get() == 1, "written, and its force held");
      first.expectNoMessage(Duration.ofMillis(300));
      p.tell(new PersistenceActor.Write(List.of(queued(2)), "second", second.getRef()));
      for (long end = System.nanoTime() + WAIT.toNanos(); real.find(2).isEmpty() && System.nanoTime() < end; ) {
        Thread.sleep(10);
      }
      assertTrue(real.find(2).isPresent(), "the next commit is written while the force is held");
      assertEquals(2, commits.get());
      gates.get(0).countDown();
      assertTrue(first.receiveMessage(WAIT).error().isEmpty());
      // the first force began before the second commit was in: a second force answers it
      second.expectNoMessage(Duration.ofMillis(300));
      assertEquals(2, forces.get());
      gates.get(1).countDown();
      assertTrue(second.receiveMessage(WAIT).error().isEmpty());
    } finally {
      gates.forEach(java.util.concurrent.CountDownLatch::countDown);
    }
  }

  /**
   * A barrier waits for the commits before it to be told, not for those after it: under steady
   * writes some commit always waits for a force, and a restarted lifecycle's load, which waits on
   * a barrier, would wait for the burst to end.
   */
  @Test
  void aBarrierWaitsForTheForcesOfTheCommitsBeforeItOnly() throws Exception {
    List<java.util.concurrent.CountDownLatch> gates = List.of(new java.util.concurrent.CountDownLatch(1),
        new java.util.concurrent.CountDownLatch(1));
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 2)) {
      java.util.concurrent.atomic.AtomicInteger forces = new java.util.concurrent.atomic.AtomicInteger();
      org.compassci.sched.persistence.JobStore store = gatedForces(real, gates, forces, null);
      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(store, 100));
      TestProbe<PersistenceActor.Written> before = testKit.createTestProbe();
      TestProbe<PersistenceActor.Written> after = testKit.createTestProbe();
      TestProbe<org.apache.pekko.Done> barrier = testKit.createTestProbe();
      p.tell(new PersistenceActor.Write(List.of(queued(1)), "before", before.getRef()));
      for (long end = System.nanoTime() + WAIT.toNanos(); forces.get() == 0 && System.nanoTime() < end; ) {
        Thread.sleep(10);
      }
      p.tell(new PersistenceActor.Barrier(barrier.getRef()));
      Thread.sleep(200);
      p.tell(new PersistenceActor.Write(List.of(queued(2)), "after", after.getRef()));
      for (long end = System.nanoTime() + WAIT.toNanos(); real.find(2).isEmpty() && System.nanoTime() < end; ) {
        Thread.sleep(10);
      }
      barrier.expectNoMessage(Duration.ofMillis(200));
      gates.get(0).countDown();
      assertTrue(before.receiveMessage(WAIT).error().isEmpty());
      barrier.receiveMessage(WAIT);
      after.expectNoMessage(Duration.ZERO);
      gates.get(1).countDown();
      assertTrue(after.receiveMessage(WAIT).error().isEmpty());
    } finally {
      gates.forEach(java.util.concurrent.CountDownLatch::countDown);
    }
  }

  /**
   * {@code real}, each force for writers held at its gate in turn ({@code forces} counts them;
   * the once-a-second check's own passes), and its commits counted when {@code commits} is given.
   */
  private static org.compassci.sched.persistence.JobStore gatedForces(JdbcJobStore real,
      List<java.util.concurrent.CountDownLatch> gates, java.util.concurrent.atomic.AtomicInteger forces,
      java.util.concurrent.atomic.AtomicInteger commits) {
    return StoreHooks.before(real, method -> {
      if (method.equals("commit") && commits != null) {
        commits.incrementAndGet();
      } else if (method.equals("sync") && java.util.Arrays.stream(Thread.currentThread().getStackTrace())
          .noneMatch(f -> f.getMethodName().contains("onCheckStore"))) {
        int n = forces.getAndIncrement();
        if (n < gates.size()) {
          gates.get(n).await(30, java.util.concurrent.TimeUnit.SECONDS);
        }
      }
    });
  }

  /**
   * A kept state the store refuses for good (a tenant longer than its column holds) among
   * others: replays in halves find it, it is dropped after it failed alone three times, and the
   * other states are written. It used to fail every replay, and every write committed with one,
   * for as long as the process ran.
   */
  @Test
  void aKeptStateTheStoreRefusesIsFoundAndDroppedAndTheOthersAreWritten() throws Exception {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(store, 1000));
      TestProbe<PersistenceActor.Written> written = testKit.createTestProbe();
      JobRecord refused = new JobRecord(3, "submit", "unknown", "N/A", "t".repeat(300), "dc-8g", 3, "{\"id\":\"3\"}");
      List<JobRecord> states = List.of(queued(1), queued(2), refused, queued(4), queued(5), queued(6), queued(7));
      p.tell(PersistenceActor.Write.kept(states, "all", written.getRef()));
      assertTrue(written.receiveMessage(WAIT).error().isPresent(), "the commit with the refused state failed");

      TestProbe<ActorStats> stats = testKit.createTestProbe();
      java.util.Map<String, Long> holds = java.util.Map.of();
      for (int i = 0; i < 300 && !(Long.valueOf(0).equals(holds.get("kept_while_store_away"))
          && Long.valueOf(1).equals(holds.get("states_refused"))); i++) {
        Thread.sleep(100);
        p.tell(new PersistenceActor.GetStats(stats.getRef()));
        holds = stats.receiveMessage(WAIT).holds();
      }
      assertEquals(0L, holds.get("kept_while_store_away"), holds.toString());
      assertEquals(1L, holds.get("states_refused"), holds.toString());
      for (long id : List.of(1L, 2L, 4L, 5L, 6L, 7L)) {
        assertEquals(queued(id), store.find(id).orElseThrow());
      }
      assertTrue(store.find(3).isEmpty());
      // the same state written again (a retiring job's) is answered at once, as refused
      p.tell(new PersistenceActor.Write(List.of(refused), "again", written.getRef()));
      PersistenceActor.Written again = written.receiveMessage(WAIT);
      assertTrue(again.refused() && again.error().isPresent(), again.toString());
      // a write of nothing is answered written: it threw once a state had been refused, and
      // the restart answered every write that waited as failed
      p.tell(new PersistenceActor.Write(List.of(), "nothing", written.getRef()));
      PersistenceActor.Written nothing = written.receiveMessage(WAIT);
      assertTrue(nothing.error().isEmpty(), nothing.toString());
      // and the writes after it go in as ever
      p.tell(PersistenceActor.Write.kept(List.of(queued(8)), "after", written.getRef()));
      assertTrue(written.receiveMessage(WAIT).error().isEmpty());
      assertEquals(queued(8), store.find(8).orElseThrow());
    }
  }

  /**
   * A store that answers its ping but takes no write (read-only after a failover, a full disk):
   * kept states wait, however often they fail written alone, and are written once it takes
   * writes again. Struck as refused, every kept state would be dropped in seconds.
   */
  @Test
  void aStoreThatTakesNoWriteForAWhileDropsNoKeptState() throws Exception {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 2)) {
      java.util.concurrent.atomic.AtomicBoolean readOnly = new java.util.concurrent.atomic.AtomicBoolean(true);
      org.compassci.sched.persistence.JobStore store = StoreHooks.commitsFailWhile(real, readOnly, "read-only");
      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(store, 1000));
      TestProbe<PersistenceActor.Written> written = testKit.createTestProbe();
      p.tell(PersistenceActor.Write.kept(List.of(queued(1)), "kept", written.getRef()));
      assertTrue(written.receiveMessage(WAIT).error().isPresent());
      // a replay each second, the state alone: well past three lone failures
      TestProbe<ActorStats> stats = testKit.createTestProbe();
      java.util.Map<String, Long> holds = java.util.Map.of();
      for (long end = System.nanoTime() + 30_000_000_000L; System.nanoTime() < end; Thread.sleep(200)) {
        p.tell(new PersistenceActor.GetStats(stats.getRef()));
        holds = stats.receiveMessage(WAIT).holds();
        if (holds.get("commits") >= 4) {
          break;
        }
      }
      assertTrue(holds.get("commits") >= 4, "replayed alone several times: " + holds);
      assertEquals(1L, holds.get("kept_while_store_away"), holds.toString());
      assertEquals(0L, holds.get("states_refused"), holds.toString());

      readOnly.set(false);
      for (int i = 0; i < 100 && real.find(1).isEmpty(); i++) {
        Thread.sleep(100);
      }
      assertEquals(queued(1), real.find(1).orElseThrow());
    }
  }

  /**
   * A drain (the scheduler stopping) with job states kept while the store was away writes them
   * first if the store is back: after the exit they would be lost, and the store would keep
   * their earlier states. Before, the drain was answered at once.
   */
  @Test
  void aDrainWritesTheStatesKeptWhileTheStoreWasAway() throws Exception {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 2)) {
      java.util.concurrent.atomic.AtomicBoolean away = new java.util.concurrent.atomic.AtomicBoolean(true);
      org.compassci.sched.persistence.JobStore store = StoreHooks.commitsFailWhile(real, away, "away");
      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(store, 1000));
      TestProbe<PersistenceActor.Written> written = testKit.createTestProbe();
      p.tell(PersistenceActor.Write.kept(List.of(queued(1), queued(2)), "kept", written.getRef()));
      assertTrue(written.receiveMessage(WAIT).error().isPresent());
      away.set(false);
      TestProbe<org.apache.pekko.Done> drained = testKit.createTestProbe();
      p.tell(new PersistenceActor.Drain(drained.getRef()));
      drained.receiveMessage(WAIT);
      assertEquals(queued(1), real.find(1).orElse(null));
      assertEquals(queued(2), real.find(2).orElse(null));

      // still away: the drain is answered all the same, the states kept
      away.set(true);
      p.tell(PersistenceActor.Write.kept(List.of(queued(3)), "kept", written.getRef()));
      assertTrue(written.receiveMessage(WAIT).error().isPresent());
      p.tell(new PersistenceActor.Drain(drained.getRef()));
      drained.receiveMessage(WAIT);
      assertTrue(real.find(3).isEmpty());
    }
  }

  /**
   * A commit failed with a job's new state in it (kept: "boot"); a change of that job read from
   * the store (a requeue of a hand-out) comes before the kept states are replayed. It must see
   * "boot", not the row's "dispatch": it read the stale row, and put back in the queue a job its
   * box was running.
   */
  @Test
  void aChangeAfterAFailedCommitSeesTheJobsKeptState() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      store.insert(List.of(queued(10)));
      store.claim(List.of(new Claim(10, "h10", "tok10", 5)));
      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(store, 1000));
      TestProbe<PersistenceActor.Written> written = testKit.createTestProbe();
      JobRecord refused = new JobRecord(3, "submit", "unknown", "N/A", "t".repeat(300), "dc-8g", 3, "{}");
      JobRecord booted = new JobRecord(10, "boot", "unknown", "N/A", "alice", "dc-8g", 10, "{\"id\":\"10\"}",
          "h10", "tok10", 5);
      p.tell(PersistenceActor.Write.kept(List.of(refused, booted), "boot", written.getRef()));
      assertTrue(written.receiveMessage(WAIT).error().isPresent());

      TestProbe<PersistenceActor.Modified> modified = testKit.createTestProbe();
      p.tell(new PersistenceActor.Modify(10, r -> {
        if (!r.stage().equals("dispatch")) {
          throw new IllegalStateException("job 10 is " + r.stage() + " in the store");
        }
        return new PersistenceActor.Changed(queued(10), "taken back");
      }, "requeue", modified.getRef()));
      PersistenceActor.Modified m = modified.receiveMessage(WAIT);
      assertTrue(m.result().isEmpty(), m.toString());
      assertTrue(m.error().orElse("").contains("boot"), m.toString());
      assertEquals(booted, store.find(10).orElseThrow());
    }
  }

  @Test
  void aJobIsClaimedOnceAndAFindSeesTheClaim() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      store.insert(List.of(queued(7)));
      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(store, 1000));
      TestProbe<PersistenceActor.Claims> claimed = testKit.createTestProbe();
      p.tell(new PersistenceActor.ClaimJob(new Claim(7, "h1", "hash-a", 5), "first", claimed.getRef()));
      p.tell(new PersistenceActor.ClaimJob(new Claim(7, "h2", "hash-b", 6), "second", claimed.getRef()));
      List<PersistenceActor.Claimed> both = claims(claimed, 2);
      PersistenceActor.Claimed a = both.get(0);
      PersistenceActor.Claimed b = both.get(1);
      PersistenceActor.Claimed first = a.context().equals("first") ? a : b;
      PersistenceActor.Claimed second = a.context().equals("first") ? b : a;
      assertEquals("h1", first.record().orElseThrow().host());
      assertTrue(second.record().isEmpty(), "handed out once only");
      TestProbe<PersistenceActor.FindResult> found = testKit.createTestProbe();
      p.tell(new PersistenceActor.Find(7, found.getRef()));
      JobRecord r = found.receiveMessage(WAIT).job().orElseThrow();
      assertEquals("dispatch", r.stage());
      assertEquals("hash-a", r.tokenHash());
    }
  }

  @Test
  void twoClaimsOfOneJobInOneCommitHandItToTheFirstBoxOnly() throws Exception {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 2)) {
      real.insert(List.of(queued(7)));
      // the first commit held until both claims wait behind it: they then go to the store in
      // one commit, as when a restarted matcher claims a job whose first claim is in flight
      FirstCommitHeld held = new FirstCommitHeld(real);
      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(held.store, 1000));
      TestProbe<PersistenceActor.Written> written = testKit.createTestProbe();
      TestProbe<PersistenceActor.Claims> claimed = testKit.createTestProbe();
      p.tell(PersistenceActor.Write.newJobs(List.of(queued(8)), 8, written.getRef()));
      p.tell(new PersistenceActor.ClaimJob(new Claim(7, "h1", "hash-a", 5), "first", claimed.getRef()));
      p.tell(new PersistenceActor.ClaimJob(new Claim(7, "h2", "hash-b", 6), "second", claimed.getRef()));
      held.release(p);
      assertTrue(written.receiveMessage(WAIT).error().isEmpty());
      List<PersistenceActor.Claimed> both = claims(claimed, 2);
      // claims are answered from the store thread: the actor counts the commit a moment later
      TestProbe<org.apache.pekko.Done> drained = testKit.createTestProbe();
      p.tell(new PersistenceActor.Drain(drained.getRef()));
      drained.receiveMessage(WAIT);
      TestProbe<ActorStats> after = testKit.createTestProbe();
      p.tell(new PersistenceActor.GetStats(after.getRef()));
      assertEquals(2L, after.receiveMessage(WAIT).holds().get("commits"), "the claims shared one commit");
      PersistenceActor.Claimed a = both.get(0).context().equals("first") ? both.get(0) : both.get(1);
      PersistenceActor.Claimed b = both.get(0).context().equals("first") ? both.get(1) : both.get(0);
      assertEquals("hash-a", a.record().orElseThrow().tokenHash());
      assertTrue(b.record().isEmpty(), "the second box is not told it has the job: " + b);
      assertTrue(b.error().isEmpty(), b.toString());
      assertEquals("hash-a", real.find(7).orElseThrow().tokenHash());
    }
  }

  /** The real store, its first commit held until {@link #release}: what comes next waits. */
  private static final class FirstCommitHeld {
    final java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
    final java.util.concurrent.atomic.AtomicBoolean first = new java.util.concurrent.atomic.AtomicBoolean(true);
    final org.compassci.sched.persistence.JobStore store;

    FirstCommitHeld(JdbcJobStore real) {
      store = StoreHooks.before(real, method -> {
        if (method.equals("commit") && first.getAndSet(false)) {
          gate.await();
        }
      });
    }

    /** Lets the held commit go once {@code p} has taken in every message told it so far. */
    void release(ActorRef<PersistenceActor.Command> p) {
      TestProbe<ActorStats> stats = testKit.createTestProbe();
      p.tell(new PersistenceActor.GetStats(stats.getRef()));
      stats.receiveMessage(WAIT);
      gate.countDown();
    }
  }

  /** The next {@code n} answers to claims, from however many messages they come in. */
  private static List<PersistenceActor.Claimed> claims(TestProbe<PersistenceActor.Claims> probe, int n) {
    List<PersistenceActor.Claimed> out = new java.util.ArrayList<>();
    while (out.size() < n) {
      out.addAll(probe.receiveMessage(WAIT).claimed());
    }
    assertEquals(n, out.size(), "answers to claims not asked for");
    return out;
  }

  @Test
  void theClaimsOfOneCommitAreAnsweredInOneMessageInTheirOrder() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      store.insert(List.of(queued(1), queued(2), queued(3)));
      FirstCommitHeld held = new FirstCommitHeld(store);
      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(held.store, 1000));
      TestProbe<PersistenceActor.Written> written = testKit.createTestProbe();
      TestProbe<PersistenceActor.Claims> claimed = testKit.createTestProbe();
      // the first write commits alone, held; the claims wait for it and go in the next commit together
      p.tell(PersistenceActor.Write.newJobs(List.of(queued(10)), 10, written.getRef()));
      for (long id = 1; id <= 3; id++) {
        p.tell(new PersistenceActor.ClaimJob(new Claim(id, "h" + id, "hash-" + id, 5), id, claimed.getRef()));
      }
      held.release(p);
      List<PersistenceActor.Claimed> one = claimed.receiveMessage(WAIT).claimed();
      assertEquals(List.of(1L, 2L, 3L), one.stream().map(PersistenceActor.Claimed::context).toList());
      for (PersistenceActor.Claimed c : one) {
        assertEquals("h" + c.context(), c.record().orElseThrow().host());
      }
    }
  }

  @Test
  void claimsGoAheadOfTheWritesBeforeThemButNotOfAWriteOfTheirOwnJob() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      List<JobRecord> jobs = new java.util.ArrayList<>();
      for (long id = 1; id <= 3; id++) {
        jobs.add(queued(id));
      }
      for (long id = 100; id < 150; id++) {
        jobs.add(queued(id));
      }
      store.insert(jobs);
      FirstCommitHeld held = new FirstCommitHeld(store);
      // commits of at most 10 writes, and of 1 (an eighth) while claims wait
      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(held.store, 10));
      TestProbe<Object> answers = testKit.createTestProbe();
      p.tell(PersistenceActor.Write.newJobs(List.of(queued(10)), 10, answers.getRef().narrow()));
      for (long id = 100; id < 150; id++) {
        p.tell(new PersistenceActor.Modify(id, r -> new PersistenceActor.Changed(r, "rewritten"), id,
            answers.getRef().narrow()));
      }
      p.tell(new PersistenceActor.ClaimJob(new Claim(1, "h1", "hash-1", 5), 1L, answers.getRef().narrow()));
      // job 2 is rewritten first (as a requeue is): its claim must see that write done
      p.tell(new PersistenceActor.Modify(2, r -> new PersistenceActor.Changed(r, "rewritten"), 2L,
          answers.getRef().narrow()));
      p.tell(new PersistenceActor.ClaimJob(new Claim(2, "h2", "hash-2", 5), 2L, answers.getRef().narrow()));
      // job 3 was requeued: its Redis release comes before its claim, and both come ahead
      p.tell(new PersistenceActor.ReleaseClaims(List.of(3L)));
      p.tell(new PersistenceActor.ClaimJob(new Claim(3, "h3", "hash-3", 5), 3L, answers.getRef().narrow()));
      held.release(p);

      // the answers in the order they came: 1 write, 51 rewrites, 3 claims
      List<String> said = new java.util.ArrayList<>();
      java.util.Map<Long, PersistenceActor.Claimed> claimed = new java.util.HashMap<>();
      while (said.size() < 55) {
        Object a = answers.receiveMessage(WAIT);
        if (a instanceof PersistenceActor.Claims cs) {
          for (PersistenceActor.Claimed c : cs.claimed()) {
            claimed.put((Long) c.context(), c);
            said.add("claim " + c.context());
          }
        } else if (a instanceof PersistenceActor.Modified m) {
          assertTrue(m.error().isEmpty(), m.toString());
          said.add("rewrite " + m.context());
        } else {
          assertTrue(((PersistenceActor.Written) a).error().isEmpty(), a.toString());
          said.add("write");
        }
      }
      for (long id = 1; id <= 3; id++) {
        assertEquals("h" + id, claimed.get(id).record().orElseThrow().host(), "claim " + id);
      }
      // the second commit: one rewrite (claims wait), and the claims of jobs 1 and 3 pulled ahead
      assertTrue(said.indexOf("claim 1") < said.indexOf("rewrite 101"), said.toString());
      assertTrue(said.indexOf("claim 3") < said.indexOf("rewrite 101"), said.toString());
      // job 2's claim stays behind its own job's rewrite, which is behind all 50 others
      assertTrue(said.indexOf("claim 2") > said.indexOf("rewrite 2"), said.toString());
      assertTrue(said.indexOf("rewrite 2") > said.indexOf("rewrite 149"), said.toString());
      assertEquals("dispatch", store.find(2).orElseThrow().stage());
    }
  }

  /**
   * Redis away as a commit takes its claims: the claims fail, and the writes of the same commit
   * are stored and answered as stored (only hand-outs need Redis).
   */
  @Test
  void withRedisAwayAClaimFailsAloneAndTheWritesOfItsCommitAreStored() throws Exception {
    int port = org.compassci.sched.persistence.ListenPorts.one();
    Process server = startRedis(port, List.of("--appendonly", "no"), "redis.log");
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2);
        org.compassci.sched.persistence.RedisClaims redis = redisAt(port)) {
      awaitRedis(redis);
      store.insert(List.of(queued(1), queued(2)));
      FirstCommitHeld held = new FirstCommitHeld(store);
      ActorRef<PersistenceActor.Command> p = actors.spawn(
          PersistenceActor.create(held.store, java.util.Optional.of(redis), 1000));
      TestProbe<Object> answers = testKit.createTestProbe();
      p.tell(PersistenceActor.Write.newJobs(List.of(queued(10)), 10, answers.getRef().narrow()));
      // these wait behind the held commit and go in the next one together
      p.tell(PersistenceActor.Write.newJobs(List.of(queued(11)), 11, answers.getRef().narrow()));
      p.tell(new PersistenceActor.Modify(2, r -> new PersistenceActor.Changed(r, "rewritten"), 2L,
          answers.getRef().narrow()));
      p.tell(new PersistenceActor.ClaimJob(new Claim(1, "h1", "hash-a", 5), 1L, answers.getRef().narrow()));
      // Redis goes before the next commit takes its claims
      server.destroy();
      server.waitFor();
      held.release(p);
      int seen = 0;
      while (seen < 4) {
        Object a = answers.receiveMessage(WAIT);
        if (a instanceof PersistenceActor.Written w) {
          assertTrue(w.error().isEmpty(), "a write while Redis is away: " + w);
          seen++;
        } else if (a instanceof PersistenceActor.Modified m) {
          assertTrue(m.error().isEmpty(), "a change while Redis is away: " + m);
          seen++;
        } else {
          PersistenceActor.Claimed c = ((PersistenceActor.Claims) a).claimed().get(0);
          assertTrue(c.record().isEmpty() && c.error().isPresent(), "no hand-out without Redis: " + c);
          seen++;
        }
      }
      assertTrue(store.find(11).isPresent(), "the write that shared the claim's commit is stored");
      assertEquals("submit", store.find(1).orElseThrow().stage());
    } finally {
      server.destroy();
    }
  }

  /** Longer than the host column: the store refuses the claim, a fault between the steps. */
  private static final String BAD_HOST = "h".repeat(300);

  @Test
  void aGroupCommitIsOneTransactionSoAFailedClaimStoresNoneOfItsWrites() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      store.insert(List.of(queued(1)));
      // the first write commits alone, held until the rest wait: they go in the next commit, with the claim
      FirstCommitHeld held = new FirstCommitHeld(store);
      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(held.store, 1000));
      TestProbe<PersistenceActor.Written> written = testKit.createTestProbe();
      TestProbe<PersistenceActor.Claims> claimed = testKit.createTestProbe();
      for (int i = 10; i < 60; i++) {
        p.tell(PersistenceActor.Write.newJobs(List.of(queued(i)), i, written.getRef()));
      }
      p.tell(new PersistenceActor.ClaimJob(new Claim(1, BAD_HOST, "hash", 5), "bad", claimed.getRef()));
      held.release(p);
      assertTrue(claims(claimed, 1).get(0).error().isPresent(), "the claim fails");
      int refused = 0;
      for (int i = 10; i < 60; i++) {
        PersistenceActor.Written w = written.receiveMessage(WAIT);
        boolean stored = store.find((Integer) w.context()).isPresent();
        // an answer "not stored" must be true, or a client's retry makes a second job
        assertEquals(w.ok(), stored, "job " + w.context() + " answered " + w);
        refused += w.ok() ? 0 : 1;
      }
      assertEquals(49, refused, "the claim shared a commit with every write but the first");
      assertEquals("submit", store.find(1).orElseThrow().stage());
    }
  }

  @Test
  void aClaimTheStoreRefusesReleasesItsRedisKeyAtOnce() {
    long id = java.util.concurrent.ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE / 4);
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2);
        org.compassci.sched.persistence.RedisClaims redis =
            new org.compassci.sched.persistence.RedisClaims("redis://127.0.0.1:6379", 3_600_000)) {
      store.insert(List.of(queued(id)));
      ActorRef<PersistenceActor.Command> p = actors.spawn(
          PersistenceActor.create(store, java.util.Optional.of(redis), 1000));
      TestProbe<PersistenceActor.Claims> claimed = testKit.createTestProbe();
      p.tell(new PersistenceActor.ClaimJob(new Claim(id, BAD_HOST, "hash-a", 5), "bad", claimed.getRef()));
      assertTrue(claims(claimed, 1).get(0).error().isPresent(), "the store refuses the claim");
      // another scheduler finds the key gone (this one would take its own key over anyway)
      try (org.compassci.sched.persistence.RedisClaims other =
          new org.compassci.sched.persistence.RedisClaims("redis://127.0.0.1:6379", 3_600_000)) {
        assertEquals(1, other.take(List.of(new Claim(id, "h9", "hash-z", 1))).size(),
            "the failed claim's Redis key does not hold the job for the claim TTL");
        other.release(List.of(id));
      }
      p.tell(new PersistenceActor.ClaimJob(new Claim(id, "h1", "hash-b", 6), "good", claimed.getRef()));
      PersistenceActor.Claimed good = claims(claimed, 1).get(0);
      assertEquals("h1", good.record().map(JobRecord::host).orElse("not claimed: " + good));
      redis.release(List.of(id));
    }
  }

  /**
   * Redis fails after a commit, as the keys of claims the store refused are released: the
   * commit is durable, and its claims are answered as taken, not as failed.
   */
  @Test
  void aRedisFailureAfterTheCommitDoesNotUndoItsAnswers() throws Exception {
    int port = org.compassci.sched.persistence.ListenPorts.one();
    // a Redis of this test's own, to stop at the chosen moment
    Process server = startRedis(port, List.of("--appendonly", "no"), "redis.log");
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 2);
        org.compassci.sched.persistence.RedisClaims redis = redisAt(port)) {
      awaitRedis(redis);
      real.insert(List.of(queued(1)));
      JobRecord handedOut = new JobRecord(2, "dispatch", "unknown", "N/A", "alice", "dc-8g", 2, "{\"id\":\"2\"}",
          "h0", "hash-0", 1);
      real.insert(List.of(queued(2)));
      real.upsert(List.of(handedOut));
      java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
      java.util.concurrent.atomic.AtomicInteger checksPassed = new java.util.concurrent.atomic.AtomicInteger();
      java.util.concurrent.atomic.AtomicInteger commits = new java.util.concurrent.atomic.AtomicInteger();
      org.compassci.sched.persistence.JobStore store = (org.compassci.sched.persistence.JobStore)
          java.lang.reflect.Proxy.newProxyInstance(getClass().getClassLoader(),
              new Class<?>[] {org.compassci.sched.persistence.JobStore.class}, (proxy, m, args) -> {
                int n = m.getName().equals("commit") ? commits.incrementAndGet() : 0;
                if (n == 1) {
                  gate.await();
                }
                Object r;
                try {
                  r = m.invoke(real, args);
                } catch (java.lang.reflect.InvocationTargetException e) {
                  throw e.getCause();
                }
                if (n == 2) {
                  // the claims' commit is durable; Redis goes away before its keys are released
                  server.destroy();
                  server.waitFor();
                }
                return r;
              });
      ActorRef<PersistenceActor.Command> p = actors.spawn(
          PersistenceActor.create(store, java.util.Optional.of(redis), 1000));
      TestProbe<PersistenceActor.Written> written = testKit.createTestProbe();
      TestProbe<PersistenceActor.Claims> claimed = testKit.createTestProbe();
      p.tell(PersistenceActor.Write.newJobs(List.of(queued(10)), 10, written.getRef()));
      p.tell(new PersistenceActor.ClaimJob(new Claim(1, "h1", "hash-a", 5), "queued", claimed.getRef()));
      p.tell(new PersistenceActor.ClaimJob(new Claim(2, "h2", "hash-b", 6), "out already", claimed.getRef()));
      TestProbe<ActorStats> stats = testKit.createTestProbe();
      p.tell(new PersistenceActor.GetStats(stats.getRef()));
      stats.receiveMessage(WAIT);
      gate.countDown();
      List<PersistenceActor.Claimed> both = claims(claimed, 2);
      PersistenceActor.Claimed queued = both.get(0).context().equals("queued") ? both.get(0) : both.get(1);
      assertEquals("hash-a", real.find(1).orElseThrow().tokenHash(), "the claim is durable");
      assertEquals("h1", queued.record().map(JobRecord::host).orElse("answered as not taken: " + queued));
    } finally {
      server.destroy();
    }
  }

  /**
   * A requeued job's Redis key is released before any new claim of it. When Redis is away for
   * that release, the release goes first in the next batch: the job can be claimed again once
   * Redis is back, not only after the claim TTL (an hour).
   */
  @Test
  void aReleaseThatFailedGoesFirstInTheNextBatch() throws Exception {
    int port = org.compassci.sched.persistence.ListenPorts.one();
    // a Redis of this test's own that keeps its keys on disk across a restart
    List<String> onDisk = List.of("--appendonly", "yes", "--appendfsync", "always",
        "--dir", java.nio.file.Files.createDirectories(dir.resolve("redis")).toString());
    Process server = startRedis(port, onDisk, "redis.log");
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2);
        org.compassci.sched.persistence.RedisClaims redis = redisAt(port)) {
      awaitRedis(redis);
      store.insert(List.of(queued(1)));
      // the job was handed out once: its key is held
      assertEquals(1, redis.take(List.of(new Claim(1, "h0", "hash-0", 1))).size());
      ActorRef<PersistenceActor.Command> p = actors.spawn(
          PersistenceActor.create(store, java.util.Optional.of(redis), 1000));
      // Redis is away while the requeue's release is sent
      server.destroy();
      server.waitFor();
      p.tell(new PersistenceActor.ReleaseClaims(List.of(1L)));
      // what else comes meanwhile is written all the same: only claims need Redis
      TestProbe<PersistenceActor.Written> written = testKit.createTestProbe();
      for (int i = 10; i < 13; i++) {
        p.tell(PersistenceActor.Write.newJobs(List.of(queued(i)), i, written.getRef()));
        PersistenceActor.Written w = written.receiveMessage(WAIT);
        assertTrue(w.error().isEmpty(), "a write while Redis is away: " + w);
      }
      assertEquals("submit", store.find(12).orElseThrow().stage());
      // back, with the key it held
      server = startRedis(port, onDisk, "redis2.log");
      awaitRedis(redis);
      TestProbe<PersistenceActor.Claims> claimed = testKit.createTestProbe();
      p.tell(new PersistenceActor.ClaimJob(new Claim(1, "h1", "hash-a", 5), "again", claimed.getRef()));
      PersistenceActor.Claimed again = claims(claimed, 1).get(0);
      assertEquals("h1", again.record().map(JobRecord::host).orElse("not claimed: " + again));
    } finally {
      server.destroy();
    }
  }


  /** A Redis server of the test's own on loopback, without snapshots; {@code options} added. */
  private Process startRedis(int port, List<String> options, String log) throws java.io.IOException {
    List<String> command = new java.util.ArrayList<>(List.of("redis-server", "--port", String.valueOf(port),
        "--bind", "127.0.0.1", "--save", ""));
    command.addAll(options);
    return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(dir.resolve(log).toFile()).start();
  }

  /** A client of the test's own Redis, claims held an hour. */
  private static org.compassci.sched.persistence.RedisClaims redisAt(int port) {
    return new org.compassci.sched.persistence.RedisClaims("redis://127.0.0.1:" + port, 3_600_000);
  }

  private static void awaitRedis(org.compassci.sched.persistence.RedisClaims redis) throws InterruptedException {
    RuntimeException last = null;
    for (int i = 0; i < 200; i++) {
      try {
        redis.ping();
        return;
      } catch (RuntimeException notYet) {
        last = notYet;
        Thread.sleep(50);
      }
    }
    throw new AssertionError("the test's Redis did not answer within 10 s (see its log in the test's folder)", last);
  }


  @Test
  void extractionReadsTheJobsResultsOrSaysWhyNot() throws Exception {
    Path results = dir.resolve("results");
    Path folder = results.resolve("hackbench/2026-11-28/dc-8g/5");
    Files.createDirectories(folder);
    Files.writeString(folder.resolve("stats.json"), "{\"hackbench.throughput\": 1234.5}");
    ActorRef<ExtractActor.Command> x = actors.spawn(ExtractActor.create(
        new Extraction(Extraction.installed(), results, "/result"), Clock.systemUTC()));
    TestProbe<ExtractActor.Extracted> done = testKit.createTestProbe();
    x.tell(new ExtractActor.Extract(5, Json.object().put("id", "5")
        .put("result_root", "/result/hackbench/2026-11-28/dc-8g/5"), done.getRef()));
    ExtractActor.Extracted ok = done.receiveMessage(WAIT);
    assertTrue(ok.result().ok(), String.valueOf(ok.result().error()));
    assertEquals(1234.5, ok.result().stats().path("hackbench.throughput").asDouble(), 1e-9);

    x.tell(new ExtractActor.Extract(6, Json.object().put("id", "6")
        .put("result_root", "/result/hackbench/2026-11-28/dc-8g/6"), done.getRef()));
    ExtractActor.Extracted missing = done.receiveMessage(WAIT);
    assertTrue(!missing.result().ok() && !missing.result().error().isEmpty(), missing.toString());

    TestProbe<ActorStats> stats = testKit.createTestProbe();
    x.tell(new ExtractActor.GetStats(stats.getRef()));
    ActorStats s = stats.receiveMessage(WAIT);
    assertEquals(1L, s.holds().get("extracted"));
    assertEquals(1L, s.holds().get("failed"));
  }

  /**
   * A plugin stuck on a job (a hung file system, a loop) is answered as timed out, its thread
   * interrupted; the pool's thread then extracts the next job as usual, with no interrupt left
   * over from the stuck one.
   */
  @Test
  void aStuckExtractionTimesOutAndItsThreadIsInterrupted() throws Exception {
    java.util.concurrent.CountDownLatch interrupted = new java.util.concurrent.CountDownLatch(1);
    org.compassci.sched.extract.ExtractPlugin stuckOnSeven = TestPlugin.named("stuck-on-7", (job, stats) -> {
      if (job.path("id").asText().equals("7")) {
        try {
          new java.util.concurrent.CountDownLatch(1).await();
        } catch (InterruptedException e) {
          interrupted.countDown();
          throw e;
        }
      }
      // an interrupt left over would end this at once
      Thread.sleep(20);
      stats.put("seen", job.path("id").asText());
    });
    // one extraction thread: the jobs after the stuck one run on the very thread it was interrupted on
    ActorTestKit oneThread = oneExtractionThread();
    try {
      stuckThenOthers(oneThread, stuckOnSeven, interrupted);
    } finally {
      oneThread.shutdownTestKit();
    }
  }

  /**
   * A plugin that ignores the interrupt holds its thread: the jobs behind it wait for a thread
   * at most twice the timeout, and are then answered as not run, instead of waiting for good
   * (the lifecycle then settled each an hour later, and the queue grew by a job each).
   */
  @Test
  void aJobWaitingBehindAPluginThatDoesNotEndIsAnswered() throws Exception {
    org.compassci.sched.extract.ExtractPlugin deafOnSeven = TestPlugin.named("deaf-on-7", (job, stats) -> {
      if (job.path("id").asText().equals("7")) {
        long end = System.nanoTime() + Duration.ofSeconds(6).toNanos();
        while (System.nanoTime() < end) {
          try {
            Thread.sleep(50);
          } catch (InterruptedException ignored) {
            // a plugin that does not stop
          }
        }
      }
      stats.put("seen", job.path("id").asText());
    });
    ActorTestKit oneThread = oneExtractionThread();
    try {
      ActorRef<ExtractActor.Command> x = extractor(oneThread, deafOnSeven, Duration.ofMillis(500));
      TestProbe<ExtractActor.Extracted> done = oneThread.createTestProbe();
      long start = System.nanoTime();
      x.tell(new ExtractActor.Extract(7, Json.object().put("id", "7"), done.getRef()));
      x.tell(new ExtractActor.Extract(8, Json.object().put("id", "8"), done.getRef()));
      // in either order: on a slow machine the wait of 8 can end before 7's run has timed out
      java.util.Map<Long, ExtractActor.Extracted> answers = new java.util.HashMap<>();
      done.receiveSeveralMessages(2, WAIT).forEach(e -> answers.put(e.id(), e));
      ExtractActor.Extracted first = answers.get(7L);
      assertTrue(!first.result().ok() && first.result().error().contains("longer than"), first.toString());
      ExtractActor.Extracted second = answers.get(8L);
      assertTrue(!second.result().ok() && second.result().error().contains("waited longer than"), second.toString());
      assertTrue(System.nanoTime() - start < Duration.ofSeconds(5).toNanos(), "answered while the thread is held");
    } finally {
      oneThread.shutdownTestKit();
    }
  }

  /** A queue that moves is not cut short: each run that ends gives the ones waiting their wait anew. */
  @Test
  void aLongQueueThatMovesIsExtractedWhole() throws Exception {
    org.compassci.sched.extract.ExtractPlugin slow = TestPlugin.named("slow", (job, stats) -> {
      Thread.sleep(300);
      stats.put("seen", job.path("id").asText());
    });
    ActorTestKit oneThread = oneExtractionThread();
    try {
      // 1 s timeout, so a run waits 2 s at most while none ends; the tenth waits 2.7 s in all
      ActorRef<ExtractActor.Command> x = extractor(oneThread, slow, Duration.ofSeconds(1));
      TestProbe<ExtractActor.Extracted> done = oneThread.createTestProbe();
      for (long id = 1; id <= 10; id++) {
        x.tell(new ExtractActor.Extract(id, Json.object().put("id", String.valueOf(id)), done.getRef()));
      }
      for (ExtractActor.Extracted e : done.receiveSeveralMessages(10, WAIT)) {
        assertTrue(e.result().ok(), e.toString());
      }
    } finally {
      oneThread.shutdownTestKit();
    }
  }

  /** An extractor on {@code kit} that runs {@code plugin} alone, each run for at most {@code timeout}. */
  private ActorRef<ExtractActor.Command> extractor(ActorTestKit kit, org.compassci.sched.extract.ExtractPlugin plugin,
      Duration timeout) {
    return kit.spawn(ExtractActor.create(new Extraction(List.of(plugin), dir, "/result"), Clock.systemUTC(), timeout));
  }

  /** A test kit whose extraction pool has one thread: what a run holds, the next waits for. */
  private static ActorTestKit oneExtractionThread() {
    return ActorTestKit.create(com.typesafe.config.ConfigFactory.parseString(
        "scheduler.extract-dispatcher.thread-pool-executor.fixed-pool-size = 1")
        .withFallback(com.typesafe.config.ConfigFactory.load()));
  }

  private void stuckThenOthers(ActorTestKit kit, org.compassci.sched.extract.ExtractPlugin stuckOnSeven,
      java.util.concurrent.CountDownLatch interrupted) throws Exception {
    ActorRef<ExtractActor.Command> x = extractor(kit, stuckOnSeven, Duration.ofSeconds(1));
    TestProbe<ExtractActor.Extracted> done = kit.createTestProbe();
    x.tell(new ExtractActor.Extract(7, Json.object().put("id", "7"), done.getRef()));
    ExtractActor.Extracted stuck = done.receiveMessage(WAIT);
    assertEquals(7, stuck.id());
    assertTrue(!stuck.result().ok() && stuck.result().error().contains("longer than"), stuck.toString());
    assertTrue(interrupted.await(10, java.util.concurrent.TimeUnit.SECONDS), "the stuck plugin was interrupted");

    for (long id = 8; id <= 10; id++) {
      x.tell(new ExtractActor.Extract(id, Json.object().put("id", String.valueOf(id)), done.getRef()));
      ExtractActor.Extracted next = done.receiveMessage(WAIT);
      assertTrue(next.result().ok(), next.toString());
      assertEquals(String.valueOf(id), next.result().stats().path("seen").asText());
    }
    done.expectNoMessage(Duration.ofMillis(500));
    TestProbe<ActorStats> stats = kit.createTestProbe();
    x.tell(new ExtractActor.GetStats(stats.getRef()));
    ActorStats s = stats.receiveMessage(WAIT);
    assertEquals(1L, s.holds().get("timed_out"));
    assertEquals(3L, s.holds().get("extracted"));
    assertEquals(0L, s.holds().get("running"));
  }

  /**
   * A write and a change of the same job in one commit: the change sees what the write wrote.
   * It used to start from the store's row as it was before the commit, and its result replaced
   * the write's: a requeue checked "still in dispatch" against the old row and put back in the
   * queue a job whose box had just reported boot.
   */
  @Test
  void aChangeAfterAWriteOfTheSameJobInOneCommitSeesTheWrite() throws Exception {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 2)) {
      real.insert(List.of(inStage(41, "dispatch"), queued(42)));
      java.util.concurrent.CountDownLatch holding = new java.util.concurrent.CountDownLatch(1);
      java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
      java.util.concurrent.atomic.AtomicBoolean holdNext = new java.util.concurrent.atomic.AtomicBoolean(true);
      org.compassci.sched.persistence.JobStore store = StoreHooks.before(real, method -> {
        if (method.equals("commit") && holdNext.getAndSet(false)) {
          holding.countDown();
          gate.await();
        }
      });
      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(store, 100));
      TestProbe<PersistenceActor.Written> written = testKit.createTestProbe();
      TestProbe<PersistenceActor.Modified> modified = testKit.createTestProbe();
      // a commit of another job is held, so that the next two go into one commit together
      p.tell(PersistenceActor.Write.kept(List.of(inStage(42, "cancel")), "other", written.getRef()));
      assertTrue(holding.await(10, java.util.concurrent.TimeUnit.SECONDS));
      p.tell(PersistenceActor.Write.kept(List.of(inStage(41, "boot")), "boot", written.getRef()));
      p.tell(new PersistenceActor.Modify(41, r -> {
        if (!r.stage().equals("dispatch")) {
          throw new IllegalStateException("job 41 is " + r.stage());
        }
        return new PersistenceActor.Changed(inStage(41, "submit"), "requeued");
      }, "requeue", modified.getRef()));
      gate.countDown();

      PersistenceActor.Modified m = modified.receiveMessage(WAIT);
      assertTrue(m.result().isEmpty(), "refused: " + m);
      assertEquals("job 41 is boot", m.error().orElseThrow());
      assertEquals("boot", real.find(41).orElseThrow().stage());
    }
  }

  private static JobRecord inStage(long id, String stage) {
    return new JobRecord(id, stage, "unknown", "N/A", "alice", "dc-8g", id, "{\"id\":\"" + id + "\",\"s\":\"" + stage + "\"}");
  }

  /**
   * Writes kept while the store was away are written when it is back, as older than anything
   * sent since: a newer state of the same job that is committing when the replay starts (job
   * 31), or waiting behind that commit (job 32), is what the store ends with. The replay used
   * to go behind both and write the older state last.
   */
  @Test
  void writesKeptWhileTheStoreWasAwayNeverOverwriteANewerStateWhenItIsBack() throws Exception {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 2)) {
      real.insert(List.of(queued(31), queued(32)));
      java.util.concurrent.atomic.AtomicBoolean commitsFail = new java.util.concurrent.atomic.AtomicBoolean(true);
      java.util.concurrent.atomic.AtomicBoolean pingsFail = new java.util.concurrent.atomic.AtomicBoolean(true);
      java.util.concurrent.atomic.AtomicBoolean holdNext = new java.util.concurrent.atomic.AtomicBoolean();
      java.util.concurrent.CountDownLatch holding = new java.util.concurrent.CountDownLatch(1);
      java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
      java.util.concurrent.atomic.AtomicInteger checksPassed = new java.util.concurrent.atomic.AtomicInteger();
      org.compassci.sched.persistence.JobStore store = (org.compassci.sched.persistence.JobStore)
          java.lang.reflect.Proxy.newProxyInstance(getClass().getClassLoader(),
              new Class<?>[] {org.compassci.sched.persistence.JobStore.class}, (proxy, m, args) -> {
                if ((m.getName().equals("commit") && commitsFail.get()) || (m.getName().equals("ping") && pingsFail.get())) {
                  throw new org.compassci.sched.persistence.StoreUnavailableException("the store is away", null);
                }
                if (m.getName().equals("commit") && holdNext.getAndSet(false)) {
                  holding.countDown();
                  gate.await();
                }
                try {
                  Object r = m.invoke(real, args);
                  if (m.getName().equals("sync")) {
                    checksPassed.incrementAndGet();
                  }
                  return r;
                } catch (java.lang.reflect.InvocationTargetException e) {
                  throw e.getCause();
                }
              });
      ActorRef<PersistenceActor.Command> p = actors.spawn(PersistenceActor.create(store, 100));
      TestProbe<PersistenceActor.Written> written = testKit.createTestProbe();
      p.tell(PersistenceActor.Write.kept(List.of(inStage(31, "boot"), inStage(32, "boot")), "kept", written.getRef()));
      assertTrue(written.receiveMessage(WAIT).error().isPresent(), "failed, and kept");

      // commits work again (the check does not know yet): one is held with job 31's newer state,
      // and job 32's newer state waits behind it
      commitsFail.set(false);
      holdNext.set(true);
      p.tell(PersistenceActor.Write.kept(List.of(inStage(31, "finish")), "31", written.getRef()));
      assertTrue(holding.await(10, java.util.concurrent.TimeUnit.SECONDS));
      p.tell(PersistenceActor.Write.kept(List.of(inStage(32, "running")), "32", written.getRef()));
      // the check finds the store back while the commit is still held (a second check starts
      // only once the first one's answer is taken in)
      int before = checksPassed.get();
      pingsFail.set(false);
      for (int i = 0; i < 100 && checksPassed.get() < before + 2; i++) {
        Thread.sleep(100);
      }
      assertTrue(checksPassed.get() >= before + 2, "the store was checked, and found back");
      gate.countDown();
      for (int i = 0; i < 2; i++) {
        assertTrue(written.receiveMessage(WAIT).error().isEmpty());
      }
      // commits go one at a time: once this one is answered, the replay has been written too
      p.tell(PersistenceActor.Write.newJobs(List.of(queued(33)), "33", written.getRef()));
      assertTrue(written.receiveMessage(WAIT).error().isEmpty());
      assertEquals("finish", real.find(31).orElseThrow().stage());
      assertEquals("running", real.find(32).orElseThrow().stage());
    }
  }
}
