package org.compassci.sched.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The kit itself: its events, testboxes, manual time, and what one kit keeps from another. */
class SchedulerTestKitTest {

  static final String DC_JOB = "{\"suite\":\"s\",\"testbox\":\"dc-8g\",\"my_account\":\"alice\"}";
  static final Duration WAIT = Duration.ofSeconds(10);

  /** One kit per test: an instance field, shut down after each. */
  @RegisterExtension SchedulerTestKit kit = SchedulerTestKit.create();

  /**
   * A kit started on a lab's own machine, whose environment names its cluster, its hosts folder,
   * its secrets key and its lkp-tests tree (here as system properties, which the configuration reads as it reads
   * SCHED_* through application.conf): the kit is a standalone scheduler all the same.
   */
  @Test
  void theHostsOwnClusterLabSecretsAndLkpSettingsDoNotReachTheKit() {
    java.util.Map<String, String> lab = java.util.Map.of(
        "scheduler.cluster.seed-nodes", "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3",
        "scheduler.lab.hosts-dir", "/nonexistent/lab/hosts",
        "scheduler.secrets-key", "not base64",
        "scheduler.submit.lkp-src", "/nonexistent/lkp-tests");
    lab.forEach(System::setProperty);
    com.typesafe.config.ConfigFactory.invalidateCaches();
    SchedulerTestKit other = null;
    try {
      other = SchedulerTestKit.create();
      long id = other.client().submitOne(DC_JOB);
      assertEquals(id, other.testbox("d9", 16384, "tbox_type=dc").askForJob().orElseThrow().id());
    } finally {
      if (other != null) {
        other.shutdown();
      }
      lab.keySet().forEach(System::clearProperty);
      com.typesafe.config.ConfigFactory.invalidateCaches();
    }
  }

  /** A kit with accounts: the client calls as an account when given its token. */
  @Test
  void inTokensModeTheClientCallsAsTheAccountWhoseTokenItHas() {
    String admin = "kit-admin-token-0123456789";
    SchedulerTestKit accounts = SchedulerTestKit.builder().setting("scheduler.auth.mode", "tokens")
        .setting("scheduler.admin-token", admin).start();
    try {
      assertEquals(401, assertThrows(SchedulerException.class, () -> accounts.client().submitOne(DC_JOB)).status());
      long id = accounts.client().withToken(admin).submitOne(DC_JOB);
      assertEquals("cancel", accounts.client().withToken(admin).cancel(id).stage());
    } finally {
      accounts.shutdown();
    }
  }

  /** A kit refused at its start (a bad setting) leaves no folder behind. */
  @Test
  void aKitRefusedAtItsStartLeavesNoFolder() throws Exception {
    java.nio.file.Path tmp = java.nio.file.Path.of(System.getProperty("java.io.tmpdir"));
    java.util.function.Supplier<Long> folders = () -> {
      try (var s = Files.list(tmp)) {
        return s.filter(p -> p.getFileName().toString().startsWith("scheduler-testkit-")).count();
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    };
    long before = folders.get();
    for (Object bad : List.of(100, -1, "x")) {
      assertThrows(RuntimeException.class,
          () -> SchedulerTestKit.builder().setting("scheduler.worker-id", bad).start());
    }
    assertThrows(RuntimeException.class,
        () -> SchedulerTestKit.builder().setting("scheduler.fair-share.default-weight", 0).start());
    assertEquals(before, folders.get());
  }

  /** A kit used after it was shut down says so, rather than leaving its caller a refused connection. */
  @Test
  void aKitUsedAfterItsShutdownSaysSo() {
    SchedulerTestKit gone;
    try (SchedulerTestKit k = SchedulerTestKit.create()) {
      gone = k;
    }
    IllegalStateException e = assertThrows(IllegalStateException.class, gone::client);
    assertTrue(e.getMessage().contains("was shut down"), e.getMessage());
    assertThrows(IllegalStateException.class, () -> gone.testbox("d1", 1024));
    assertThrows(IllegalStateException.class, () -> gone.events(1));
  }

  /** A probe on a job that does not exist: untilClosed fails, so a test with a wrong id cannot pass. */
  @Test
  void untilClosedFailsForAJobThatDoesNotExist() {
    TestProbe<JobEvent> events = kit.events(424242);
    AssertionError e = assertThrows(AssertionError.class, () -> events.fishForMessage(WAIT, JobEvent.untilClosed()));
    assertTrue(e.getMessage().contains("424242"), e.getMessage());
  }

  @Test
  void theProbeSeesEachStageOfAJobThatRunsAndUploadsItsStatistics() {
    long id = kit.client().submitOne(DC_JOB);
    TestProbe<JobEvent> events = kit.events(id);
    JobEvent.Changed first = events.expectMessageClass(JobEvent.Changed.class);
    assertEquals("submit", first.stage());
    assertEquals("s", first.state().path("suite").asText());

    SimulatedTestbox box = kit.testbox("d1", 16384, "tbox_type=dc");
    SimulatedTestbox.HandedOut job = box.askForJob().orElseThrow();
    assertEquals(id, job.id());
    JobEvent.Changed dispatched = events.expectMessageClass(JobEvent.Changed.class);
    assertEquals("dispatch", dispatched.stage());
    assertEquals("d1", dispatched.fields().path("host_machine").asText());
    assertFalse(dispatched.changed("suite"), "one message per change, with what changed");

    box.boot();
    assertEquals("boot", events.expectMessageClass(JobEvent.Changed.class).stage());
    box.running();
    assertEquals("running", events.expectMessageClass(JobEvent.Changed.class).stage());
    box.upload("stats.json", "{\"hackbench.throughput\": 52012}").finish("success");
    events.fishForMessage(WAIT, e -> e instanceof JobEvent.Changed c && "complete".equals(c.readiness())
        ? org.apache.pekko.actor.testkit.typed.javadsl.FishingOutcomes.complete()
        : org.apache.pekko.actor.testkit.typed.javadsl.FishingOutcomes.continueAndIgnore());
    assertEquals(new JobEvent.Closed(id, null), events.expectMessageClass(JobEvent.Closed.class));

    JobView done = kit.client().job(id);
    assertEquals("finish", done.stage());
    assertEquals("success", done.health());
    assertEquals(52012, done.json().path("stats").path("hackbench.throughput").asInt());
    assertTrue(box.currentJob().isEmpty(), "a box that finished holds nothing");
  }

  @Test
  void aBareMetalBoxBootsByMacTakesItsJobFromThePackageAndRunsIt() {
    SimulatedTestbox box = kit.bareMetalBox("taishan200-2s48p-256g--a7", "AA-BB-CC-DD-EE-07", 262144,
        "arch=aarch64");
    assertTrue(box.bootByMac().isEmpty(), "no job yet: the No job now script");
    long id = kit.client().submitOne("{\"suite\":\"hackbench\",\"testbox\":\"taishan200-2s48p-256g\","
        + "\"arch\":\"aarch64\",\"os\":\"openeuler\",\"os_version\":\"20.03\"}");
    TestProbe<JobEvent> events = kit.events(id);
    assertEquals("submit", events.expectMessageClass(JobEvent.Changed.class).stage());
    SimulatedTestbox.HandedOut job = box.bootByMac().orElseThrow();
    assertEquals(id, job.id());
    assertEquals(32, job.token().length(), "the token came in job.yaml");
    events.fishForMessage(WAIT, e -> e instanceof JobEvent.Changed c && "boot".equals(c.stage())
        ? org.apache.pekko.actor.testkit.typed.javadsl.FishingOutcomes.complete()
        : org.apache.pekko.actor.testkit.typed.javadsl.FishingOutcomes.continueAndIgnore());
    box.running().upload("stats.json", "{\"hackbench.throughput\": 7}").finish("success");
    assertEquals("finish", kit.client().waitFor(id, "finish").stage());
  }

  @Test
  void aLostHandOutGoesBackToTheQueueWhenTheKitsTimePassesTheDispatchAck() {
    long id = kit.client().submitOne(DC_JOB);
    SimulatedTestbox lost = kit.testbox("lost", "tbox_type=dc");
    assertEquals(id, lost.askForJob().orElseThrow().id());
    lost.disappear();
    SimulatedTestbox next = kit.testbox("next", "tbox_type=dc");
    assertTrue(next.askForJob().isEmpty(), "still handed to the lost box");

    Instant before = kit.now();
    kit.advance(Duration.ofMinutes(9));
    assertTrue(next.askForJob().isEmpty(), "the dispatch-ack is 10 minutes");
    kit.advance(Duration.ofMinutes(1).plusSeconds(1));
    assertEquals(Duration.ofMinutes(10).plusSeconds(1), Duration.between(before, kit.now()));

    SimulatedTestbox.HandedOut again = next.askForJob().orElseThrow();
    assertEquals(id, again.id());
    assertEquals("1", again.job().field("requeue_count"));
    assertThrows(IllegalStateException.class, lost::boot, "a box that disappeared does nothing more");
  }

  @Test
  void aRunningJobTimesOutOnTheKitsClock() {
    long id = kit.client().submitOne("{\"suite\":\"s\",\"testbox\":\"dc-8g\",\"timeout\":7200}");
    TestProbe<JobEvent> events = kit.events(id);
    SimulatedTestbox box = kit.testbox("d1", "tbox_type=dc");
    box.askForJob().orElseThrow();
    box.running();
    Instant deadline = kit.now().plus(Duration.ofHours(2));
    kit.advance(Duration.ofHours(2).minusSeconds(1));
    assertEquals("running", kit.client().job(id).stage());
    kit.advance(Duration.ofSeconds(2));
    JobEvent.Changed ended = (JobEvent.Changed) events.fishForMessage(WAIT, JobEvent.untilStage("finish")).get(0);
    assertEquals("timeout_running", ended.health());
    Instant finished = Instant.parse(ended.state().path("finish_time").asText());
    assertFalse(finished.isBefore(deadline) || finished.isAfter(kit.now()),
        "stage times come from the kit's clock: " + finished + ", deadline " + deadline);
  }

  @Test
  void aParkedPollIsAnsweredByASubmitOrWhenItsWaitHasPassed() throws Exception {
    SimulatedTestbox box = kit.testbox("p1", "tbox_type=dc");
    CompletableFuture<Optional<SimulatedTestbox.HandedOut>> parked = box.longPoll(Duration.ofSeconds(60));
    kit.awaitParked(1);
    kit.advance(Duration.ofSeconds(59));
    assertFalse(parked.isDone(), "59 s of a 60 s wait");
    // past Pekko HTTP's own 20 s request timeout and the 10 s ask timeout: still no 503
    kit.advance(Duration.ofSeconds(2));
    assertEquals(Optional.empty(), parked.get(10, TimeUnit.SECONDS));

    CompletableFuture<Optional<SimulatedTestbox.HandedOut>> again = box.longPoll(Duration.ofSeconds(60));
    kit.awaitParked(1);
    long id = kit.client().submitOne(DC_JOB);
    assertEquals(id, again.get(10, TimeUnit.SECONDS).orElseThrow().id());
  }

  @Test
  void aBoxThatVanishesWhileParkedIsNotHandedTheJob() throws Exception {
    SimulatedTestbox gone = kit.testbox("gone", "tbox_type=dc");
    CompletableFuture<Optional<SimulatedTestbox.HandedOut>> parked = gone.longPoll(Duration.ofSeconds(30));
    kit.awaitParked(1);
    gone.disappear();
    kit.awaitParked(0);
    // the client hears of its closed connection a moment after the server let go of the request
    org.junit.jupiter.api.Assertions.assertThrows(java.util.concurrent.ExecutionException.class,
        () -> parked.get(10, TimeUnit.SECONDS));
    long id = kit.client().submitOne(DC_JOB);
    assertEquals(id, kit.testbox("alive", "tbox_type=dc").askForJob().orElseThrow().id());
  }

  @Test
  void twoKitsInOneJvmShareNothing() {
    SchedulerTestKit other = SchedulerTestKit.builder().startTime(Instant.parse("2030-01-01T00:00:00Z")).start();
    try {
      assertNotEquals(kit.baseUrl(), other.baseUrl());
      assertNotEquals(kit.dataDir(), other.dataDir());
      assertNotSame(kit.system(), other.system());
      long id = kit.client().submitOne(DC_JOB);
      assertEquals(1, kit.client().pending());
      assertEquals(0, other.client().pending());
      assertEquals(404, assertThrows(SchedulerException.class, () -> other.client().job(id)).status());

      Instant mine = kit.now();
      other.advance(Duration.ofHours(1));
      assertEquals(mine, kit.now(), "advancing one kit moves only its own time");
      assertEquals(Instant.parse("2030-01-01T01:00:00Z"), other.now());
      long later = other.client().submitOne(DC_JOB);
      assertTrue(Long.toString(later).startsWith("300101010000"), "ids from the other kit's clock: " + later);
    } finally {
      other.shutdown();
    }
    assertFalse(Files.exists(other.dataDir()), "the store's folder goes with its kit");
  }

  @Test
  void theClientRefusesWithTheSchedulersStatus() {
    SchedulerException unknown = assertThrows(SchedulerException.class, () -> kit.client().job(42));
    assertEquals(404, unknown.status());
    long id = kit.client().submitOne(DC_JOB);
    assertEquals("cancel", kit.client().cancel(id).stage());
    assertEquals(409, assertThrows(SchedulerException.class, () -> kit.client().cancel(id)).status());
    assertEquals(400, assertThrows(SchedulerException.class,
        () -> kit.client().submit("{\"suite\":\"no testbox\"}")).status());
    List<Submitted> two = kit.client().submit("suite: s\ntestbox: dc-8g\nnr_threads: [1, 8]\n");
    assertEquals(2, two.size());
    // YAML that begins with a brace (a flow mapping) is YAML, as the server and the CLI read it
    assertEquals(1, kit.client().submit("{suite: s, testbox: dc-8g}").size());
    assertTrue(two.get(0).resultRoot().endsWith("/" + two.get(0).id()));
    assertEquals("cancel", kit.client().waitFor(id, "finish").stage(), "finish holds for a cancelled job");
  }

  @Test
  void aRealTimeKitRefusesToAdvance() {
    SchedulerTestKit real = SchedulerTestKit.builder().realTime().start();
    try {
      assertFalse(real.isManualTime());
      assertThrows(UnsupportedOperationException.class, () -> real.advance(Duration.ofSeconds(1)));
    } finally {
      real.shutdown();
    }
  }
}
