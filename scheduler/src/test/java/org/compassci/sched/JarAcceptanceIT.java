package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.compassci.sched.fixtures.HttpCalls;
import org.compassci.sched.fixtures.HttpCalls.Answer;
import org.compassci.sched.persistence.ListenPorts;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The acceptance of the walking skeleton, run against the packaged jar as its own process. */
class JarAcceptanceIT {

  static final String V1 = "/scheduler/v1";

  @TempDir Path dir;
  private final List<Process> started = new ArrayList<>();

  @AfterEach
  void killLeftovers() {
    started.forEach(Process::destroyForcibly);
  }

  private static void dropDatabase(String database) throws java.sql.SQLException {
    try (java.sql.Connection c = java.sql.DriverManager.getConnection("jdbc:mysql://127.0.0.1:3306/?user=root");
        java.sql.Statement st = c.createStatement()) {
      st.execute("DROP DATABASE IF EXISTS " + database);
    }
  }


  /** The repository's root, where the README's commands run (conf/jvm.options names paths from there). */
  private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

  private static String jar() {
    return Path.of(System.getProperty("scheduler.jar", "target/scheduler.jar")).toAbsolutePath().toString();
  }

  private Process launch(Map<String, String> env, Path log) throws IOException {
    // started as the README starts it: scripts/run.sh from the root (conf/jvm.options), this
    // build's jar, the java of this JDK first on the path
    ProcessBuilder pb = new ProcessBuilder(ROOT.resolve("scripts/run.sh").toString())
        .directory(ROOT.toFile())
        .redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().keySet().removeIf(k -> k.startsWith("SCHED_") || k.equals("MALLOC_ARENA_MAX"));
    pb.environment().put("SCHED_JAR", jar());
    pb.environment().put("PATH", Path.of(System.getProperty("java.home"), "bin") + java.io.File.pathSeparator
        + pb.environment().getOrDefault("PATH", "/usr/bin:/bin"));
    pb.environment().putAll(env);
    Process p = pb.start();
    started.add(p);
    return p;
  }

  /**
   * The launcher execs the JVM (so a SIGKILL to the process it started reaches the JVM itself)
   * with the C library's two arenas in its environment.
   */
  @Test
  void theLauncherExecsTheJvmWithTwoMallocArenas() throws Exception {
    int port = ListenPorts.one();
    launchServer(port, dir.resolve("launcher.log"));
    Process p = started.get(0);
    Path proc = Path.of("/proc", Long.toString(p.pid()));
    assertTrue(Files.readSymbolicLink(proc.resolve("exe")).getFileName().toString().startsWith("java"),
        "the process the launcher started is not the JVM: " + Files.readSymbolicLink(proc.resolve("exe")));
    List<String> environ = List.of(Files.readString(proc.resolve("environ")).split("\0"));
    assertTrue(environ.contains("MALLOC_ARENA_MAX=2"), environ.toString());
    assertTrue(environ.contains("SCHED_JAR=" + jar()), environ.toString());
  }

  private HttpCalls launchServer(int port, Path log) throws IOException {
    return launchServer(port, log, Map.of());
  }

  private HttpCalls launchServer(int port, Path log, Map<String, String> extra) throws IOException {
    Map<String, String> env = new java.util.HashMap<>(Map.of("SCHED_HOST", "127.0.0.1",
        "SCHED_PORT", Integer.toString(port), "SCHED_DATA_DIR", dir.resolve("data").toString(),
        "SCHED_RESULTS_DIR", dir.resolve("results").toString(), "SCHED_ADMIN_TOKEN", TestServer.ADMIN_TOKEN));
    env.putAll(extra);
    launch(env, log);
    HttpCalls http = new HttpCalls("127.0.0.1", port).withToken(TestServer.ADMIN_TOKEN);
    assertTrue(http.awaitHealthy(Duration.ofSeconds(60)), "server did not start: " + Files.readString(log));
    // answered once the matcher has loaded its queue: a dispatch before that gets 503
    assertEquals(200, http.get(V1 + "/manage/actors").status());
    return http;
  }

  @Test
  void theIssueAcceptanceWithSigkillAndRestart() throws Exception {
    int port = ListenPorts.one();
    Path log1 = dir.resolve("run1.log");
    HttpCalls http = launchServer(port, log1);
    List<String> answers = new ArrayList<>();

    Answer submit = http.post(V1 + "/jobs/submit", "{\"suite\":\"hackbench\",\"testbox\":\"vm-2p8g\","
        + "\"arch\":\"aarch64\",\"my_account\":\"alice\",\"my_token\":\"s3cret\"}");
    answers.add(submit.body());
    assertEquals(200, submit.status());
    String id = submit.json().get(0).path("job_id").asText();
    assertEquals(204, http.get(V1 + "/jobs/dispatch?hostname=x1&arch=x86_64&tbox_type=vm,dc&freemem=16384").status());
    assertEquals(204, http.get(V1 + "/jobs/dispatch?hostname=s1&arch=aarch64&tbox_type=vm,dc&freemem=4096").status());
    String line = Files.readString(log1);
    assertTrue(line.contains("listening on http://127.0.0.1:" + port) && line.contains("store=embedded")
        && line.contains(dir.resolve("data").toString()), line);
    // the README's line, as LogSetup writes it (time with zone, level, logger, message)
    assertTrue(java.util.regex.Pattern.compile("(?m)^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}(Z|[+-]\\d\\d:\\d\\d)"
        + " INFO  o\\.c\\.sched\\.Main - scheduler listening on ").matcher(line).find(), line);

    started.get(0).destroyForcibly().waitFor(30, TimeUnit.SECONDS); // SIGKILL
    http = launchServer(port, dir.resolve("run2.log"));
    Answer h1 = http.get(V1 + "/jobs/dispatch?hostname=h1&arch=aarch64&tbox_type=vm,dc&freemem=16384");
    answers.add(h1.body());
    assertEquals(200, h1.status());
    assertEquals(id, h1.json().path("id").asText());
    assertEquals(204, http.get(V1 + "/jobs/dispatch?hostname=h1&arch=aarch64&tbox_type=vm,dc&freemem=16384").status(),
        "handed out once");

    started.get(1).destroyForcibly().waitFor(30, TimeUnit.SECONDS);
    http = launchServer(port, dir.resolve("run3.log"));
    assertEquals(204, http.get(V1 + "/jobs/dispatch?hostname=h2&arch=aarch64&tbox_type=vm,dc&freemem=16384").status(),
        "a hand-out is durable before its answer: after a crash the job is not queued again");
    assertEquals(200, http.get("/~lkp/cgi-bin/lkp-jobfile-append-var?job_file=/x&job_id=" + id + "&job_state=running").status());
    Answer running = http.get(V1 + "/jobs/" + id);
    answers.add(running.body());
    assertEquals("running", running.json().path("job_stage").asText());
    assertEquals(200, http.get("/~lkp/cgi-bin/lkp-post-run?job_file=/x&job_id=" + id).status());
    Answer finished = http.get(V1 + "/jobs/" + id);
    answers.add(finished.body());
    assertEquals("finish", finished.json().path("job_stage").asText());
    int late = http.post(V1 + "/jobs/" + id + "/update?job_stage=running", "").status();
    assertTrue(late == 409 || late == 423, "late update got " + late);
    assertEquals(400, http.post(V1 + "/jobs/submit", "{not json").status());
    for (String a : answers) {
      assertFalse(a.contains("s3cret"), a);
    }
    // plain HTTP makes no TLS context: the JVM's trust store (330 classes, 150 certificates
    // kept for good) stays unread, after every kind of call above (HttpServer.plainBytes)
    Tools.Run jcmd = Tools.sh(dir, "\"" + Path.of(System.getProperty("java.home"), "bin", "jcmd") + "\" "
        + started.get(2).pid() + " VM.class_hierarchy", Map.of(), 60);
    String classes = jcmd.output();
    assertEquals(0, jcmd.exit(), classes);
    assertTrue(classes.contains("org.compassci.sched.http.HttpServer"), "jcmd listed the server's classes");
    assertFalse(classes.contains("sun.security.ssl.SSLContextImpl"), "a TLS context was made");
    // standalone, Pekko's serializers for messages between processes are inert stand-ins
    // (InertSerializer): neither distributed data's Protobuf nor Jackson's CBOR is loaded
    assertTrue(classes.contains("org.compassci.sched.cluster.InertSerializer"), "the inert serializers are there");
    assertFalse(classes.contains("org.apache.pekko.cluster.ddata.protobuf.ReplicatedDataSerializer"),
        "distributed data's serializer was made");
    assertFalse(classes.contains("org.apache.pekko.serialization.jackson.JacksonCborSerializer"),
        "Jackson's CBOR serializer was made");
    // logging set up in code (LogSetup): Logback's XML configurator is never loaded
    assertFalse(classes.contains("ch.qos.logback.classic.joran.JoranConfigurator"), "Logback read XML");
    // the embedded store opens H2's own data source: JDBC's DriverManager never loads MySQL's
    // driver, whose cleanup thread a process without MySQL has no use for
    assertFalse(classes.contains("com.mysql.cj.jdbc.AbandonedConnectionCleanupThread"), "MySQL's driver was loaded");
  }

  static java.util.stream.Stream<String> stores() {
    return java.util.stream.Stream.of("embedded", "mysql");
  }

  /**
   * 4 clients submit and 20 boxes dispatch while the server is killed with SIGKILL: after a
   * restart every acknowledged job exists, and no job went to two boxes, before or after.
   */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.MethodSource("stores")
  void sigkillUnderLoadLosesNoAcknowledgedJobAndHandsNoneOutTwice(String store) throws Exception {
    Map<String, String> env = new java.util.HashMap<>();
    String database = "sched_it_" + Long.toUnsignedString(System.nanoTime(), 36);
    if (store.equals("mysql")) {
      env.put("SCHED_STORE", "mysql");
      env.put("SCHED_JDBC_URL", "jdbc:mysql://127.0.0.1:3306/" + database + "?user=root");
    }
    int port = ListenPorts.one();
    HttpCalls http = launchServer(port, dir.resolve("load1.log"), env);
    java.util.Set<String> acknowledged = java.util.concurrent.ConcurrentHashMap.newKeySet();
    java.util.Map<String, String> handedTo = new java.util.concurrent.ConcurrentHashMap<>();
    java.util.List<String> doubles = java.util.Collections.synchronizedList(new ArrayList<>());
    java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(24);
    final HttpCalls before = http;
    for (int c = 0; c < 4; c++) {
      int client = c;
      pool.submit(() -> {
        for (int i = 0; i < 5000 && !stop.get(); i++) {
          try {
            Answer a = before.post(V1 + "/jobs/submit", "[{\"suite\":\"s\",\"testbox\":\"dc-8g\",\"my_account\":\"u" + client + "\"},"
                + "{\"suite\":\"t\",\"testbox\":\"dc-8g\",\"my_account\":\"u" + client + "\"}]");
            if (a.status() == 200) {
              a.json().forEach(j -> acknowledged.add(j.path("job_id").asText()));
            }
          } catch (RuntimeException killed) {
            return;
          }
        }
      });
    }
    for (int b = 0; b < 20; b++) {
      String box = "box" + b;
      pool.submit(() -> {
        for (int i = 0; i < 5000 && !stop.get(); i++) {
          try {
            Answer a = before.get(V1 + "/jobs/dispatch?hostname=" + box + "&tbox_type=dc");
            if (a.status() == 200) {
              String id = a.json().path("id").asText();
              String first = handedTo.putIfAbsent(id, box);
              if (first != null) {
                doubles.add(id + " to " + first + " and " + box);
              }
            }
          } catch (RuntimeException killed) {
            return;
          }
        }
      });
    }
    // under load for 4 s and until 200 jobs were acknowledged and 20 handed out (at most 60 s):
    // a slow machine (MariaDB's commits on a busy disk) takes longer, not fewer
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(4);
    for (int i = 0; i < 600 && (System.nanoTime() < until || acknowledged.size() < 200 || handedTo.size() < 20); i++) {
      Thread.sleep(100);
    }
    started.get(0).destroyForcibly().waitFor(30, TimeUnit.SECONDS); // SIGKILL under load
    stop.set(true);
    pool.shutdown();
    assertTrue(pool.awaitTermination(60, TimeUnit.SECONDS));
    assertTrue(acknowledged.size() > 100, "the load must have submitted jobs: " + acknowledged.size());

    http = launchServer(port, dir.resolve("load2.log"), env);
    for (String id : acknowledged) {
      assertEquals(200, http.get(V1 + "/jobs/" + id).status(), "acknowledged job " + id + " lost");
    }
    long busyUntil = System.nanoTime() + 120_000_000_000L;
    for (int round = 0; round < 100_000; round++) {
      Answer a = http.get(V1 + "/jobs/dispatch?hostname=after" + (round % 20) + "&tbox_type=dc");
      if (a.status() == 204) {
        break;
      }
      if (a.status() == 503 && System.nanoTime() < busyUntil) {
        // busy (the store, or an ask that timed out, on a loaded machine): ask again
        Thread.sleep(100);
        continue;
      }
      assertEquals(200, a.status(), a.body());
      String id = a.json().path("id").asText();
      String first = handedTo.putIfAbsent(id, "after-restart");
      if (first != null) {
        doubles.add(id + " to " + first + " and after the restart (" + a.json().path("requeue_count").asText() + ")");
      }
    }
    assertEquals(List.of(), doubles, "jobs handed to two boxes");
    for (String id : acknowledged) {
      if (!handedTo.containsKey(id)) {
        // claimed just before the kill, its answer cut off: the dispatch-ack timeout requeues it
        assertEquals("dispatch", http.get(V1 + "/jobs/" + id).json().path("job_stage").asText(),
            "job " + id + " was neither handed out nor held as a hand-out");
      }
    }
    if (store.equals("mysql")) {
      dropDatabase(database);
    }
  }

  /**
   * Two schedulers on one MariaDB database and the machine's Redis: 10,000 jobs submitted to
   * one, 50 boxes asking both; the second learns the jobs by resync. No job goes out twice.
   */
  @Test
  void twoSchedulersOnOneDatabaseNeverHandAJobOutTwice() throws Exception {
    String database = "sched_two_" + Long.toUnsignedString(System.nanoTime(), 36);
    Map<String, String> shared = Map.of("SCHED_STORE", "mysql",
        "SCHED_JDBC_URL", "jdbc:mysql://127.0.0.1:3306/" + database + "?user=root",
        "SCHED_REDIS_URL", "redis://127.0.0.1:6379");
    Map<String, String> envA = new java.util.HashMap<>(shared);
    envA.put("SCHED_WORKER_ID", "1");
    Map<String, String> envB = new java.util.HashMap<>(shared);
    envB.put("SCHED_WORKER_ID", "2");
    envB.put("SCHED_DATA_DIR", dir.resolve("dataB").toString());
    HttpCalls a = launchServer(ListenPorts.one(), dir.resolve("a.log"), envA);
    HttpCalls b = launchServer(ListenPorts.one(), dir.resolve("b.log"), envB);
    try {
      java.util.Set<String> submitted = new java.util.HashSet<>();
      for (int batch = 0; batch < 20; batch++) {
        StringBuilder body = new StringBuilder("[");
        for (int i = 0; i < 500; i++) {
          body.append(i == 0 ? "" : ",").append("{\"suite\":\"s\",\"testbox\":\"dc-8g\",\"my_account\":\"u")
              .append(i % 7).append("\"}");
        }
        Answer r = a.post(V1 + "/jobs/submit", body.append("]").toString());
        assertEquals(200, r.status());
        r.json().forEach(j -> submitted.add(j.path("job_id").asText()));
      }
      assertEquals(10_000, submitted.size());
      java.util.Map<String, String> handedTo = new java.util.concurrent.ConcurrentHashMap<>();
      java.util.List<String> doubles = java.util.Collections.synchronizedList(new ArrayList<>());
      java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(50);
      List<java.util.concurrent.Future<?>> boxes = new ArrayList<>();
      for (int n = 0; n < 50; n++) {
        String box = "box" + n;
        boxes.add(pool.submit(() -> {
          int idle = 0;
          // a box gives up after 15 s of asks that found nothing: a job one scheduler learns of
          // from the other only at its next resync (every second) must not be left behind
          for (int i = 0; i < 2000 && idle < 150 && handedTo.size() < 10_000; i++) {
            HttpCalls server = i % 2 == 0 ? a : b;
            Answer got = server.get(V1 + "/jobs/dispatch?hostname=" + box + "&tbox_type=dc");
            if (got.status() == 200) {
              idle = 0;
              String id = got.json().path("id").asText();
              if (handedTo.putIfAbsent(id, box) != null) {
                doubles.add(id);
              }
            } else {
              idle++;
              try {
                Thread.sleep(100);
              } catch (InterruptedException e) {
                return;
              }
            }
          }
        }));
      }
      for (java.util.concurrent.Future<?> f : boxes) {
        f.get(5, TimeUnit.MINUTES);
      }
      pool.shutdown();
      assertEquals(List.of(), doubles, "jobs handed to two boxes");
      assertEquals(submitted, handedTo.keySet(), "every job handed out once");
      assertTrue(Files.readString(dir.resolve("b.log")).contains("resync"), "B learned jobs from the store");
    } finally {
      dropDatabase(database);
    }
  }

  /**
   * The database taken away for 10 s under load, then given back: every answer is a 2xx or a
   * 503, no acknowledged job is lost, and the service comes back without a restart.
   */
  @Test
  void aStoreCutUnderLoadGives503sAndServiceResumes() throws Exception {
    String database = "sched_cut_" + Long.toUnsignedString(System.nanoTime(), 36);
    try (org.compassci.sched.fixtures.TcpProxy proxy = new org.compassci.sched.fixtures.TcpProxy(3306)) {
      HttpCalls http = launchServer(ListenPorts.one(), dir.resolve("cut.log"), Map.of("SCHED_STORE", "mysql",
          "SCHED_JDBC_URL", "jdbc:mysql://127.0.0.1:" + proxy.port() + "/" + database
              + "?user=root&connectTimeout=2000&socketTimeout=5000"));
      java.util.Set<String> acknowledged = java.util.concurrent.ConcurrentHashMap.newKeySet();
      java.util.Map<Integer, Integer> statuses = new java.util.concurrent.ConcurrentHashMap<>();
      java.util.Set<String> retryAfterMissing = java.util.concurrent.ConcurrentHashMap.newKeySet();
      java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
      java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(6);
      for (int c = 0; c < 3; c++) {
        pool.submit(() -> {
          for (int i = 0; i < 100_000 && !stop.get(); i++) {
            Answer a = http.post(V1 + "/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"dc-8g\"}");
            statuses.merge(a.status(), 1, Integer::sum);
            if (a.status() == 200) {
              acknowledged.add(a.json().get(0).path("job_id").asText());
            } else if (a.raw().headers().firstValue("Retry-After").isEmpty()) {
              retryAfterMissing.add(a.body());
            }
          }
          return null;
        });
      }
      for (int b = 0; b < 3; b++) {
        String box = "box" + b;
        pool.submit(() -> {
          for (int i = 0; i < 100_000 && !stop.get(); i++) {
            statuses.merge(http.get(V1 + "/jobs/dispatch?hostname=" + box + "&tbox_type=dc").status(), 1, Integer::sum);
          }
          return null;
        });
      }
      Thread.sleep(2000);
      proxy.cut();
      Answer health = http.get(V1 + "/health");
      for (long end = System.nanoTime() + 15_000_000_000L; health.status() != 503 && System.nanoTime() < end; ) {
        Thread.sleep(200);
        health = http.get(V1 + "/health");
      }
      assertEquals(503, health.status(), health.body());
      Thread.sleep(7000);
      proxy.restore();
      Thread.sleep(5000);
      stop.set(true);
      pool.shutdown();
      assertTrue(pool.awaitTermination(60, TimeUnit.SECONDS));

      System.out.println("store cut: answers by status " + statuses + ", acknowledged " + acknowledged.size());
      assertTrue(statuses.keySet().stream().allMatch(s -> s == 200 || s == 204 || s == 503),
          "only 200, 204 and 503: " + statuses);
      assertTrue(statuses.getOrDefault(503, 0) > 0, "the cut must have been felt: " + statuses);
      assertEquals(java.util.Set.of(), retryAfterMissing, "a refused submit says when to retry");
      assertTrue(http.awaitHealthy(Duration.ofSeconds(30)), "health comes back");
      Answer after = http.post(V1 + "/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"dc-8g\"}");
      assertEquals(200, after.status(), "submits work again without a restart");
      for (String id : acknowledged) {
        assertEquals(200, http.get(V1 + "/jobs/" + id).status(), "acknowledged job " + id + " lost");
      }
    } finally {
      dropDatabase(database);
    }
  }

  @Test
  void sigtermStopsCleanlyAndKeepsEveryAcknowledgedJob() throws Exception {
    int port = ListenPorts.one();
    Path log = dir.resolve("term.log");
    HttpCalls http = launchServer(port, log);
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      ids.add(http.post(V1 + "/jobs/submit", "{\"suite\":\"s" + i + "\",\"testbox\":\"dc-8g\"}")
          .json().get(0).path("job_id").asText());
    }
    Process p = started.get(0);
    p.destroy(); // SIGTERM
    assertTrue(p.waitFor(30, TimeUnit.SECONDS), "still running 30 s after SIGTERM");
    String out = Files.readString(log);
    assertFalse(out.contains("ERROR"), out);

    http = launchServer(port, dir.resolve("after.log"));
    List<String> got = new ArrayList<>();
    for (int i = 0; i < 21; i++) {
      Answer a = http.get(V1 + "/jobs/dispatch?hostname=d" + i + "&tbox_type=dc");
      if (a.status() == 200) {
        got.add(a.json().path("id").asText());
      }
    }
    assertEquals(ids, got, "all 20, once each, in submit order");
  }

  /**
   * The build makes the class-data-sharing archive conf/jvm.options names, for this very jar:
   * with -Xshare:on the JVM refuses to start when it cannot use it (missing, or older than the
   * jar), and the scheduler's own classes come from it.
   */
  @Test
  void theReadmeCommandReadsItsClassesFromTheBuildsArchive() throws Exception {
    Path log = dir.resolve("cds.log");
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "@conf/jvm.options", "-Xshare:on", "-Xlog:class+load=info", "-jar", jar(), "--help")
        .directory(ROOT.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    started.add(p);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    String out = Files.readString(log);
    assertEquals(0, p.exitValue(), out.lines().filter(l -> !l.contains("[class,load]")).toList().toString());
    assertTrue(out.contains("org.compassci.sched.config.BadSettingException source: shared objects file (top)"),
        "the scheduler's classes are not read from the archive");
  }

  @Test
  void aBadSettingEndsTheStartWithOneClearLine() throws Exception {
    Path log = dir.resolve("bad.log");
    Process p = launch(Map.of("SCHED_PORT", "abc"), log);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertEquals(2, p.exitValue());
    List<String> lines = Files.readAllLines(log);
    assertEquals(1, lines.size(), lines.toString());
    assertTrue(lines.get(0).contains("SCHED_PORT") && lines.get(0).contains("abc"), lines.get(0));

    Process store = launch(Map.of("SCHED_STORE", "etcd"), dir.resolve("store.log"));
    assertTrue(store.waitFor(60, TimeUnit.SECONDS));
    assertEquals(2, store.exitValue());
    assertTrue(Files.readString(dir.resolve("store.log")).contains("SCHED_STORE"));

    // a folder it cannot write is named before anything starts, not at the first upload
    Process results = launch(Map.of("SCHED_DATA_DIR", dir.resolve("data").toString(),
        "SCHED_RESULTS_DIR", "/proc/nope"), dir.resolve("results.log"));
    assertTrue(results.waitFor(60, TimeUnit.SECONDS));
    assertEquals(2, results.exitValue());
    List<String> said = Files.readAllLines(dir.resolve("results.log"));
    assertEquals(1, said.size(), said.toString());
    assertTrue(said.get(0).contains("SCHED_RESULTS_DIR") && said.get(0).contains("/proc/nope"), said.get(0));
  }
}
