package org.compassci.sched.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.compassci.sched.config.SchedulerSettings;
import org.compassci.sched.model.Job;
import org.compassci.sched.model.JobIntake;
import org.compassci.sched.model.Json;
import org.compassci.sched.model.Outcome;
import org.compassci.sched.model.Testbox;
import org.compassci.sched.persistence.JdbcJobStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The matcher with the real embedded store behind it. */
class MatcherActorTest {

  static final ActorTestKit testKit = ActorTestKit.create();

  @AfterAll
  static void shutdown() {
    testKit.shutdownTestKit();
  }

  @org.junit.jupiter.api.extension.RegisterExtension
  final Spawned actors = new Spawned(testKit);

  @TempDir Path dir;

  private record Wiring(JdbcJobStore store, ActorRef<MatcherActor.Command> matcher,
      TestProbe<LifecycleActor.Command> lifecycle) {}

  private Wiring start(JdbcJobStore store) {
    return start(store, store);
  }

  /** {@code through}: the store the persistence actor writes through ({@code store} or a wrapper of it). */
  private Wiring start(JdbcJobStore store, org.compassci.sched.persistence.JobStore through) {
    return start(store, through, Clock.systemUTC());
  }

  private Wiring start(JdbcJobStore store, org.compassci.sched.persistence.JobStore through, Clock clock) {
    ActorRef<PersistenceActor.Command> persistence = actors.spawn(PersistenceActor.create(through, 100));
    TestProbe<LifecycleActor.Command> lifecycle = testKit.createTestProbe();
    ActorRef<MatcherActor.Command> matcher = actors.spawn(
        MatcherActor.create(persistence, lifecycle.getRef(),
            SchedulerSettings.fromConfig(testKit.system().settings().config()), clock));
    return new Wiring(store, matcher, lifecycle);
  }

  private static JobIntake.Draft draft(String json) {
    return JobIntake.prepare(Json.parse(json));
  }

  private static Testbox box(String host, String arch, long mem) {
    return new Testbox(host, Set.of("hostname=" + host, "arch=" + arch, "tbox_type=vm",
        "tbox_type=dc", "tbox_group=" + host), mem);
  }

  private static List<Long> submit(Wiring w, List<JobIntake.Draft> drafts) {
    TestProbe<MatcherActor.SubmitResult> probe = testKit.createTestProbe();
    w.matcher().tell(new MatcherActor.Submit(drafts, probe.getRef()));
    MatcherActor.SubmitResult r = probe.receiveMessage(Duration.ofSeconds(10));
    assertTrue(r.error().isEmpty(), r.error().toString());
    return r.jobs().stream().map(MatcherActor.Submitted::id).toList();
  }

  private static MatcherActor.DispatchResult dispatch(Wiring w, Testbox box) {
    return dispatch(w.matcher(), box);
  }

  /** A dispatch, asked again (at most 100 times) while a new matcher still loads its queue. */
  static MatcherActor.DispatchResult dispatch(ActorRef<MatcherActor.Command> matcher, Testbox box) {
    TestProbe<MatcherActor.DispatchResult> probe = testKit.createTestProbe();
    MatcherActor.DispatchResult r = null;
    for (int i = 0; i < 100; i++) {
      matcher.tell(new MatcherActor.Dispatch(box, Duration.ZERO, probe.getRef()));
      r = probe.receiveMessage(Duration.ofSeconds(10));
      if (!(r instanceof MatcherActor.Unavailable)) {
        return r;
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return r;
      }
    }
    return r;
  }

  /**
   * Ids run ahead of the clock in a burst of submits. A matcher restarted within that lead saw
   * only the queued jobs, and gave the ids of jobs handed out since again: each such insert
   * failed the whole group commit it was in (every hand-out and submit with it). It now reads
   * the highest id it gave out lately before its queue, and goes on above it.
   */
  @Test
  void aRestartedMatcherGivesNoIdItGaveBefore() throws Exception {
    // a clock that stands still: every id past the first runs ahead of it, as in a burst
    Clock still = Clock.fixed(java.time.Instant.now(), java.time.ZoneOffset.UTC);
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 4)) {
      Wiring first = start(real, real, still);
      List<JobIntake.Draft> burst = new java.util.ArrayList<>();
      for (int i = 0; i < 3; i++) {
        burst.add(draft("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\",\"my_account\":\"a\"}"));
      }
      submit(first, burst);
      long last = submit(first, List.of(draft("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\",\"my_account\":\"b\"}")))
          .get(0);
      // b's job, the last and highest id, leaves the queue (cancelled) before the restart
      TestProbe<Outcome> cancelled = testKit.createTestProbe();
      first.matcher().tell(new MatcherActor.Cancel(last, cancelled.getRef()));
      assertEquals(Outcome.Status.OK, cancelled.receiveMessage(Duration.ofSeconds(10)).status());
      testKit.stop(first.matcher());

      Wiring second = start(real, real, still);
      long next = submit(second, List.of(draft("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\"}"))).get(0);
      assertTrue(next > last, next + " after " + last);
    }
  }

  /**
   * A hand-out made durable after its asker gave up (the HTTP ask's timeout) reaches no box: it
   * goes back to the queue at once, not after its dispatch-ack, without spending the job's
   * requeue budget, and the next box gets it. A request that arrives after its asker gave up
   * takes nothing.
   */
  @Test
  void aHandOutDurableAfterItsAskGaveUpGoesBackAtOnce() throws Exception {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 4)) {
      SupervisionTest.GatedStore gated = new SupervisionTest.GatedStore(real);
      Wiring w = start(real, gated.store);
      long id = submit(w, List.of(draft("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\"}"))).get(0);
      Testbox box = box("vm-2p8g--1", "x86_64", 65536);

      TestProbe<MatcherActor.DispatchResult> gaveUp = testKit.createTestProbe();
      w.matcher().tell(new MatcherActor.Dispatch(box, Duration.ZERO, null, System.currentTimeMillis() - 1, gaveUp.getRef()));
      assertInstanceOf(MatcherActor.Unavailable.class, gaveUp.receiveMessage(Duration.ofSeconds(10)));
      assertEquals("submit", real.find(id).orElseThrow().stage(), "a request already given up claims nothing");

      MatcherActor.Unavailable why = askThatGivesUpBeforeItsClaimIsIn(w, gated, box);
      assertTrue(why.reason().contains("gave up"), why.reason());

      // tracked (should the requeue fail, its dispatch-ack still brings it back), then forgotten
      boolean tracked = false;
      boolean forgotten = false;
      for (int i = 0; i < 10 && !forgotten; i++) {
        LifecycleActor.Command c = w.lifecycle().receiveMessage(Duration.ofSeconds(10));
        if (c instanceof LifecycleActor.Track t) {
          tracked |= t.records().stream().anyMatch(r -> r.id() == id);
        } else if (c instanceof LifecycleActor.Forget f && f.id() == id) {
          forgotten = true;
        }
      }
      assertTrue(tracked && forgotten, "tracked " + tracked + ", forgotten " + forgotten);
      Job back = Job.fromRecord(real.find(id).orElseThrow());
      assertEquals("submit", back.stage().wireName());
      assertEquals(0, back.requeueCount(), "the job did nothing wrong: its requeue budget is whole");
      assertTrue(back.field("last_requeue_reason").contains("gave up"), back.field("last_requeue_reason"));

      MatcherActor.Assigned next = assertInstanceOf(MatcherActor.Assigned.class, dispatch(w, box("vm-2p8g--2", "x86_64", 65536)));
      assertEquals(id, next.id());
      assertInstanceOf(MatcherActor.NoJob.class, dispatch(w, box));
    }
  }

  /**
   * A hand-out given back (its asker gave up before the claim was in) costs its tenant no turn:
   * the hand-outs after it go in the order they would have gone had it never been made. The
   * tenant used to stay charged, and the other tenant's jobs went first.
   */
  @Test
  void aHandOutGivenBackCostsItsTenantNoTurn() throws Exception {
    List<String> accounts = List.of("alice", "bob", "alice", "bob", "alice", "bob");
    List<String> expected;
    try (JdbcJobStore real = JdbcJobStore.embedded(dir.resolve("nothing-given-back"), 4)) {
      Wiring w = start(real);
      List<Long> ids = submit(w, tenantsJobs(accounts));
      expected = handOutsByAccount(w, ids, accounts);
    }
    try (JdbcJobStore real = JdbcJobStore.embedded(dir.resolve("one-given-back"), 4)) {
      SupervisionTest.GatedStore gated = new SupervisionTest.GatedStore(real);
      Wiring w = start(real, gated.store);
      List<Long> ids = submit(w, tenantsJobs(accounts));
      askThatGivesUpBeforeItsClaimIsIn(w, gated, box("dc-8g--1", "x86_64", 65536));
      awaitPending(w.matcher(), "alice", 3);
      awaitPending(w.matcher(), "bob", 3);
      assertEquals(expected, handOutsByAccount(w, ids, accounts));
    }
  }

  /**
   * A queued job whose stored row this matcher cannot read (written by a tool, or by a version
   * with other rules) is logged once and counted as known: the store's count of its tenant was
   * above the queue's for good, and the resync read the whole tenant again every second.
   */
  @Test
  void aQueuedRowThatCannotBeReadIsNotReadAgainEachSecond() throws Exception {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 2)) {
      real.insert(List.of(new org.compassci.sched.persistence.JobRecord(77, "submit", "unknown", "N/A", "carol",
          "dc-8g", System.currentTimeMillis(), "{\"not\":\"a job\"}")));
      java.util.concurrent.atomic.AtomicInteger tenantReads = new java.util.concurrent.atomic.AtomicInteger();
      Wiring w = start(real, StoreHooks.after(real, call -> {
        if (call.equals("findByStageAndTenant")) {
          tenantReads.incrementAndGet();
        }
      }));
      List<Long> ids = submit(w, tenantsJobs(List.of("carol")));
      Thread.sleep(3_500);
      assertTrue(tenantReads.get() <= 1, tenantReads.get() + " reads of the tenant in 3.5 s");
      // the tenant's other jobs go out as ever
      MatcherActor.Assigned a = assertInstanceOf(MatcherActor.Assigned.class, dispatch(w, box("dc-8g--1", "x86_64", 65536)));
      assertEquals(ids.get(0), a.id());
    }
  }

  /**
   * A dispatch whose claim's commit is held until its asker has given up: the hand-out is
   * durable, and no box hears of it. Its answer.
   */
  private static MatcherActor.Unavailable askThatGivesUpBeforeItsClaimIsIn(Wiring w, SupervisionTest.GatedStore gated,
      Testbox box) throws InterruptedException {
    gated.holdNext.set(true);
    // 3 s: the matcher claims well before then even on a slow machine, and the commit is held past it
    long answerBy = System.currentTimeMillis() + MatcherActor.ANSWER_MARGIN_MS + 3_000;
    TestProbe<MatcherActor.DispatchResult> late = testKit.createTestProbe();
    w.matcher().tell(new MatcherActor.Dispatch(box, Duration.ZERO, null, answerBy, late.getRef()));
    for (long end = System.nanoTime() + Duration.ofSeconds(10).toNanos(); !gated.held.get() && System.nanoTime() < end; ) {
      Thread.sleep(10);
    }
    assertTrue(gated.held.get(), "the claim's commit is held");
    // the commit outlasts the ask: released once the answer could no longer arrive in time
    while (System.currentTimeMillis() <= answerBy - MatcherActor.ANSWER_MARGIN_MS + 50) {
      Thread.sleep(20);
    }
    gated.gate.countDown();
    return assertInstanceOf(MatcherActor.Unavailable.class, late.receiveMessage(Duration.ofSeconds(10)));
  }

  private static List<JobIntake.Draft> tenantsJobs(List<String> accounts) {
    return accounts.stream()
        .map(a -> draft("{\"suite\":\"s\",\"testbox\":\"dc-8g\",\"my_account\":\"" + a + "\"}")).toList();
  }

  /** Every queued job handed out in turn: whose each was. */
  private List<String> handOutsByAccount(Wiring w, List<Long> ids, List<String> accounts) {
    List<String> order = new ArrayList<>();
    for (int i = 0; i < ids.size(); i++) {
      MatcherActor.Assigned a = assertInstanceOf(MatcherActor.Assigned.class,
          dispatch(w, box("dc-8g--" + (i + 2), "x86_64", 65536)));
      order.add(accounts.get(ids.indexOf(a.id())));
    }
    return order;
  }

  @Test
  void aJobGoesOnlyToABoxItFitsAndOnlyOnce() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      Wiring w = start(store);
      long id = submit(w, List.of(draft(
          "{\"suite\":\"hackbench\",\"testbox\":\"vm-2p8g\",\"arch\":\"aarch64\"}"))).get(0);
      assertInstanceOf(MatcherActor.NoJob.class, dispatch(w, box("x1", "x86_64", 16384)));
      assertInstanceOf(MatcherActor.NoJob.class, dispatch(w, box("s1", "aarch64", 4096)));
      MatcherActor.DispatchResult got = dispatch(w, box("h1", "aarch64", 16384));
      MatcherActor.Assigned a = assertInstanceOf(MatcherActor.Assigned.class, got);
      JsonNode job = Json.parse(Job.answer(a.record(), a.token()));
      assertEquals(Long.toString(id), job.path("id").asText());
      assertEquals("dispatch", job.path("job_stage").asText());
      assertEquals(32, job.path("job_token").asText().length());
      // durable before answered: the store already says dispatch
      assertEquals("dispatch", store.find(id).orElseThrow().stage());
      assertInstanceOf(LifecycleActor.Track.class, w.lifecycle().receiveMessage());
      assertInstanceOf(MatcherActor.NoJob.class, dispatch(w, box("h2", "aarch64", 16384)));
    }
  }

  @Test
  void theHostRegistryHearsOfABoxOnceASecondUnlessItChanges() {
    // the second is the matcher's clock's, moved by the test: six round trips through the store
    // may take longer than a wall-clock second on a slow machine
    StillClock clock = new StillClock();
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      ActorRef<PersistenceActor.Command> persistence = actors.spawn(PersistenceActor.create(store, 100));
      TestProbe<HostRegistryActor.Command> hosts = testKit.createTestProbe();
      ActorRef<MatcherActor.Command> matcher = actors.spawn(MatcherActor.create(persistence,
          testKit.<LifecycleActor.Command>createTestProbe().getRef(), hosts.getRef(),
          SchedulerSettings.fromConfig(testKit.system().settings().config()), clock));
      Testbox h1 = box("h1", "x86_64", 8192);
      assertInstanceOf(MatcherActor.NoJob.class, dispatch(matcher, h1));
      assertEquals(new HostRegistryActor.Contact(h1), hosts.receiveMessage(Duration.ofSeconds(5)));
      for (int i = 0; i < 5; i++) {
        dispatch(matcher, h1);
      }
      // another box, and the first one with less memory free: each is news
      Testbox h2 = box("h2", "x86_64", 8192);
      dispatch(matcher, h2);
      Testbox h1Busier = box("h1", "x86_64", 4096);
      dispatch(matcher, h1Busier);
      assertEquals(new HostRegistryActor.Contact(h2), hosts.receiveMessage(Duration.ofSeconds(5)));
      assertEquals(new HostRegistryActor.Contact(h1Busier), hosts.receiveMessage(Duration.ofSeconds(5)));
      hosts.expectNoMessage(Duration.ofMillis(200));
      // a second on, the same ask is news again: the registry's last contact stays that fresh
      clock.advance(Duration.ofMillis(MatcherActor.CONTACT_EVERY_MS));
      dispatch(matcher, h1Busier);
      assertEquals(new HostRegistryActor.Contact(h1Busier), hosts.receiveMessage(Duration.ofSeconds(5)));
    }
  }

  /** One container job per suite name, queued in that order. */
  private static List<Long> queueContainerJobs(Wiring w, String... suites) {
    List<JobIntake.Draft> drafts = new ArrayList<>();
    for (String suite : suites) {
      drafts.add(draft("{\"suite\":\"" + suite + "\",\"testbox\":\"dc-8g\"}"));
    }
    return submit(w, drafts);
  }

  @Test
  void everyJobHandedOutIsTrackedOnce() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      Wiring w = start(store);
      List<Long> ids = queueContainerJobs(w, "a", "b", "c");
      // three boxes ask at once: whichever commits their claims share, the lifecycle hears of
      // each job handed out, once
      List<TestProbe<MatcherActor.DispatchResult>> asked = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        TestProbe<MatcherActor.DispatchResult> probe = testKit.createTestProbe();
        w.matcher().tell(new MatcherActor.Dispatch(box("b" + i, "x86_64", 65536), Duration.ZERO, probe.getRef()));
        asked.add(probe);
      }
      Set<Long> answered = new HashSet<>();
      for (TestProbe<MatcherActor.DispatchResult> probe : asked) {
        answered.add(((MatcherActor.Assigned) probe.receiveMessage(Duration.ofSeconds(10))).id());
      }
      Set<Long> tracked = new HashSet<>();
      while (tracked.size() < 3) {
        var t = (LifecycleActor.Track) w.lifecycle().receiveMessage(Duration.ofSeconds(5));
        t.records().forEach(r -> tracked.add(r.id()));
      }
      assertEquals(new HashSet<>(ids), answered);
      assertEquals(answered, tracked);
      w.lifecycle().expectNoMessage(Duration.ofMillis(200));
    }
  }

  @Test
  void submitOrderIsKeptForNow() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      Wiring w = start(store);
      List<Long> ids = queueContainerJobs(w, "a", "b");
      var first = (MatcherActor.Assigned) dispatch(w, box("h1", "x86_64", 65536));
      var second = (MatcherActor.Assigned) dispatch(w, box("h1", "x86_64", 65536));
      assertEquals(Long.toString(ids.get(0)), Long.toString(first.id()));
      assertEquals(Long.toString(ids.get(1)), Long.toString(second.id()));
    }
  }

  @Test
  void twoBoxesAskingAtOnceNeverGetTheSameJob() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 4)) {
      Wiring w = start(store);
      List<JobIntake.Draft> drafts = new ArrayList<>();
      for (int i = 0; i < 200; i++) {
        drafts.add(draft("{\"suite\":\"s" + i + "\",\"testbox\":\"dc-8g\"}"));
      }
      Set<Long> submitted = new HashSet<>(submit(w, drafts));
      TestProbe<MatcherActor.DispatchResult> a = testKit.createTestProbe();
      TestProbe<MatcherActor.DispatchResult> b = testKit.createTestProbe();
      // all requests are in the mailbox before the first hand-out commits
      for (int i = 0; i < 150; i++) {
        w.matcher().tell(new MatcherActor.Dispatch(box("a", "x86_64", 65536), Duration.ZERO, a.getRef()));
        w.matcher().tell(new MatcherActor.Dispatch(box("b", "x86_64", 65536), Duration.ZERO, b.getRef()));
      }
      List<Long> handed = new ArrayList<>();
      int none = 0;
      for (TestProbe<MatcherActor.DispatchResult> p : List.of(a, b)) {
        for (int i = 0; i < 150; i++) {
          MatcherActor.DispatchResult r = p.receiveMessage(Duration.ofSeconds(10));
          if (r instanceof MatcherActor.Assigned as) {
            handed.add(as.id());
          } else {
            none++;
          }
        }
      }
      assertEquals(200, handed.size());
      assertEquals(100, none);
      assertEquals(submitted, new HashSet<>(handed), "each job handed out exactly once");
    }
  }

  @Test
  void aQueueLargerThanOnePageIsLoadedWholeBeforeAnyDispatch() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      List<org.compassci.sched.persistence.JobRecord> records = new ArrayList<>();
      java.time.Instant now = java.time.Instant.now();
      for (int i = 1; i <= 12_345; i++) {
        records.add(Job.submitted(draft("{\"suite\":\"s\",\"testbox\":\"dc-8g\",\"my_account\":\"t"
            + (i % 7) + "\"}"), i, now, "/result").toRecord());
      }
      store.insert(records);
      Wiring w = start(store);
      // the first answer comes once the last page is in: pages arrive one by one
      var first = (MatcherActor.Assigned) dispatch(w, box("h1", "x86_64", 65536));
      TestProbe<MatcherActor.Pending> pending = testKit.createTestProbe();
      w.matcher().tell(new MatcherActor.GetPending("my_account", pending.getRef()));
      assertEquals(12_344, pending.receiveMessage(Duration.ofSeconds(10)).total());
      assertEquals(1, first.id(), "the oldest job first");
    }
  }

  @Test
  void queuedJobsAreLoadedBackAfterARestart() {
    long id;
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      Wiring w = start(store);
      id = submit(w, List.of(draft("{\"suite\":\"a\",\"testbox\":\"dc-8g\"}"))).get(0);
      testKit.stop(w.matcher());
    }
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      Wiring w = start(store);
      var got = (MatcherActor.Assigned) dispatch(w, box("h1", "x86_64", 65536));
      assertEquals(Long.toString(id), Long.toString(got.id()));
      List<Long> more = submit(w, List.of(draft("{\"suite\":\"b\",\"testbox\":\"dc-8g\"}")));
      assertTrue(more.get(0) > id, "ids keep growing across restarts");
    }
  }

  private static int pendingOf(ActorRef<MatcherActor.Command> matcher, String account) {
    TestProbe<MatcherActor.Pending> probe = testKit.createTestProbe();
    matcher.tell(new MatcherActor.GetPending("my_account", probe.getRef()));
    return probe.receiveMessage(Duration.ofSeconds(10)).groups().getOrDefault(account, 0);
  }

  /** Polls {@code matcher}'s count for {@code account} until it is {@code expected}, at most 15 s. */
  private static void awaitPending(ActorRef<MatcherActor.Command> matcher, String account,
      int expected) throws InterruptedException {
    int seen = -1;
    for (int i = 0; i < 150 && seen != expected; i++) {
      seen = pendingOf(matcher, account);
      if (seen != expected) {
        Thread.sleep(100);
      }
    }
    assertEquals(expected, seen, account + "'s jobs queued in the second scheduler");
  }

  @Test
  void twoTenantsShortAtOnceAreBothReadAgainAndKeepBeingResynced() throws Exception {
    String db = "sched_resync_" + System.nanoTime();
    String url = "jdbc:mysql://127.0.0.1:3306/" + db + "?user=root";
    try (JdbcJobStore storeA = JdbcJobStore.mysql(url, 2); JdbcJobStore storeB = JdbcJobStore.mysql(url, 2)) {
      SchedulerSettings settings = SchedulerSettings.fromConfig(testKit.system().settings().config());
      Wiring a = start(storeA);
      ActorRef<MatcherActor.Command> b = actors.spawn(MatcherActor.create(
          actors.spawn(PersistenceActor.create(storeB, 100)), testKit.createTestProbe(
              LifecycleActor.Command.class).getRef(),
          settings.withResyncInterval(Duration.ofMillis(200)), Clock.systemUTC()));
      List<JobIntake.Draft> both = new ArrayList<>();
      for (String account : List.of("alice", "bob", "alice", "bob", "alice", "bob")) {
        both.add(draft("{\"suite\":\"a\",\"testbox\":\"dc-8g\",\"my_account\":\"" + account + "\"}"));
      }
      // one count finds both tenants short: their reloads are in flight together
      submit(a, both);
      awaitPending(b, "alice", 3);
      awaitPending(b, "bob", 3);
      submit(a, List.of(draft("{\"suite\":\"a\",\"testbox\":\"dc-8g\",\"my_account\":\"alice\"}"),
          draft("{\"suite\":\"a\",\"testbox\":\"dc-8g\",\"my_account\":\"bob\"}")));
      // neither tenant was left marked as reloading for good
      awaitPending(b, "alice", 4);
      awaitPending(b, "bob", 4);
    } finally {
      try (var c = java.sql.DriverManager.getConnection("jdbc:mysql://127.0.0.1:3306/?user=root");
          var st = c.createStatement()) {
        st.execute("DROP DATABASE IF EXISTS " + db);
      }
    }
  }

  /**
   * Cluster mode: a matcher handed over while its epoch is being taken stops only once the store
   * has answered, or once its request's deadline has passed (after which the store takes no
   * epoch for it). Stopped at once, its successor could take its epoch first and then lose it to
   * this one's request, landing late.
   */
  @Test
  void aMatcherHandedOverWhileItTakesItsEpochStopsOnceTheEpochIsSettled() {
    TestProbe<Object> watcher = testKit.createTestProbe();
    for (boolean answered : List.of(true, false)) {
      TestProbe<PersistenceActor.Command> store = testKit.createTestProbe();
      ActorRef<MatcherActor.Command> matcher = actors.spawn(MatcherActor.create(store.getRef(),
          testKit.createTestProbe(LifecycleActor.Command.class).getRef(), null,
          SchedulerSettings.fromConfig(testKit.system().settings().config()).withResyncInterval(Duration.ZERO),
          Clock.systemUTC(), "a:25520"));
      PersistenceActor.NextEpoch asked = store.expectMessageClass(PersistenceActor.NextEpoch.class);
      long left = asked.takeByNanos() - System.nanoTime();
      assertTrue(left > 0 && left <= MatcherActor.EPOCH_TAKE_WITHIN.toNanos(), Long.toString(left));
      matcher.tell(new MatcherActor.HandOver());
      if (answered) {
        org.junit.jupiter.api.Assertions.assertThrows(AssertionError.class,
            () -> testKit.createTestProbe().expectTerminated(matcher, Duration.ofMillis(500)),
            "stopped with its epoch request out");
        // meanwhile a submit is told at once to ask again (of the successor), not left to time out
        TestProbe<MatcherActor.SubmitResult> submitted = testKit.createTestProbe();
        matcher.tell(new MatcherActor.Submit(List.of(draft("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\"}")),
            submitted.getRef()));
        assertTrue(submitted.receiveMessage(Duration.ofSeconds(5)).error().isPresent());
        asked.replyTo().tell(new PersistenceActor.Epoch(java.util.Optional.of(
            new org.compassci.sched.persistence.MatcherEpoch(7, "a:25520", 1)), 0, java.util.Optional.empty()));
        watcher.expectTerminated(matcher, Duration.ofSeconds(5));
      } else {
        watcher.expectTerminated(matcher, MatcherActor.EPOCH_TAKE_WITHIN.plusSeconds(5));
        assertTrue(System.nanoTime() - asked.takeByNanos() >= 0, "stopped before the store's deadline");
      }
      // the queue was never asked for: the epoch first, and then the matcher was handed over
      store.expectNoMessage(Duration.ofMillis(100));
    }
  }

  /**
   * A matcher handed over while its queue loads answers what waited for the whole queue (a
   * submit, a cancel, a requeue, the shutdown's stop of parking) at once, "handing over", so its
   * askers ask again of the successor rather than wait out their ask's timeout: before the first
   * page, and while it serves from a part.
   */
  @Test
  void aMatcherHandedOverWhileItLoadsAnswersWhatWaitedForTheQueue() {
    for (boolean firstPageIn : List.of(false, true)) {
      TestProbe<PersistenceActor.Command> store = testKit.createTestProbe();
      ActorRef<MatcherActor.Command> matcher;
      if (firstPageIn) {
        matcher = matcherGivenAFullFirstPage(store);
        store.expectMessageClass(PersistenceActor.LoadStages.class);
      } else {
        matcher = loadingMatcher(store);
        store.expectMessageClass(PersistenceActor.LoadStages.class);
      }
      TestProbe<MatcherActor.SubmitResult> submitted = testKit.createTestProbe();
      matcher.tell(new MatcherActor.Submit(List.of(draft("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\"}")),
          submitted.getRef()));
      TestProbe<Outcome> cancelled = testKit.createTestProbe();
      matcher.tell(new MatcherActor.Cancel(5, cancelled.getRef()));
      TestProbe<MatcherActor.Requeued> requeued = testKit.createTestProbe();
      matcher.tell(new MatcherActor.Requeue(7, "hash", "no report", true, requeued.getRef()));
      TestProbe<org.apache.pekko.Done> unparked = testKit.createTestProbe();
      matcher.tell(new MatcherActor.StopParking(unparked.getRef()));
      submitted.expectNoMessage(Duration.ofMillis(200));
      matcher.tell(new MatcherActor.HandOver());
      // a bound for a slow machine only: before, none of them was answered at all
      Duration within = Duration.ofSeconds(10);
      assertTrue(submitted.receiveMessage(within).error().isPresent(), "submit answered");
      assertEquals(Outcome.Status.UNAVAILABLE, cancelled.receiveMessage(within).status());
      // the lifecycle reads the job's state again, and sends its requeue to the successor
      assertEquals(Outcome.Status.UNAVAILABLE, requeued.receiveMessage(within).outcome().status());
      unparked.receiveMessage(within);
      if (!firstPageIn) {
        testKit.createTestProbe().expectTerminated(matcher, Duration.ofSeconds(5));
      }
    }
  }

  /**
   * A submit without a key that waited in the stash of a loading matcher past its asker's time is
   * dropped unstored when the queue is in: its client was told 503, and each retry would have
   * been stored as well. One still within its time is stored.
   */
  @Test
  void aSubmitTakenUpAfterItsAskerGaveUpIsNotStored() {
    TestProbe<PersistenceActor.Command> store = testKit.createTestProbe();
    ActorRef<MatcherActor.Command> matcher = loadingMatcher(store);
    var load = store.expectMessageClass(PersistenceActor.LoadStages.class);
    TestProbe<MatcherActor.SubmitResult> late = testKit.createTestProbe();
    TestProbe<MatcherActor.SubmitResult> inTime = testKit.createTestProbe();
    List<JobIntake.Draft> job = List.of(draft("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\"}"));
    matcher.tell(new MatcherActor.SubmitAs(job, 100, java.util.Optional.empty(),
        System.currentTimeMillis() + 200, late.getRef()));
    matcher.tell(new MatcherActor.SubmitAs(job, 100, java.util.Optional.empty(),
        System.currentTimeMillis() + 60_000, inTime.getRef()));
    late.expectNoMessage(Duration.ofMillis(500));
    load.replyTo().tell(new PersistenceActor.LoadResult(List.of(), java.util.Optional.empty(), true));
    MatcherActor.SubmitResult dropped = late.receiveMessage(Duration.ofSeconds(10));
    assertTrue(dropped.jobs().isEmpty() && dropped.error().isPresent(), dropped.toString());
    // only the submit in time is written
    PersistenceActor.WriteSubmission written = store.expectMessageClass(PersistenceActor.WriteSubmission.class,
        Duration.ofSeconds(10));
    assertEquals(1, written.records().size());
    store.expectNoMessage(Duration.ofMillis(300));
  }

  /**
   * Submits past the loading matcher's stash are answered at once ("still loading"): before, the
   * stash overflowed, the matcher failed, and every stashed submit waited out its ask.
   */
  @Test
  void submitsPastAFullStashWhileLoadingAreTurnedAway() {
    TestProbe<PersistenceActor.Command> store = testKit.createTestProbe();
    ActorRef<MatcherActor.Command> matcher = loadingMatcher(store);
    store.expectMessageClass(PersistenceActor.LoadStages.class);
    TestProbe<Outcome> waiting = testKit.createTestProbe();
    for (int i = 0; i < MatcherActor.STASH - MatcherActor.STASH_KEPT_FOR_THE_ACTOR; i++) {
      matcher.tell(new MatcherActor.Cancel(1_000_000 + i, waiting.getRef()));
    }
    TestProbe<MatcherActor.SubmitResult> past = testKit.createTestProbe();
    matcher.tell(new MatcherActor.Submit(List.of(draft("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\"}")), past.getRef()));
    assertTrue(past.receiveMessage(Duration.ofSeconds(10)).error().isPresent());
    waiting.expectNoMessage(Duration.ofMillis(100));
    TestProbe<Outcome> later = testKit.createTestProbe();
    matcher.tell(new MatcherActor.Cancel(5, later.getRef()));
    assertEquals(Outcome.Status.UNAVAILABLE, later.receiveMessage(Duration.ofSeconds(10)).status());
  }

  /**
   * The queue comes in a page at a time: the matcher asks for the next page as it takes one in,
   * so the store never reads further ahead than that (pages read ahead unasked pile up in the
   * mailbox of a matcher slower than its store, up to the whole queue).
   */
  @Test
  void theQueueIsLoadedOnePageAheadAndNoFurther() {
    TestProbe<PersistenceActor.Command> store = testKit.createTestProbe();
    ActorRef<MatcherActor.Command> matcher = matcherGivenAFullFirstPage(store);
    var second = store.expectMessageClass(PersistenceActor.LoadStages.class);
    assertTrue(second.onePage());
    assertEquals(MatcherActor.QUEUE_PAGE, second.afterId());
    assertEquals(MatcherActor.QUEUE_PAGE, second.pageSize());
    store.expectNoMessage(Duration.ofMillis(300));
    second.replyTo().tell(new PersistenceActor.LoadResult(List.of(queued(MatcherActor.QUEUE_PAGE + 1)),
        java.util.Optional.empty(), true));
    TestProbe<MatcherActor.Pending> pending = testKit.createTestProbe();
    matcher.tell(new MatcherActor.GetPending("my_account", pending.getRef()));
    assertEquals(MatcherActor.QUEUE_PAGE + 1, pending.receiveMessage(Duration.ofSeconds(10)).total());
    store.expectNoMessage(Duration.ofMillis(200));
  }

  /** A matcher over {@code store}, a probe, with no resync: it asks for its queue and waits for the test. */
  private ActorRef<MatcherActor.Command> loadingMatcher(TestProbe<PersistenceActor.Command> store) {
    ActorRef<MatcherActor.Command> matcher = actors.spawn(MatcherActor.create(store.getRef(),
        testKit.createTestProbe(LifecycleActor.Command.class).getRef(),
        SchedulerSettings.fromConfig(testKit.system().settings().config()).withResyncInterval(Duration.ZERO),
        Clock.systemUTC()));
    noHighestId(store);
    return matcher;
  }

  /** A matcher's first word to its store at a start: the highest id it gave out lately; none here. */
  private static void noHighestId(TestProbe<PersistenceActor.Command> store) {
    store.expectMessageClass(PersistenceActor.FindHighestId.class).replyTo()
        .tell(new PersistenceActor.HighestIdFound(java.util.OptionalLong.empty(), java.util.Optional.empty()));
  }

  /**
   * A matcher over {@code store}, a probe, that has asked for the first page of its queue (one
   * page only, of {@link MatcherActor#QUEUE_PAGE} jobs) and been given a full one: jobs 1 to
   * {@code QUEUE_PAGE}.
   */
  private ActorRef<MatcherActor.Command> matcherGivenAFullFirstPage(TestProbe<PersistenceActor.Command> store) {
    TestProbe<LifecycleActor.Command> lifecycle = testKit.createTestProbe();
    // no resync: its periodic count of the store would come into the windows that expect nothing
    ActorRef<MatcherActor.Command> matcher = actors.spawn(MatcherActor.create(store.getRef(),
        lifecycle.getRef(), SchedulerSettings.fromConfig(testKit.system().settings().config())
            .withResyncInterval(Duration.ZERO), Clock.systemUTC()));
    noHighestId(store);
    var first = store.expectMessageClass(PersistenceActor.LoadStages.class);
    assertTrue(first.onePage());
    assertEquals(Long.MIN_VALUE, first.afterId());
    assertEquals(MatcherActor.QUEUE_PAGE, first.pageSize());
    List<org.compassci.sched.persistence.JobRecord> page = new ArrayList<>();
    for (long id = 1; id <= first.pageSize(); id++) {
      page.add(queued(id));
    }
    first.replyTo().tell(new PersistenceActor.LoadResult(page, java.util.Optional.empty(), false));
    return matcher;
  }

  private static org.compassci.sched.persistence.JobRecord queued(long id) {
    return queued(id, "dc-8g");
  }

  private static org.compassci.sched.persistence.JobRecord queued(long id, String testbox) {
    return new org.compassci.sched.persistence.JobRecord(id, "submit", "unknown", "N/A", "alice", testbox, id,
        Json.write(JobIntake.prepare(Json.parse("{\"suite\":\"a\",\"testbox\":\"" + testbox
            + "\",\"my_account\":\"alice\"}")).doc()));
  }

  /**
   * From its first page on, the loading matcher hands out what it has: a box that asks gets a
   * loaded job, one that fits only jobs further on waits for them, and what would read or change
   * the queue (here a count) waits until the last page is in.
   */
  @Test
  void whileTheQueueLoadsDispatchesAreServedFromTheLoadedPages() {
    TestProbe<PersistenceActor.Command> store = testKit.createTestProbe();
    ActorRef<MatcherActor.Command> matcher = matcherGivenAFullFirstPage(store);
    var second = store.expectMessageClass(PersistenceActor.LoadStages.class);

    TestProbe<MatcherActor.Pending> pending = testKit.createTestProbe();
    matcher.tell(new MatcherActor.GetPending("my_account", pending.getRef()));
    // a hardware box fits none of the loaded jobs (containers): it waits
    TestProbe<MatcherActor.DispatchResult> hw = testKit.createTestProbe();
    matcher.tell(new MatcherActor.Dispatch(new Testbox("taishan200--a61", Set.of("hostname=taishan200--a61", "tbox_type=hw",
        "tbox_group=taishan200"), 65536), Duration.ofSeconds(30), hw.getRef()));
    TestProbe<MatcherActor.DispatchResult> dc = testKit.createTestProbe();
    matcher.tell(new MatcherActor.Dispatch(box("h1", "x86_64", 65536), Duration.ZERO, dc.getRef()));
    var claim = store.expectMessageClass(PersistenceActor.ClaimJob.class);
    assertEquals(1, claim.claim().id());
    org.compassci.sched.persistence.JobRecord one = queued(1);
    claim.replyTo().tell(new PersistenceActor.Claims(List.of(new PersistenceActor.Claimed(claim.context(), java.util.Optional.of(
        new org.compassci.sched.persistence.JobRecord(1, "dispatch", "unknown", "N/A", "alice", "dc-8g", 1,
            one.document(), "h1", claim.claim().tokenHash(), claim.claim().timeMillis())), java.util.Optional.empty()))));
    assertEquals(1, ((MatcherActor.Assigned) dc.receiveMessage(Duration.ofSeconds(5))).id());
    pending.expectNoMessage(Duration.ofMillis(200));
    hw.expectNoMessage(Duration.ZERO);

    long last = MatcherActor.QUEUE_PAGE + 1;
    second.replyTo().tell(new PersistenceActor.LoadResult(List.of(queued(last, "taishan200--a61")),
        java.util.Optional.empty(), true));
    var hwClaim = store.expectMessageClass(PersistenceActor.ClaimJob.class);
    assertEquals(last, hwClaim.claim().id());
    assertEquals("taishan200--a61", hwClaim.claim().host());
    // the count waited for the whole queue: every loaded job but the one handed out, and the
    // hardware job on its way out
    assertEquals(MatcherActor.QUEUE_PAGE - 1, pending.receiveMessage(Duration.ofSeconds(5)).total());
  }

  @Test
  void whileTheQueueLoadsADispatchIsToldToComeBackNotKeptWaiting() {
    // the store never answers the load, as in an outage at start
    TestProbe<PersistenceActor.Command> store = testKit.createTestProbe();
    TestProbe<LifecycleActor.Command> lifecycle = testKit.createTestProbe();
    ActorRef<MatcherActor.Command> matcher = actors.spawn(MatcherActor.create(store.getRef(),
        lifecycle.getRef(), SchedulerSettings.fromConfig(testKit.system().settings().config())
            .withResyncInterval(Duration.ZERO), Clock.systemUTC()));
    noHighestId(store);
    store.expectMessageClass(PersistenceActor.LoadStages.class);
    TestProbe<MatcherActor.DispatchResult> box = testKit.createTestProbe();
    matcher.tell(new MatcherActor.Dispatch(box("h1", "x86_64", 65536), Duration.ofSeconds(30), box.getRef()));
    assertInstanceOf(MatcherActor.Unavailable.class, box.receiveMessage(Duration.ofSeconds(3)));
    store.expectNoMessage(Duration.ofMillis(200));
  }

  @Test
  void aRequeueTakesBackOnlyTheHandOutItNames() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      Wiring w = start(store);
      long id = submit(w, List.of(draft("{\"suite\":\"a\",\"testbox\":\"dc-8g\"}"))).get(0);
      var toA = (MatcherActor.Assigned) dispatch(w, box("a", "x86_64", 65536));
      TestProbe<MatcherActor.Requeued> probe = testKit.createTestProbe();
      w.matcher().tell(new MatcherActor.Requeue(id, toA.record().tokenHash(), "lost", probe.getRef()));
      assertEquals(org.compassci.sched.model.Outcome.Status.OK, probe.receiveMessage(Duration.ofSeconds(10)).outcome().status());
      var toB = (MatcherActor.Assigned) dispatch(w, box("b", "x86_64", 65536));
      assertEquals(id, toB.id(), "back at its place, handed to b");
      // a late requeue of a's hand-out must not undo b's
      w.matcher().tell(new MatcherActor.Requeue(id, toA.record().tokenHash(), "late", probe.getRef()));
      assertEquals(org.compassci.sched.model.Outcome.Status.CONFLICT, probe.receiveMessage(Duration.ofSeconds(10)).outcome().status());
      assertEquals("b", store.find(id).orElseThrow().host());
      assertEquals("dispatch", store.find(id).orElseThrow().stage());
      assertInstanceOf(MatcherActor.NoJob.class, dispatch(w, box("c", "x86_64", 65536)));
    }
  }

  @Test
  void aJobTakenBackIsForgottenByTheLifecycleWithTheBoxItLeft() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      Wiring w = start(store);
      ActorRef<MatcherActor.Command> matcher = w.matcher();
      long id = submit(w, List.of(draft("{\"suite\":\"a\",\"testbox\":\"dc-8g\"}"))).get(0);
      var toA = (MatcherActor.Assigned) dispatch(w, box("a", "x86_64", 65536));
      TestProbe<MatcherActor.Requeued> probe = testKit.createTestProbe();
      matcher.tell(new MatcherActor.Requeue(id, toA.record().tokenHash(), "lost", probe.getRef()));
      assertEquals(org.compassci.sched.model.Outcome.Status.OK, probe.receiveMessage(Duration.ofSeconds(10)).outcome().status());
      List<LifecycleActor.Command> told = w.lifecycle().fishForMessage(Duration.ofSeconds(10),
          m -> m instanceof LifecycleActor.Forget
              ? org.apache.pekko.actor.testkit.typed.javadsl.FishingOutcomes.complete()
              : org.apache.pekko.actor.testkit.typed.javadsl.FishingOutcomes.continueAndIgnore());
      LifecycleActor.Forget forget = (LifecycleActor.Forget) told.get(told.size() - 1);
      assertEquals(id, forget.id());
      assertEquals("a", forget.host(), "the lifecycle tells the host registry");
      assertEquals("submit", forget.view().path("job_stage").asText(), "and the watchers");
    }
  }

  @Test
  void cancelTakesAQueuedJobOut() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      Wiring w = start(store);
      long id = submit(w, List.of(draft("{\"suite\":\"a\",\"testbox\":\"dc-8g\"}"))).get(0);
      TestProbe<org.compassci.sched.model.Outcome> probe = testKit.createTestProbe();
      w.matcher().tell(new MatcherActor.Cancel(id, probe.getRef()));
      var o = probe.receiveMessage(Duration.ofSeconds(10));
      assertEquals("cancel", o.job().path("job_stage").asText());
      assertEquals("cancel", store.find(id).orElseThrow().stage());
      assertEquals("cancel", w.lifecycle().expectMessageClass(LifecycleActor.Cancelled.class)
          .view().path("job_stage").asText(), "told to the lifecycle, for the job's watchers");
      assertInstanceOf(MatcherActor.NoJob.class, dispatch(w, box("h1", "x86_64", 65536)));
      w.matcher().tell(new MatcherActor.Cancel(id + 100, probe.getRef()));
      var forwarded = w.lifecycle().expectMessageClass(LifecycleActor.CancelNotQueued.class);
      assertEquals(id + 100, forwarded.id());
    }
  }

  /**
   * A job queued and claimed for a first box, its claim's commit written but reported failed
   * ({@code loseNextAnswer}, of a {@link StoreHooks#nextCommitAnswerLost} store): the box is told
   * 503. Returns the job's id.
   */
  private static long claimInDoubt(Wiring w, java.util.concurrent.atomic.AtomicBoolean loseNextAnswer) {
    long id = submit(w, List.of(draft("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\"}"))).get(0);
    loseNextAnswer.set(true);
    TestProbe<MatcherActor.DispatchResult> first = testKit.createTestProbe();
    w.matcher().tell(new MatcherActor.Dispatch(box("vm-2p8g--1", "x86_64", 65536), Duration.ZERO, first.getRef()));
    assertInstanceOf(MatcherActor.Unavailable.class, first.receiveMessage(Duration.ofSeconds(10)));
    return id;
  }

  /**
   * A claim's commit reports failure although the claim was written (MySQL's answer lost on the
   * way back, a Manticore batch that failed half done): the box is told 503, so the job is out
   * to no one. The matcher checks such a claim in the store and takes the job back at once; it
   * used to sit in dispatch, untracked, and the queue dropped it at its next claim.
   */
  @Test
  void aClaimWrittenAlthoughItsCommitFailedComesBackToTheQueue() throws Exception {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 4)) {
      java.util.concurrent.atomic.AtomicBoolean loseNextAnswer = new java.util.concurrent.atomic.AtomicBoolean();
      org.compassci.sched.persistence.JobStore lossy = StoreHooks.nextCommitAnswerLost(real, loseNextAnswer);
      Wiring w = start(real, lossy);
      long id = claimInDoubt(w, loseNextAnswer);
      assertEquals("dispatch", real.find(id).orElseThrow().stage(), "the claim was written all the same");

      for (long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
          !"submit".equals(real.find(id).orElseThrow().stage()) && System.nanoTime() < end; ) {
        Thread.sleep(50);
      }
      assertEquals("submit", real.find(id).orElseThrow().stage(), "taken back in the store");
      var again = assertInstanceOf(MatcherActor.Assigned.class, dispatch(w, box("vm-2p8g--2", "x86_64", 65536)));
      assertEquals(id, again.id());
      assertEquals("vm-2p8g--2", real.find(id).orElseThrow().host());
    }
  }

  /**
   * A submit whose commit was written but reported failed (MySQL's answer lost on the way back)
   * is looked for in the store before it is answered: there, its jobs are queued and the submit
   * answered as stored. It was answered 503, "not stored", while the resync queued its jobs, and
   * a client that sent it again (lkp-tests' sends no key) had every job twice.
   */
  @Test
  void aSubmitWrittenAlthoughItsCommitFailedIsAnsweredAsStored() throws Exception {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 4)) {
      java.util.concurrent.atomic.AtomicBoolean loseNextAnswer = new java.util.concurrent.atomic.AtomicBoolean(true);
      Wiring w = start(real, StoreHooks.nextCommitAnswerLost(real, loseNextAnswer));
      TestProbe<MatcherActor.SubmitResult> probe = testKit.createTestProbe();
      w.matcher().tell(new MatcherActor.SubmitAs(List.of(draft("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\"}"),
          draft("{\"suite\":\"t\",\"testbox\":\"vm-2p8g\"}")), 1000, java.util.Optional.empty(), probe.getRef()));
      MatcherActor.SubmitResult r = probe.receiveMessage(Duration.ofSeconds(10));
      assertFalse(loseNextAnswer.get(), "the commit's answer was lost");
      assertTrue(r.error().isEmpty(), r.error().toString());
      assertEquals(2, r.jobs().size());
      Set<Long> handed = new java.util.HashSet<>();
      for (int i = 0; i < 2; i++) {
        handed.add(assertInstanceOf(MatcherActor.Assigned.class, dispatch(w, box("vm-2p8g--" + i, "x86_64", 65536))).id());
      }
      assertEquals(r.jobs().stream().map(MatcherActor.Submitted::id).collect(java.util.stream.Collectors.toSet()), handed);
      assertInstanceOf(MatcherActor.NoJob.class, dispatch(w, box("vm-2p8g--9", "x86_64", 65536)));
    }
  }

  /**
   * A keyed submit sent again while the first is still being written joins it: one set of jobs,
   * both answered with it. The idempotency actor lets a key go when it restarts or its ask of the
   * matcher times out (5 minutes), and a retry then found no key in the store yet and was
   * written as a second set.
   */
  @Test
  void aKeyedSubmitSentAgainWhileTheFirstIsWrittenJoinsIt() throws Exception {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 4)) {
      StoreHooks.CommitGate gate = new StoreHooks.CommitGate();
      Wiring w = start(real, StoreHooks.before(real, gate));
      List<JobIntake.Draft> jobs = List.of(draft("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\",\"my_account\":\"alice\"}"));
      MatcherActor.Once once = new MatcherActor.Once("alice", "k1", "digest-1");
      TestProbe<MatcherActor.SubmitResult> first = testKit.createTestProbe();
      TestProbe<MatcherActor.SubmitResult> again = testKit.createTestProbe();
      TestProbe<MatcherActor.SubmitResult> other = testKit.createTestProbe();
      gate.arm();
      w.matcher().tell(new MatcherActor.SubmitAs(jobs, 1000, java.util.Optional.of(once), first.getRef()));
      assertTrue(gate.awaitHeld(10), "the first submit's commit");
      w.matcher().tell(new MatcherActor.SubmitAs(jobs, 1000, java.util.Optional.of(once), again.getRef()));
      w.matcher().tell(new MatcherActor.SubmitAs(jobs, 1000,
          java.util.Optional.of(new MatcherActor.Once("alice", "k1", "digest-2")), other.getRef()));
      MatcherActor.SubmitResult refused = other.receiveMessage(Duration.ofSeconds(10));
      assertTrue(refused.error().isPresent() && refused.error().get().contains("another request body"), refused.toString());
      again.expectNoMessage(Duration.ofMillis(200));
      gate.open();
      MatcherActor.SubmitResult a = first.receiveMessage(Duration.ofSeconds(10));
      MatcherActor.SubmitResult b = again.receiveMessage(Duration.ofSeconds(10));
      assertTrue(a.error().isEmpty(), a.toString());
      assertEquals(a, b, "the same answer");
      // and once it is stored, for a while: the idempotency actor's lookup of a key reads beside
      // the commit, and one that came just before it was in found nothing
      TestProbe<MatcherActor.SubmitResult> late = testKit.createTestProbe();
      w.matcher().tell(new MatcherActor.SubmitAs(jobs, 1000, java.util.Optional.of(once), late.getRef()));
      assertEquals(a, late.receiveMessage(Duration.ofSeconds(10)), "the stored answer");
      assertInstanceOf(MatcherActor.Assigned.class, dispatch(w, box("vm-2p8g--1", "x86_64", 65536)));
      assertInstanceOf(MatcherActor.NoJob.class, dispatch(w, box("vm-2p8g--2", "x86_64", 65536)), "one job, not two");
      assertEquals(1, real.findByStage(List.of("submit", "dispatch"), Long.MIN_VALUE, 100).size());
    }
  }

  /** A matcher handed over while a submit in doubt is looked for answers it (503, as before the look) before it stops. */
  @Test
  void aMatcherHandedOverAnswersTheSubmitsItStillLooksFor() throws Exception {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 4)) {
      java.util.concurrent.atomic.AtomicBoolean loseNextAnswer = new java.util.concurrent.atomic.AtomicBoolean(true);
      java.util.concurrent.CountDownLatch lookOut = new java.util.concurrent.CountDownLatch(1);
      org.compassci.sched.persistence.JobStore slowLook = StoreHooks.before(
          StoreHooks.nextCommitAnswerLost(real, loseNextAnswer), method -> {
            if (method.equals("findByIds")) {
              lookOut.countDown();
              Thread.sleep(8000);
            }
          });
      Wiring w = start(real, slowLook);
      TestProbe<MatcherActor.SubmitResult> probe = testKit.createTestProbe();
      w.matcher().tell(new MatcherActor.SubmitAs(List.of(draft("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\"}")),
          1000, java.util.Optional.empty(), probe.getRef()));
      assertTrue(lookOut.await(10, java.util.concurrent.TimeUnit.SECONDS), "the submit is looked for");
      w.matcher().tell(new MatcherActor.HandOver());
      MatcherActor.SubmitResult r = probe.receiveMessage(Duration.ofSeconds(6));
      assertTrue(r.error().isPresent(), r.toString());
    }
  }

  /**
   * A submit whose insert was refused because its id was another job's (the commit fails for
   * good) is not answered as stored: the row found under that id is the other job.
   */
  @Test
  void aSubmitRefusedForAnIdOfAnotherJobIsNotTakenForStored() throws Exception {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 4)) {
      java.util.concurrent.atomic.AtomicBoolean clash = new java.util.concurrent.atomic.AtomicBoolean(true);
      org.compassci.sched.persistence.JobStore clashing = (org.compassci.sched.persistence.JobStore)
          java.lang.reflect.Proxy.newProxyInstance(getClass().getClassLoader(),
              new Class<?>[] {org.compassci.sched.persistence.JobStore.class}, (proxy, m, args) -> {
                if (m.getName().equals("commit") && !((List<?>) args[0]).isEmpty() && clash.compareAndSet(true, false)) {
                  // another job holds the first new job's id already
                  var mine = (org.compassci.sched.persistence.JobRecord) ((List<?>) args[0]).get(0);
                  real.upsert(List.of(Job.submitted(draft("{\"suite\":\"other\",\"testbox\":\"vm-2p8g\"}"), mine.id(),
                      java.time.Instant.ofEpochMilli(mine.submitTimeMillis() - 60_000), "/result").toRecord()));
                  throw new org.compassci.sched.persistence.StoreRefusedException("duplicate key: job " + mine.id(), null);
                }
                try {
                  return m.invoke(real, args);
                } catch (java.lang.reflect.InvocationTargetException e) {
                  throw e.getCause();
                }
              });
      Wiring w = start(real, clashing);
      TestProbe<MatcherActor.SubmitResult> probe = testKit.createTestProbe();
      w.matcher().tell(new MatcherActor.SubmitAs(List.of(draft("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\"}")),
          1000, java.util.Optional.empty(), probe.getRef()));
      MatcherActor.SubmitResult r = probe.receiveMessage(Duration.ofSeconds(10));
      assertFalse(clash.get(), "the insert clashed");
      assertTrue(r.error().isPresent() && r.jobs().isEmpty(), r.toString());
    }
  }

  /**
   * A matcher handed over with a claim in doubt checks it before it stops: the job is back in
   * the queue in the store, not counted against its requeues. Left to the successor, it sat in
   * dispatch with no box until its dispatch-ack, and then paid a requeue (with two paid already,
   * it ended abort_provider without ever running).
   */
  @Test
  void aMatcherHandedOverWithAClaimInDoubtSettlesItBeforeItStops() throws Exception {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 4)) {
      java.util.concurrent.atomic.AtomicBoolean loseNextAnswer = new java.util.concurrent.atomic.AtomicBoolean();
      Wiring w = start(real, StoreHooks.nextCommitAnswerLost(real, loseNextAnswer));
      long id = claimInDoubt(w, loseNextAnswer);
      // at once, before the first check (a second later)
      w.matcher().tell(new MatcherActor.HandOver());
      testKit.createTestProbe().expectTerminated(w.matcher(), Duration.ofSeconds(10));
      org.compassci.sched.persistence.JobRecord after = real.find(id).orElseThrow();
      assertEquals("submit", after.stage(), "back in the queue before the matcher stopped");
      assertEquals(0, org.compassci.sched.model.Json.parse(after.document()).path("requeue_count").asInt(0),
          "not counted: " + after.document());
    }
  }

  /**
   * A claim in doubt is put back in the queue at once, and another box takes the job while the
   * check of the doubtful claim is out. The check's change reaches the store first and takes
   * the job back; the second claim then takes it. The job is the second box's, and not in the
   * queue as well: queued twice over, the tenant was charged twice, the next box's claim of it
   * was refused, and its Redis claim was released under the second box.
   */
  @Test
  void aClaimInDoubtCheckedWhileAnotherBoxTakesTheJobLeavesItWithThatBox() throws Exception {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 4)) {
      java.util.concurrent.atomic.AtomicBoolean loseNextAnswer = new java.util.concurrent.atomic.AtomicBoolean();
      StoreHooks.CommitGate gate = new StoreHooks.CommitGate();
      org.compassci.sched.persistence.JobStore lossy = StoreHooks.before(
          StoreHooks.nextCommitAnswerLost(real, loseNextAnswer), gate);
      Wiring w = start(real, lossy);
      long id = claimInDoubt(w, loseNextAnswer);
      // the check's change (a second later) is the next commit: held until the second box has asked
      gate.arm();
      assertTrue(gate.awaitHeld(10), "the in-doubt check's commit");
      TestProbe<MatcherActor.DispatchResult> second = testKit.createTestProbe();
      w.matcher().tell(new MatcherActor.Dispatch(box("vm-2p8g--2", "x86_64", 65536), Duration.ZERO, second.getRef()));
      // the second claim waits behind the held commit
      second.expectNoMessage(Duration.ofMillis(300));
      gate.open();
      assertEquals(id, assertInstanceOf(MatcherActor.Assigned.class, second.receiveMessage(Duration.ofSeconds(10))).id());
      assertEquals("vm-2p8g--2", real.find(id).orElseThrow().host());
      TestProbe<MatcherActor.Stats> stats = testKit.createTestProbe();
      w.matcher().tell(new MatcherActor.GetStats(stats.getRef()));
      assertEquals(0, stats.receiveMessage(Duration.ofSeconds(10)).queued(), "the job is out, not queued too");
      assertInstanceOf(MatcherActor.NoJob.class, dispatch(w, box("vm-2p8g--3", "x86_64", 65536)));
    }
  }

  /**
   * A hand-over (the node stops) while a claim is being committed whose box has hung up: the
   * job goes back to the queue in the store before the matcher stops, as it would without the
   * hand-over. Its give-back used to be a message to itself, queued behind the store's answer
   * to the drain: the matcher stopped first, and the job waited out its dispatch-ack in
   * dispatch, for a box that never heard of it.
   */
  @Test
  void aHandOutGivenBackAsAHandOverDrainsGoesBackToTheQueueBeforeTheMatcherStops() throws Exception {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 4)) {
      StoreHooks.CommitGate gate = new StoreHooks.CommitGate();
      Wiring w = start(real, StoreHooks.before(real, gate));
      long id = submit(w, List.of(draft("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\"}"))).get(0);
      gate.arm();
      org.compassci.sched.model.ConnectionId connection = org.compassci.sched.model.ConnectionId.next();
      TestProbe<MatcherActor.DispatchResult> box = testKit.createTestProbe();
      w.matcher().tell(new MatcherActor.Dispatch(box("vm-2p8g--1", "x86_64", 65536), Duration.ZERO, connection,
          box.getRef()));
      assertTrue(gate.awaitHeld(10), "the claim's commit");
      w.matcher().tell(new MatcherActor.ClientGone(connection));
      w.matcher().tell(new MatcherActor.HandOver());
      TestProbe<Object> watcher = testKit.createTestProbe();
      // the hand-over has begun before the claim settles: new asks are turned away
      TestProbe<MatcherActor.DispatchResult> late = testKit.createTestProbe();
      w.matcher().tell(new MatcherActor.Dispatch(box("vm-2p8g--2", "x86_64", 65536), Duration.ZERO, late.getRef()));
      assertInstanceOf(MatcherActor.Unavailable.class, late.receiveMessage(Duration.ofSeconds(10)));
      gate.open();
      watcher.expectTerminated(w.matcher(), Duration.ofSeconds(10));
      assertEquals("submit", real.find(id).orElseThrow().stage(), "back in the queue in the store");
      box.receiveMessage(Duration.ofSeconds(10));
    }
  }

  /**
   * A parked poll is answered "no job" before its asker's deadline, not after the whole long poll
   * from the moment it parked: a request that waited in the mailbox (or parked again after a
   * refused claim) would otherwise be answered after its HTTP ask gave up, and the box would get
   * an error (503) instead of 204.
   */
  @Test
  void aParkedPollEndsBeforeItsAskersDeadline() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 4)) {
      Wiring w = start(store);
      // the matcher up and answering first
      assertInstanceOf(MatcherActor.NoJob.class, dispatch(w, box("vm-2p8g--0", "x86_64", 65536)));
      TestProbe<MatcherActor.DispatchResult> box = testKit.createTestProbe();
      // 4 s left of the asker's time, of which the last second is the margin; the long poll is 60 s
      w.matcher().tell(new MatcherActor.Dispatch(box("vm-2p8g--1", "x86_64", 65536), Duration.ofSeconds(60), null,
          System.currentTimeMillis() + 4_000, box.getRef()));
      assertInstanceOf(MatcherActor.NoJob.class, box.receiveMessage(Duration.ofSeconds(15)));
    }
  }

  /**
   * A request whose client hung up before the request reached the matcher (its connection's
   * ClientGone came first: they have different senders) takes nothing: a claim would reach no
   * box and cost the job its dispatch-ack and a count of its requeue budget.
   */
  @Test
  void aRequestArrivingAfterItsClientHungUpTakesNothing() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 4)) {
      Wiring w = start(store);
      long id = submit(w, List.of(draft("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\"}"))).get(0);
      org.compassci.sched.model.ConnectionId connection = org.compassci.sched.model.ConnectionId.next();
      w.matcher().tell(new MatcherActor.ClientGone(connection));
      TestProbe<MatcherActor.DispatchResult> probe = testKit.createTestProbe();
      w.matcher().tell(new MatcherActor.Dispatch(box("vm-2p8g--1", "x86_64", 65536), Duration.ZERO, connection,
          probe.getRef()));
      assertInstanceOf(MatcherActor.NoJob.class, probe.receiveMessage(Duration.ofSeconds(10)));
      assertEquals("submit", store.find(id).orElseThrow().stage());
      assertEquals(id, assertInstanceOf(MatcherActor.Assigned.class,
          dispatch(w, box("vm-2p8g--2", "x86_64", 65536))).id());
    }
  }

  /**
   * A box (a provider) asks again while its earlier ask is parked, and the new one is served at
   * once: the parked one is answered with no job and let go, so it is never filled later on the
   * free memory the new one already used (it was left standing, and over-committed the host).
   */
  @Test
  void aNewAskServedAtOnceLetsTheParkedAskOfTheSameBoxGo() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 4)) {
      Wiring w = start(store);
      submit(w, List.of(draft("{\"suite\":\"warm\",\"testbox\":\"vm-2p1g\"}")));
      dispatch(w, box("other", "x86_64", 65536));
      TestProbe<MatcherActor.DispatchResult> parkedAsk = testKit.createTestProbe();
      w.matcher().tell(new MatcherActor.Dispatch(box("p1", "x86_64", 10_240), Duration.ofSeconds(30), parkedAsk.getRef()));
      parkedAsk.expectNoMessage(Duration.ofMillis(200));
      long big = submit(w, List.of(draft("{\"suite\":\"s\",\"testbox\":\"vm-2p16g\"}"))).get(0);
      parkedAsk.expectNoMessage(Duration.ofMillis(200));
      var served = assertInstanceOf(MatcherActor.Assigned.class, dispatch(w, box("p1", "x86_64", 20_480)));
      assertEquals(big, served.id());
      assertInstanceOf(MatcherActor.NoJob.class, parkedAsk.receiveMessage(Duration.ofSeconds(10)));
      long small = submit(w, List.of(draft("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\"}"))).get(0);
      parkedAsk.expectNoMessage(Duration.ofMillis(300));
      assertEquals("submit", store.find(small).orElseThrow().stage(), "nobody asked for it since");
    }
  }

  /**
   * Once this node stops its HTTP server (StopParking), a request of its own that reaches the
   * matcher after that, sent before the server turned new requests away, takes no job, though
   * one fits: the drain that waits for its answer may end first (its deadline, or a store that
   * is slow), and a job whose answer is cut off waits out its dispatch-ack.
   */
  @Test
  void aRequestThatComesAfterStopParkingTakesNoJob() throws Exception {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 4)) {
      Wiring w = start(store);
      long id = submit(w, List.of(draft("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\"}"))).get(0);
      TestProbe<org.apache.pekko.Done> stopped = testKit.createTestProbe();
      w.matcher().tell(new MatcherActor.StopParking(stopped.getRef()));
      stopped.expectMessage(org.apache.pekko.Done.getInstance());
      assertInstanceOf(MatcherActor.NoJob.class, dispatch(w, box("vm-2p8g--1", "x86_64", 65536)));
      assertEquals("submit", store.find(id).orElseThrow().stage(), "the job stays queued for the next scheduler");
    }
  }
}
