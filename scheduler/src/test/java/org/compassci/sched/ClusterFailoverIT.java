package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Acceptance of cluster mode (issue 15): three real jars on one MySQL database, on loopback.
 * Each test starts its own cluster on a database of its own. The figures are printed as one
 * JSON line each ({@code "bench":"cluster-..."}) for the README.
 */
class ClusterFailoverIT {

  /**
   * A job handed out whose answer died with its node comes back after dispatch-ack: short here
   * so that every job ends within the test, long enough that a box's report held up by the
   * failover itself (about 17 s, at most 30 s by the crash test's bound) is never taken for a
   * lost hand-out, which would hand its job out twice.
   */
  static final String ACK = "-Dscheduler.timeouts.dispatch-ack=45s";
  /** An edge that cannot reach the singleton answers 503 after this. */
  static final String ASK = "-Dscheduler.http.ask-timeout=3s";

  @TempDir Path dir;

  private static String logs(ClusterNodes nodes) throws Exception {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < nodes.size(); i++) {
      List<String> lines = Files.readAllLines(nodes.log(i));
      out.append("--- node ").append(i).append('\n')
          .append(String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()))).append('\n');
    }
    return out.toString();
  }

  private static void await(String what, Duration timeout, java.util.function.BooleanSupplier done)
      throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > end) {
        throw new AssertionError("timed out: " + what);
      }
      Thread.sleep(100);
    }
  }

  /** MariaDB transactions waiting for a row lock; -1 if the database does not answer. */
  private static long lockWaits(ClusterNodes nodes) {
    try {
      return nodes.count("SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'");
    } catch (Exception e) {
      return -1;
    }
  }

  /** Writes waiting in that node's own store actor (behind its commit in flight); -1 if it does not answer. */
  private static long writesWaiting(ClusterNodes nodes, int node) {
    return held(nodes, node, "persistence", "writes_waiting");
  }

  /** What {@code actor} holds under {@code name}, as {@code node}'s manage/actors says; -1 if it does not answer. */
  private static long held(ClusterNodes nodes, int node, String actor, String name) {
    try {
      for (com.fasterxml.jackson.databind.JsonNode a : nodes.http(node).get(ClusterNodes.V1 + "/manage/actors")
          .json().path("actors")) {
        if (a.path("name").asText().equals(actor)) {
          return a.path("holds").path(name).asLong();
        }
      }
    } catch (RuntimeException notNow) {
      // not answering yet
    }
    return -1;
  }

  /**
   * A box whose long poll waits through a node other than the singleton's and that hangs up is
   * dropped at once, as on one process: a job submitted after goes to the next box that asks.
   * Before, the hang-up never reached the matcher (a connection was an object of its own node),
   * the job went to the closed connection and waited out its dispatch-ack (600 s by default).
   */
  @Test
  void aBoxThatHangsUpThroughAnotherNodeIsDroppedAtOnceAndTakesNoJob() throws Exception {
    try (ClusterNodes nodes = new ClusterNodes(dir, "gone", 3, ASK)) {
      nodes.startAll(Duration.ofSeconds(60));
      int edge = (nodes.singletonNode(0) + 1) % 3;
      // the matcher answers its figures once its queue is loaded; a dispatch before gets 503, not parked
      await("the matcher's queue loaded", Duration.ofSeconds(30),
          () -> held(nodes, edge, "matcher", "parked_testboxes") == 0);
      try (java.net.Socket box = new java.net.Socket("127.0.0.1", nodes.httpPort(edge))) {
        box.getOutputStream().write(("GET " + ClusterNodes.V1 + "/jobs/dispatch?hostname=vm-2p8g--gone"
            + "&tbox_type=vm&freemem=16000&wait=60 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        box.getOutputStream().flush();
        await("the poll parked", Duration.ofSeconds(20), () -> held(nodes, edge, "matcher", "parked_testboxes") == 1);
      }
      await("the hung-up poll dropped", Duration.ofSeconds(20),
          () -> held(nodes, edge, "matcher", "parked_testboxes") == 0);
      assertEquals(200, nodes.http(edge).post(ClusterNodes.V1 + "/jobs/submit", jobs(1, "vm-2p8g", "g")).status());
      var next = nodes.http(edge).get(ClusterNodes.V1 + "/jobs/dispatch?hostname=vm-2p8g--next&tbox_type=vm&freemem=16000");
      assertEquals(200, next.status(), next.body());
      assertEquals(0, nodes.count("SELECT COUNT(*) FROM jobs WHERE host = 'vm-2p8g--gone'"));
    }
  }

  @Test
  void aSigkilledSingletonNodeUnderLoadLosesNoJobAndHandsNoneOutTwice() throws Exception {
    try (ClusterNodes nodes = new ClusterNodes(dir, "crash", 3, ACK, ASK)) {
      nodes.startAll(Duration.ofSeconds(60));
      int victim = nodes.singletonNode(0);
      long epochBefore = nodes.epoch(0);
      try (ClusterLoad load = new ClusterLoad(nodes)) {
        load.submitters(new int[] {0, 1, 2}, 4, "vm-2p8g", s -> "tenant" + s, 50);
        load.boxes(50, "vm-2p8g", 1);
        await("hand-outs before the kill", Duration.ofSeconds(30), () -> load.finished.size() >= 100);
        long killedAt = System.nanoTime();
        nodes.process(victim).destroyForcibly(); // SIGKILL
        assertTrue(nodes.process(victim).waitFor(10, TimeUnit.SECONDS));
        await("a hand-out through a surviving node", Duration.ofSeconds(40), () -> load.firstHandAfter(killedAt) > 0);
        double failover = load.firstHandAfter(killedAt);
        Thread.sleep(3000);
        load.submitting = false;
        Thread.sleep(500);
        // every acknowledged job reaches a box and ends; a hand-out whose answer died with the
        // node comes back after dispatch-ack
        await("every acknowledged job handed out and finished", Duration.ofSeconds(110),
            () -> load.finished.containsAll(load.acked));
        load.close();
        int survivor = (victim + 1) % 3;
        System.out.printf("{\"bench\":\"cluster-crash\",\"failover_s\":%.1f,\"acked\":%d,\"handed_out\":%d,"
                + "\"unavailable_503\":%d}%n", failover, load.acked.size(), load.dispatched.size(),
            load.unavailable.get());
        assertEquals(Set.of(), load.duplicates, "jobs handed out twice");
        assertTrue(load.unexpected.isEmpty(), "answers other than success or 503 + Retry-After: "
            + List.copyOf(load.unexpected).subList(0, Math.min(5, load.unexpected.size())));
        Set<Long> lost = new HashSet<>(load.acked);
        lost.removeAll(load.finished);
        assertEquals(Set.of(), lost, "acknowledged jobs that never ended");
        assertEquals(0, nodes.count("SELECT COUNT(*) FROM jobs WHERE stage <> 'finish'"),
            "every job in the store has ended");
        // a submit whose answer died with the node may have been stored all the same (a client
        // retries it with its Idempotency-Key): such jobs end too (above), and none was handed out twice
        assertTrue(nodes.count("SELECT COUNT(*) FROM jobs") >= load.acked.size());
        assertTrue(nodes.epoch(survivor) > epochBefore, "the new singleton took a new epoch");
        // about 17 s: 3 s unreachable, 5 s stable-after, 5 s down-removal-margin, the epoch and the load
        assertTrue(failover <= 30, "failover took " + failover + " s");
      } catch (AssertionError | RuntimeException e) {
        throw new AssertionError(e.getMessage() + "\n" + logs(nodes), e);
      }
    }
  }

  @Test
  void aSigtermedSingletonNodeHandsOverWithinFiveSecondsAndLosesNothing() throws Exception {
    try (ClusterNodes nodes = new ClusterNodes(dir, "graceful", 3, ACK, ASK)) {
      nodes.startAll(Duration.ofSeconds(60));
      int leaving = nodes.singletonNode(0);
      int other = (leaving + 1) % 3;
      long epochBefore = nodes.epoch(other);
      // a job out on a box, followed from another node across the hand-over
      var watched = nodes.http(other).post(ClusterNodes.V1 + "/jobs/submit", jobs(1, "vm-8p32g", "w"));
      assertEquals(200, watched.status(), watched.body());
      String watchedId = watched.json().get(0).path("job_id").asText();
      assertEquals(200, nodes.http(other).get(ClusterNodes.V1 + "/jobs/dispatch?hostname=vm-8p32g--w"
          + "&tbox_type=vm&freemem=64000").status());
      try (ClusterLoad load = new ClusterLoad(nodes);
          org.compassci.sched.fixtures.EventStream events = nodes.http((leaving + 2) % 3)
              .events(ClusterNodes.V1 + "/jobs/" + watchedId + "/events", true)) {
        assertEquals("dispatch", events.next(Duration.ofSeconds(10)).json().path("job_stage").asText());
        load.submitters(new int[] {other, (leaving + 2) % 3}, 2, "vm-2p8g", s -> "tenant" + s, 20);
        // boxes that never ask the leaving node, so that what is measured is the hand-over
        load.boxes(6, "vm-2p8g", 1);
        await("hand-outs before the SIGTERM", Duration.ofSeconds(30), () -> load.finished.size() >= 30);
        long termAt = System.nanoTime();
        nodes.process(leaving).destroy(); // SIGTERM
        await("the leaving node's exit", Duration.ofSeconds(40), () -> !nodes.alive(leaving));
        await("a new epoch", Duration.ofSeconds(20), () -> nodes.epoch(other) > epochBefore);
        long epochAt = System.nanoTime();
        await("a hand-out after the hand-over", Duration.ofSeconds(20), () -> load.firstHandAfter(epochAt) > 0);
        // one host registry for the cluster (a singleton too): a node lists the boxes that asked through any node
        await("the six boxes in the registry, read through another node", Duration.ofSeconds(10),
            () -> nodes.http((leaving + 2) % 3).get(ClusterNodes.V1 + "/dashboard/hosts").json()
                .path("total").asInt() >= 6);
        // the longest stretch without a hand-out, from the SIGTERM to the first after the new epoch
        long[] times = load.hands.stream().mapToLong(ClusterLoad.Hand::atNanos).filter(t -> t >= termAt - 1_000_000_000L)
            .sorted().toArray();
        double gap = 0;
        for (int i = 1; i < times.length; i++) {
          gap = Math.max(gap, (times[i] - times[i - 1]) / 1e9);
        }
        // the new lifecycle reports to the watch actor of the node the stream is on
        assertEquals(200, nodes.http(other).post(ClusterNodes.V1 + "/jobs/" + watchedId
            + "/update?job_stage=running", "").status());
        var change = events.next(Duration.ofSeconds(10));
        assertEquals("running", change.json().path("job_stage").asText(), change.data());
        Thread.sleep(1000);
        load.submitting = false;
        // a hand-out whose edge gave up on its ask during the hand-over (ASK) comes back after ACK
        long settling = System.nanoTime();
        await("every acknowledged job handed out and finished", Duration.ofSeconds(90),
            () -> load.finished.containsAll(load.acked));
        double settle = (System.nanoTime() - settling) / 1e9;
        load.close();
        // settle_s: from the load's end until every acknowledged job had finished; past ACK (45 s)
        // when a hand-out had to come back by its dispatch-ack
        System.out.printf("{\"bench\":\"cluster-graceful\",\"handover_gap_s\":%.1f,\"exit_s\":%.1f,\"acked\":%d,"
            + "\"settle_s\":%.1f}%n", gap, (epochAt - termAt) / 1e9, load.acked.size(), settle);
        assertEquals(Set.of(), load.duplicates, "jobs handed out twice");
        assertTrue(load.unexpected.isEmpty(), "answers other than success or 503 + Retry-After: "
            + List.copyOf(load.unexpected).subList(0, Math.min(5, load.unexpected.size())));
        assertEquals(1, nodes.count("SELECT COUNT(*) FROM jobs WHERE stage <> 'finish'"), "only the followed job runs");
        // about 1 s here; a hand-over that failed falls back to the crash's failover (about 17 s)
        assertTrue(gap <= 12, "no hand-out for " + gap + " s around the hand-over");
        // no hand-out's answer lost in the hand-over: none waited out its dispatch-ack (ACK)
        assertTrue(settle <= 30, "the jobs settled " + settle + " s after the load: a hand-out waited out its dispatch-ack");
      } catch (AssertionError | RuntimeException e) {
        throw new AssertionError(e.getMessage() + "\n" + logs(nodes), e);
      }
    }
  }
  /**
   * The old singleton is paused with a hand-out on its way to the store: the hand-out waits in
   * its store actor behind a commit that a lock of this test holds up (a new job's insert), so
   * that it reaches MySQL only after the node resumes, when a successor has taken a new epoch.
   * The test's lock is on the jobs table's gap above the last id; neither the epoch row nor the
   * successor's reads are touched by it.
   */
  @Test
  void aPausedSingletonResumedAfterItsReplacementHasItsLateClaimsRefusedByEpoch() throws Exception {
    try (ClusterNodes nodes = new ClusterNodes(dir, "fencing", 3, ASK)) {
      nodes.startAll(Duration.ofSeconds(60));
      int paused = nodes.singletonNode(0);
      int other = (paused + 1) % 3;
      long epochBefore = nodes.epoch(other);
      assertEquals(200, nodes.http(other).post(ClusterNodes.V1 + "/jobs/submit", jobs(10, "vm-4p16g", "f")).status());
      try (java.sql.Connection lock = java.sql.DriverManager.getConnection(nodes.jdbcUrl())) {
        lock.setAutoCommit(false);
        try (java.sql.Statement st = lock.createStatement()) {
          st.executeQuery("SELECT id FROM jobs WHERE id > (SELECT MAX(id) FROM jobs) - 1 FOR UPDATE").close();
        }
        // a submit whose insert waits for the lock, then a hand-out queued behind it
        nodes.http(paused).postAsync(ClusterNodes.V1 + "/jobs/submit", jobs(1, "dc-1g", "g"));
        // the hand-out only once that insert waits on the lock: sent sooner, its claim could
        // reach the store first
        await("the submit's insert waiting on the test's lock", Duration.ofSeconds(20),
            () -> lockWaits(nodes) >= 1);
        var late = nodes.http(paused).getAsync(ClusterNodes.V1 + "/jobs/dispatch?hostname=vm-4p16g--late"
            + "&tbox_type=vm&freemem=32000");
        // the hand-out's claim waits in the paused node's store actor before the pause, not after
        await("the hand-out queued behind the held insert", Duration.ofSeconds(20),
            () -> writesWaiting(nodes, paused) >= 1);
        nodes.signal(paused, "STOP");
        await("a new singleton with a new epoch", Duration.ofSeconds(40), () -> nodes.epoch(other) > epochBefore);
        lock.rollback();
        nodes.signal(paused, "CONT");
        try {
          assertTrue(late.get(30, TimeUnit.SECONDS).status() != 200, "a late hand-out");
        } catch (java.util.concurrent.ExecutionException gone) {
          // the node shut itself down before answering
        }
        // downed, it leaves by itself: by then whatever it sent to the store has been answered
        await("the old singleton's exit", Duration.ofSeconds(40), () -> !nodes.alive(paused));
        assertEquals(0, nodes.count("SELECT COUNT(*) FROM jobs WHERE host LIKE '%--late'"), "the late claim took");
        // nor any other write of the replaced node: the submit held behind the lock
        assertEquals(0, nodes.count("SELECT COUNT(*) FROM jobs WHERE tbox_group = 'dc-1g'"), "the late submit took");
        assertTrue(Files.readString(nodes.log(paused)).contains("hand-outs refused by epoch"),
            "the old singleton's log shows its claims refused by epoch");
        assertTrue(Files.readString(nodes.log(paused)).contains("job writes refused by epoch"),
            "the old singleton's log shows its held submit refused by epoch");
      } catch (AssertionError | RuntimeException e) {
        throw new AssertionError(e.getMessage() + "\n" + logs(nodes), e);
      }
      // the successor hands every one of them out, each once
      Set<Long> handed = new HashSet<>();
      long end = System.nanoTime() + 30_000_000_000L;
      int box = 0;
      while (handed.size() < 10 && System.nanoTime() < end) {
        var a = nodes.http(other).get(ClusterNodes.V1 + "/jobs/dispatch?hostname=vm-4p16g--new" + (box++)
            + "&tbox_type=vm&freemem=32000&wait=1");
        if (a.status() == 200) {
          assertTrue(handed.add(a.json().path("id").asLong()), "handed out twice: " + a.body());
        }
      }
      assertEquals(10, handed.size());
      assertEquals(10, nodes.count("SELECT COUNT(*) FROM jobs WHERE stage = 'dispatch' AND host LIKE 'vm-4p16g--new%'"),
          "every hand-out is the successor's");
      System.out.println("{\"bench\":\"cluster-fencing\",\"late_claims_refused\":true}");
    }
  }

  private static String jobs(int n, String testbox, String account) {
    StringBuilder jobs = new StringBuilder("[");
    for (int i = 0; i < n; i++) {
      jobs.append(i == 0 ? "" : ",").append("{\"suite\":\"fence\",\"testbox\":\"").append(testbox)
          .append("\",\"my_account\":\"").append(account).append("\"}");
    }
    return jobs.append(']').toString();
  }

  @Test
  void fairShareIsGlobalForTenantsSubmittingThroughDifferentNodes() throws Exception {
    try (ClusterNodes nodes = new ClusterNodes(dir, "fair", 3, ASK,
        "-Dscheduler.fair-share.weights.heavy=30", "-Dscheduler.fair-share.weights.light=10")) {
      nodes.startAll(Duration.ofSeconds(60));
      for (String[] who : new String[][] {{"heavy", "1"}, {"light", "2"}}) {
        StringBuilder jobs = new StringBuilder("[");
        for (int i = 0; i < 100; i++) {
          jobs.append(i == 0 ? "" : ",").append("{\"suite\":\"fair\",\"testbox\":\"vm-2p8g\",\"my_account\":\"")
              .append(who[0]).append("\"}");
        }
        String body = jobs.append(']').toString();
        for (int k = 0; k < 4; k++) {
          var a = nodes.http(Integer.parseInt(who[1])).post(ClusterNodes.V1 + "/jobs/submit", body);
          assertEquals(200, a.status(), a.body());
        }
      }
      int heavy = 0;
      long start = System.nanoTime();
      for (int i = 0; i < 400; i++) {
        var a = nodes.http(i % 3).get(ClusterNodes.V1 + "/jobs/dispatch?hostname=vm-2p8g--" + i
            + "&tbox_type=vm&freemem=16000");
        assertEquals(200, a.status(), a.body());
        heavy += a.json().path("my_account").asText().equals("heavy") ? 1 : 0;
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      double share = heavy / 400.0;
      System.out.printf("{\"bench\":\"cluster-fair-share\",\"heavy_share\":%.3f,\"expected\":0.75,"
          + "\"sequential_dispatch_per_s\":%.0f}%n", share, 400 / seconds);
      assertTrue(Math.abs(share - 0.75) <= 0.05, "heavy (weight 30 of 40) got " + share + " of 400 hand-outs");
    }
  }
  /**
   * One Idempotency-Key sent through every node at once makes one job, and every answer names
   * it: one actor sees every keyed submit of the cluster. With one per node, each node looked
   * the key up before any had stored it, and each made a job of its own.
   */
  @Test
  void oneIdempotencyKeySentThroughEveryNodeAtOnceMakesOneJob() throws Exception {
    try (ClusterNodes nodes = new ClusterNodes(dir, "keys", 3)) {
      nodes.startAll(Duration.ofSeconds(60));
      int keys = 10;
      String body = "{\"suite\":\"once\",\"testbox\":\"vm-2p8g\"}";
      java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(nodes.size());
      try {
        for (int k = 0; k < keys; k++) {
          String key = "race-" + k;
          java.util.concurrent.CyclicBarrier together = new java.util.concurrent.CyclicBarrier(nodes.size());
          List<java.util.concurrent.Future<org.compassci.sched.fixtures.HttpCalls.Answer>> answers =
              new java.util.ArrayList<>();
          for (int n = 0; n < nodes.size(); n++) {
            int node = n;
            answers.add(pool.submit(() -> {
              together.await(30, TimeUnit.SECONDS);
              return nodes.http(node).send("POST", ClusterNodes.V1 + "/jobs/submit", body,
                  "Content-Type", "application/json", "Idempotency-Key", key);
            }));
          }
          Set<String> ids = new HashSet<>();
          for (var f : answers) {
            var a = f.get(60, TimeUnit.SECONDS);
            assertEquals(200, a.status(), a.body());
            ids.add(a.json().get(0).path("job_id").asText());
          }
          assertEquals(1, ids.size(), key + " answered with " + ids);
        }
      } finally {
        pool.shutdownNow();
      }
      assertEquals(keys, nodes.count("SELECT COUNT(*) FROM jobs"));
    }
  }

  @Test
  void clusterModeRefusesTheEmbeddedStoreAndTwoNodesWithoutALease() throws Exception {
    try (ClusterNodes three = new ClusterNodes(dir, "embedded", 3); ClusterNodes two = new ClusterNodes(dir, "two", 2)) {
      three.launch(0, Map.of("SCHED_STORE", "embedded"));
      two.launch(0, Map.of());
      for (ClusterNodes n : List.of(three, two)) {
        assertTrue(n.process(0).waitFor(60, TimeUnit.SECONDS));
        assertEquals(2, n.process(0).exitValue());
      }
      List<String> embedded = Files.readAllLines(three.log(0));
      assertEquals(1, embedded.size(), embedded.toString());
      assertTrue(embedded.get(0).contains("SCHED_STORE") && embedded.get(0).contains("mysql"), embedded.get(0));
      List<String> pair = Files.readAllLines(two.log(0));
      assertEquals(1, pair.size(), pair.toString());
      assertTrue(pair.get(0).contains("SCHED_CLUSTER_LEASE") && pair.get(0).contains("majority"), pair.get(0));
    }
  }
  /**
   * Two nodes with scheduler.cluster.lease = mysql: the SBR's lease-majority picks the side
   * that keeps running, and the singletons hold a lease row; the survivor of a SIGKILL takes
   * over once the dead holder's row has expired (heartbeat-timeout).
   */
  @Test
  void twoNodesWithTheMysqlLeaseSurviveTheLossOfTheSingletonsNode() throws Exception {
    try (ClusterNodes nodes = new ClusterNodes(dir, "lease", 2, ASK, "-Dscheduler.cluster.lease=mysql")) {
      nodes.startAll(Duration.ofSeconds(60));
      int victim = nodes.singletonNode(0);
      int survivor = 1 - victim;
      // the matcher, the lifecycle, the host registry and the keyed submits hold their lease rows
      await("four singleton lease rows", Duration.ofSeconds(30), () -> {
        try {
          return nodes.count("SELECT COUNT(*) FROM scheduler_leases WHERE name LIKE '%singleton%'") == 4;
        } catch (Exception e) {
          return false;
        }
      });
      assertEquals(200, nodes.http(survivor).post(ClusterNodes.V1 + "/jobs/submit", jobs(3, "vm-2p8g", "l")).status());
      nodes.process(victim).destroyForcibly();
      long killedAt = System.nanoTime();
      int got = 0;
      long end = killedAt + 60_000_000_000L;
      double failover = -1;
      while (got < 3 && System.nanoTime() < end) {
        try {
          var a = nodes.http(survivor).get(ClusterNodes.V1 + "/jobs/dispatch?hostname=vm-2p8g--" + got
              + "&tbox_type=vm&freemem=16000");
          if (a.status() == 200) {
            failover = failover < 0 ? (System.nanoTime() - killedAt) / 1e9 : failover;
            got++;
          } else {
            assertEquals(503, a.status(), a.body());
          }
        } catch (RuntimeException e) {
          Thread.sleep(200);
        }
      }
      System.out.printf("{\"bench\":\"cluster-2-nodes-lease\",\"failover_s\":%.1f}%n", failover);
      assertEquals(3, got, "the survivor hands the queued jobs out\n" + logs(nodes));
    }
  }
  /**
   * VM/container providers spread over the three nodes, each with the server list: the node
   * some of them talk to is SIGKILLed, they open their sockets on the next node, and every job
   * still ends, none handed out twice. (Not the singleton's node: a provider's report has no
   * answer to retry on, so one sent the moment the singleton dies is lost until its timeout.)
   */
  @Test
  void providersWithAServerListMoveToAnotherNodeWhenTheirsDies() throws Exception {
    try (ClusterNodes nodes = new ClusterNodes(dir, "providers", 3, ACK, ASK)) {
      nodes.startAll(Duration.ofSeconds(60));
      int singleton = nodes.singletonNode(0);
      int victim = (singleton + 1) % 3;
      int[] ports = {nodes.httpPort(0), nodes.httpPort(1), nodes.httpPort(2)};
      try (org.compassci.sched.fixtures.ProviderFleet fleet = new org.compassci.sched.fixtures.ProviderFleet(
          "127.0.0.1", ports, 6, org.compassci.sched.fixtures.ProviderFleet.Options.defaults()
              .withRunTime(Duration.ofMillis(300)).withHostPrefix("prov")).connect()) {
        Set<Long> acked = new HashSet<>();
        for (int round = 0; round < 6; round++) {
          if (round == 3) {
            nodes.process(victim).destroyForcibly();
          }
          var a = nodes.http(singleton).post(ClusterNodes.V1 + "/jobs/submit",
              jobs(10, "dc-2g", "p").replace("\"suite\"", "\"docker_image\":\"openeuler/openeuler:22.03\",\"suite\""));
          assertEquals(200, a.status(), a.body());
          a.json().forEach(j -> acked.add(j.path("job_id").asLong()));
          Thread.sleep(1000);
        }
        await("every job finished by a provider", Duration.ofSeconds(60),
            () -> fleet.finishedJobs().containsAll(acked));
        await("every job ended in the store", Duration.ofSeconds(20), () -> {
          try {
            return nodes.count("SELECT COUNT(*) FROM jobs WHERE stage <> 'finish'") == 0;
          } catch (Exception e) {
            return false;
          }
        });
        assertEquals(Set.of(), fleet.handedTwice());
        assertTrue(fleet.reconnects() >= 2, "the providers of the dead node moved: " + fleet.reconnects());
        assertEquals(List.of(), fleet.errors());
        System.out.printf("{\"bench\":\"cluster-providers\",\"jobs\":%d,\"reconnects\":%d}%n",
            acked.size(), fleet.reconnects());
      } catch (AssertionError | RuntimeException e) {
        throw new AssertionError(e.getMessage() + "\n" + logs(nodes), e);
      }
    }
  }
}
