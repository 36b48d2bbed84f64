package org.compassci.sched.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.compassci.sched.auth.AccountBook;
import org.compassci.sched.model.JobIntake;
import org.compassci.sched.model.Json;
import org.compassci.sched.model.Outcome;
import org.compassci.sched.persistence.Account;
import org.compassci.sched.persistence.JdbcJobStore;
import org.compassci.sched.persistence.SubmitKey;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The accounts actor over the real embedded store; the idempotency actor against probes. */
class AccountsAndIdempotencyActorTest {

  static final ActorTestKit testKit = ActorTestKit.create();
  static final Duration WAIT = Duration.ofSeconds(10);

  @AfterAll
  static void shutdown() {
    testKit.shutdownTestKit();
  }

  @org.junit.jupiter.api.extension.RegisterExtension
  final Spawned actors = new Spawned(testKit);

  @TempDir Path dir;

  /** Two removals sent together, of the only two admins: one goes, the other is refused. */
  @Test
  void theLastAdminStaysEvenWhenBothAdminsAreRemovedAtOnce() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      ActorRef<AccountsActor.Command> accounts = actors.spawn(
          AccountsActor.create(store, new AccountBook(), Duration.ZERO, Clock.systemUTC()));
      TestProbe<AccountsActor.Answer> probe = testKit.createTestProbe();
      for (String name : List.of("a1", "a2")) {
        accounts.tell(new AccountsActor.Add(name, "", "", Account.ADMIN, probe.getRef()));
        assertEquals(Outcome.Status.OK, probe.receiveMessage(WAIT).status());
      }
      TestProbe<AccountsActor.Answer> first = testKit.createTestProbe();
      TestProbe<AccountsActor.Answer> second = testKit.createTestProbe();
      accounts.tell(new AccountsActor.Remove("a1", first.getRef()));
      accounts.tell(new AccountsActor.Remove("a2", second.getRef()));
      assertEquals(Outcome.Status.OK, first.receiveMessage(WAIT).status());
      AccountsActor.Answer refused = second.receiveMessage(WAIT);
      assertEquals(Outcome.Status.CONFLICT, refused.status());
      assertTrue(refused.message().contains("last admin"), refused.message());
      assertEquals(List.of("a2"), store.accounts().stream().map(Account::name).toList());
    }
  }

  /**
   * A periodic read of the accounts (several schedulers share the store) that began before a
   * removal and came back after it: it published the removed account's token again, on the
   * scheduler that had just answered "removed", until the next read.
   */
  @Test
  void aReadBegunBeforeARemovalDoesNotBringTheRemovedTokenBack() throws Exception {
    try (JdbcJobStore real = JdbcJobStore.embedded(dir, 2)) {
      java.util.concurrent.atomic.AtomicReference<java.util.concurrent.CountDownLatch> hold =
          new java.util.concurrent.atomic.AtomicReference<>();
      java.util.concurrent.CountDownLatch reading = new java.util.concurrent.CountDownLatch(1);
      org.compassci.sched.persistence.AccountStore store = (org.compassci.sched.persistence.AccountStore)
          java.lang.reflect.Proxy.newProxyInstance(getClass().getClassLoader(),
              new Class<?>[] {org.compassci.sched.persistence.AccountStore.class}, (proxy, m, args) -> {
                Object r;
                try {
                  r = m.invoke(real, args);
                } catch (java.lang.reflect.InvocationTargetException e) {
                  throw e.getCause();
                }
                // read, then held: the answer is of the store before the removal
                java.util.concurrent.CountDownLatch h = hold.get();
                if (h != null && m.getName().equals("accounts")) {
                  reading.countDown();
                  h.await();
                }
                return r;
              });
      AccountBook book = new AccountBook();
      ActorRef<AccountsActor.Command> accounts = actors.spawn(
          AccountsActor.create(store, book, Duration.ofSeconds(2), Clock.systemUTC()));
      TestProbe<AccountsActor.Answer> probe = testKit.createTestProbe();
      accounts.tell(new AccountsActor.Add("alice", "", "", Account.USER, probe.getRef()));
      String token = probe.receiveMessage(WAIT).token().orElseThrow();

      java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
      hold.set(release);
      assertTrue(reading.await(10, java.util.concurrent.TimeUnit.SECONDS), "the periodic read began");
      hold.set(null);
      accounts.tell(new AccountsActor.Remove("alice", probe.getRef()));
      assertEquals(Outcome.Status.OK, probe.receiveMessage(WAIT).status());
      assertTrue(book.byToken(token).isEmpty());
      release.countDown();
      // the read's answer (alice still there) is in well before the next read, 2 s after the last
      Thread.sleep(500);
      TestProbe<ActorStats> stats = testKit.createTestProbe();
      accounts.tell(new AccountsActor.GetStats(stats.getRef()));
      stats.receiveMessage(WAIT);
      assertTrue(book.byToken(token).isEmpty(), "the removed token stays refused");
    }
  }

  @Test
  void accountsAreStoredThenPublishedAndATokenLeavesOnlyInItsAnswer() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      AccountBook book = new AccountBook();
      ActorRef<AccountsActor.Command> accounts = actors.spawn(
          AccountsActor.create(store, book, Duration.ZERO, Clock.systemUTC()));
      TestProbe<AccountsActor.Answer> probe = testKit.createTestProbe();

      accounts.tell(new AccountsActor.Add("alice", "alice@example.org", "Alice", Account.USER, probe.getRef()));
      AccountsActor.Answer made = probe.receiveMessage(WAIT);
      assertEquals(Outcome.Status.OK, made.status(), made.message());
      String token = made.token().orElseThrow();
      assertEquals("alice", book.byToken(token).orElseThrow().name(), "published once stored");
      assertEquals(List.of("alice"), store.accounts().stream().map(Account::name).toList());

      accounts.tell(new AccountsActor.Add("alice", "", "", Account.USER, probe.getRef()));
      assertEquals(Outcome.Status.CONFLICT, probe.receiveMessage(WAIT).status());
      accounts.tell(new AccountsActor.Add("bad/name", "", "", Account.USER, probe.getRef()));
      assertEquals(Outcome.Status.INVALID, probe.receiveMessage(WAIT).status());
      accounts.tell(new AccountsActor.Add("eve", "", "", "root", probe.getRef()));
      assertEquals(Outcome.Status.INVALID, probe.receiveMessage(WAIT).status());
      // longer than the store's column: refused here (400), not by the store (503)
      accounts.tell(new AccountsActor.Add("bob", "", "b".repeat(256), Account.USER, probe.getRef()));
      AccountsActor.Answer longName = probe.receiveMessage(WAIT);
      assertEquals(Outcome.Status.INVALID, longName.status(), longName.message());

      accounts.tell(new AccountsActor.Rotate("alice", probe.getRef()));
      AccountsActor.Answer rotated = probe.receiveMessage(WAIT);
      String fresh = rotated.token().orElseThrow();
      assertTrue(book.byToken(token).isEmpty(), "the old token stops at once");
      assertEquals("alice", book.byToken(fresh).orElseThrow().name());
      accounts.tell(new AccountsActor.Rotate("nobody", probe.getRef()));
      assertEquals(Outcome.Status.NOT_FOUND, probe.receiveMessage(WAIT).status());

      accounts.tell(new AccountsActor.Remove("alice", probe.getRef()));
      AccountsActor.Answer removed = probe.receiveMessage(WAIT);
      assertEquals(Outcome.Status.OK, removed.status());
      assertTrue(removed.token().isEmpty());
      assertTrue(book.byToken(fresh).isEmpty());
      assertEquals(List.of(), store.accounts());

      // a restarted actor reads them back from the store
      accounts.tell(new AccountsActor.Add("bob", "", "", Account.ADMIN, probe.getRef()));
      String bob = probe.receiveMessage(WAIT).token().orElseThrow();
      AccountBook other = new AccountBook();
      actors.spawn(AccountsActor.create(store, other, Duration.ZERO, Clock.systemUTC()));
      TestProbe<ActorStats> stats = testKit.createTestProbe();
      stats.awaitAssert(WAIT, () -> {
        assertTrue(other.byToken(bob).orElseThrow().admin());
        return null;
      });
    }
  }

  private static List<JobIntake.Draft> drafts() {
    return List.of(JobIntake.prepare(Json.parse("{\"suite\":\"s\",\"testbox\":\"dc-8g\",\"my_account\":\"alice\"}")));
  }

  /** A keyed submits' actor between a store and a matcher that the test plays. */
  private record Keyed(TestProbe<PersistenceActor.Command> store, TestProbe<MatcherActor.Command> matcher,
      ActorRef<IdempotencyActor.Command> once) {}

  private Keyed keyed() {
    TestProbe<PersistenceActor.Command> store = testKit.createTestProbe();
    TestProbe<MatcherActor.Command> matcher = testKit.createTestProbe();
    return new Keyed(store, matcher, actors.spawn(
        IdempotencyActor.create(store.getRef(), matcher.getRef(), Duration.ofHours(24), Clock.systemUTC())));
  }

  /**
   * Remembered answers are bounded by their size too, not only their number: an answer holds
   * every job of its submit (1.5 MB for 10,000), and 100,000 of them would not fit a heap. An
   * answer let go is read from the store when its key comes again.
   */
  @Test
  void rememberedAnswersAreBoundedBySize() {
    TestProbe<PersistenceActor.Command> store = testKit.createTestProbe();
    TestProbe<MatcherActor.Command> matcher = testKit.createTestProbe();
    ActorRef<IdempotencyActor.Command> once = actors.spawn(
        IdempotencyActor.create(store.getRef(), matcher.getRef(), Duration.ofHours(24), Clock.systemUTC(), 1000));
    TestProbe<IdempotencyActor.Result> answers = testKit.createTestProbe();
    for (int i = 0; i < 20; i++) {
      once.tell(new IdempotencyActor.Submit("alice", "k" + i, "d", drafts(), 100, answers.getRef()));
      store.expectMessageClass(PersistenceActor.FindSubmitKey.class, WAIT).replyTo()
          .tell(new PersistenceActor.SubmitKeyFound("alice", "k" + i, Optional.empty(), Optional.empty()));
      matcher.expectMessageClass(MatcherActor.SubmitAs.class, WAIT).replyTo().tell(stored(100 + i));
      answers.receiveMessage(WAIT);
    }
    TestProbe<ActorStats> stats = testKit.createTestProbe();
    once.tell(new IdempotencyActor.GetStats(stats.getRef()));
    ActorStats s = stats.receiveMessage(WAIT);
    assertTrue(s.holds().get("answer_chars_remembered") <= 1000, s.toString());
    assertTrue(s.holds().get("keys_remembered") < 20, s.toString());
    // the newest is answered from memory, the oldest looked up again
    once.tell(new IdempotencyActor.Submit("alice", "k19", "d", drafts(), 100, answers.getRef()));
    assertInstanceOf(IdempotencyActor.Replayed.class, answers.receiveMessage(WAIT));
    once.tell(new IdempotencyActor.Submit("alice", "k0", "d", drafts(), 100, answers.getRef()));
    store.expectMessageClass(PersistenceActor.FindSubmitKey.class, WAIT);
  }

  private static MatcherActor.SubmitResult stored(long id) {
    return new MatcherActor.SubmitResult(List.of(new MatcherActor.Submitted(id, "/result/s/" + id)), Optional.empty());
  }

  @Test
  void aKeyGoesToTheMatcherOnceAndEveryRepeatGetsItsAnswer() {
    Keyed k = keyed();
    TestProbe<IdempotencyActor.Result> first = testKit.createTestProbe();
    TestProbe<IdempotencyActor.Result> repeat = testKit.createTestProbe();

    k.once().tell(new IdempotencyActor.Submit("alice", "k", "d1", drafts(), 100, first.getRef()));
    PersistenceActor.FindSubmitKey look = k.store().expectMessageClass(PersistenceActor.FindSubmitKey.class, WAIT);
    assertEquals("alice", look.account());
    // a repeat while the first is looked up waits for it: nothing more goes out
    k.once().tell(new IdempotencyActor.Submit("alice", "k", "d1", drafts(), 100, repeat.getRef()));
    look.replyTo().tell(new PersistenceActor.SubmitKeyFound("alice", "k", Optional.empty(), Optional.empty()));
    MatcherActor.SubmitAs asked = k.matcher().expectMessageClass(MatcherActor.SubmitAs.class, WAIT);
    assertEquals(new MatcherActor.Once("alice", "k", "d1"), asked.once().orElseThrow());
    k.store().expectNoMessage(Duration.ofMillis(100));
    asked.replyTo().tell(stored(42));
    assertEquals(42, ((IdempotencyActor.Fresh) first.receiveMessage(WAIT)).result().jobs().get(0).id());
    assertEquals(42, ((IdempotencyActor.Fresh) repeat.receiveMessage(WAIT)).result().jobs().get(0).id());

    // later repeats: from memory, no store, no matcher
    k.once().tell(new IdempotencyActor.Submit("alice", "k", "d1", drafts(), 100, repeat.getRef()));
    IdempotencyActor.Replayed again = assertInstanceOf(IdempotencyActor.Replayed.class, repeat.receiveMessage(WAIT));
    assertTrue(again.answer().contains("\"job_id\":\"42\""), again.answer());
    k.once().tell(new IdempotencyActor.Submit("alice", "k", "other body", drafts(), 100, repeat.getRef()));
    assertInstanceOf(IdempotencyActor.Mismatch.class, repeat.receiveMessage(WAIT));
    k.matcher().expectNoMessage(Duration.ofMillis(100));
    k.store().expectNoMessage(Duration.ofMillis(1));
  }

  /**
   * Cluster hand-over: the keyed submits' singleton stops only once the submit on its way to the
   * matcher is answered (its successor starts after it, so it never looks up a key this one may
   * still be storing); a key still being looked up, and new submits, are turned away meanwhile,
   * since the matcher may already have moved.
   */
  @Test
  void aHandOverWaitsForTheSubmitOnItsWayAndTurnsNewOnesAway() {
    Keyed k = keyed();
    TestProbe<IdempotencyActor.Result> first = testKit.createTestProbe();
    TestProbe<IdempotencyActor.Result> looking = testKit.createTestProbe();
    TestProbe<IdempotencyActor.Result> late = testKit.createTestProbe();

    k.once().tell(new IdempotencyActor.Submit("alice", "k", "d", drafts(), 100, first.getRef()));
    k.store().expectMessageClass(PersistenceActor.FindSubmitKey.class, WAIT).replyTo()
        .tell(new PersistenceActor.SubmitKeyFound("alice", "k", Optional.empty(), Optional.empty()));
    MatcherActor.SubmitAs asked = k.matcher().expectMessageClass(MatcherActor.SubmitAs.class, WAIT);
    k.once().tell(new IdempotencyActor.Submit("alice", "k1", "d", drafts(), 100, looking.getRef()));
    PersistenceActor.FindSubmitKey look = k.store().expectMessageClass(PersistenceActor.FindSubmitKey.class, WAIT);

    k.once().tell(new IdempotencyActor.HandOver());
    k.once().tell(new IdempotencyActor.Submit("alice", "k2", "d", drafts(), 100, late.getRef()));
    assertInstanceOf(IdempotencyActor.Unavailable.class, late.receiveMessage(WAIT));
    look.replyTo().tell(new PersistenceActor.SubmitKeyFound("alice", "k1", Optional.empty(), Optional.empty()));
    assertInstanceOf(IdempotencyActor.Unavailable.class, looking.receiveMessage(WAIT));
    k.store().expectNoMessage(Duration.ofMillis(100));
    k.matcher().expectNoMessage(Duration.ofMillis(1));

    // still there, with the submit on its way
    TestProbe<ActorStats> stats = testKit.createTestProbe();
    k.once().tell(new IdempotencyActor.GetStats(stats.getRef()));
    assertEquals(1L, stats.receiveMessage(WAIT).holds().get("keys_in_flight"));
    asked.replyTo().tell(stored(43));
    assertEquals(43, ((IdempotencyActor.Fresh) first.receiveMessage(WAIT)).result().jobs().get(0).id());
    testKit.createTestProbe().expectTerminated(k.once(), WAIT);
  }

  @Test
  void aKeyTheStoreKeptIsAnsweredFromItAndAFailedSubmitMayBeRetried() {
    Keyed keyed = keyed();
    TestProbe<PersistenceActor.Command> store = keyed.store();
    TestProbe<MatcherActor.Command> matcher = keyed.matcher();
    ActorRef<IdempotencyActor.Command> once = keyed.once();
    TestProbe<IdempotencyActor.Result> client = testKit.createTestProbe();

    // after a crash the key is only in the store
    once.tell(new IdempotencyActor.Submit("alice", "crashed", "d", drafts(), 100, client.getRef()));
    PersistenceActor.FindSubmitKey look = store.expectMessageClass(PersistenceActor.FindSubmitKey.class, WAIT);
    look.replyTo().tell(new PersistenceActor.SubmitKeyFound("alice", "crashed", Optional.of(new SubmitKey(
        "alice", "crashed", "d", System.currentTimeMillis(), List.of(7L), "[{\"job_id\":\"7\"}]")), Optional.empty()));
    assertEquals("[{\"job_id\":\"7\"}]", ((IdempotencyActor.Replayed) client.receiveMessage(WAIT)).answer());
    matcher.expectNoMessage(Duration.ofMillis(100));

    // a key past its time in the store is a new submit
    once.tell(new IdempotencyActor.Submit("alice", "old", "d", drafts(), 100, client.getRef()));
    look = store.expectMessageClass(PersistenceActor.FindSubmitKey.class, WAIT);
    look.replyTo().tell(new PersistenceActor.SubmitKeyFound("alice", "old", Optional.of(new SubmitKey(
        "alice", "old", "d", 0L, List.of(8L), "[]")), Optional.empty()));
    MatcherActor.SubmitAs asked = matcher.expectMessageClass(MatcherActor.SubmitAs.class, WAIT);

    // the store could not take it: not remembered, the next try goes on afresh
    asked.replyTo().tell(new MatcherActor.SubmitResult(List.of(), Optional.of("store away")));
    assertTrue(((IdempotencyActor.Fresh) client.receiveMessage(WAIT)).result().error().isPresent());
    once.tell(new IdempotencyActor.Submit("alice", "old", "d", drafts(), 100, client.getRef()));
    look = store.expectMessageClass(PersistenceActor.FindSubmitKey.class, WAIT);
    look.replyTo().tell(new PersistenceActor.SubmitKeyFound("alice", "old", Optional.empty(), Optional.of("away")));
    assertInstanceOf(IdempotencyActor.Unavailable.class, client.receiveMessage(WAIT));
    assertFalse(client.getRef().path().name().isEmpty());
  }
}
