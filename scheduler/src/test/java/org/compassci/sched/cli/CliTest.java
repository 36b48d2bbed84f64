package org.compassci.sched.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.compassci.sched.SchedulerApp;
import org.compassci.sched.config.SchedulerSettings;
import org.compassci.sched.fixtures.HttpCalls;
import org.compassci.sched.fixtures.HttpCalls.Answer;
import org.compassci.sched.model.Json;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The command line in-process against the real server on a loopback port with the embedded store:
 * what a user types, what it prints, and the exit code scripts rely on.
 */
class CliTest {

  static final String V1 = "/scheduler/v1";
  static final Pattern SUBMITTED = Pattern.compile("submitted (\\d+) result_root=(\\S+)");
  static final AtomicInteger GROUPS = new AtomicInteger();

  @TempDir static Path dir;
  static SchedulerApp.Running server;
  static HttpCalls http;
  static String url;

  record Run(int code, String out, String err) {}

  /** A command line that runs in the background, for the commands that follow jobs. */
  record Background(CompletableFuture<Run> done, StringWriter out, StringWriter err) {
    Run await() throws Exception {
      return done.get(60, TimeUnit.SECONDS);
    }

    /** Waits until the output has a line that matches, so that the test acts after the watch started. */
    Matcher awaitLine(String regex) throws InterruptedException {
      Pattern p = Pattern.compile("(?m)^" + regex + "$");
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (System.nanoTime() < end) {
        Matcher m = p.matcher(out.toString());
        if (m.find()) {
          return m;
        }
        if (done.isDone()) {
          break;
        }
        Thread.sleep(20);
      }
      throw new AssertionError("no line /" + regex + "/ in:\n" + out + "\nstderr:\n" + err);
    }
  }

  @BeforeAll
  static void startServer() throws Exception {
    Config config = ConfigFactory.parseMap(Map.of(
            "scheduler.host", "127.0.0.1", "scheduler.port", 0,
            "scheduler.data-dir", dir.resolve("data").toString(),
            "scheduler.admin-token", ADMIN,
            "scheduler.extract.results-dir", dir.resolve("results").toString()))
        .withFallback(ConfigFactory.load());
    server = SchedulerApp.start(config, SchedulerSettings.fromConfig(config))
        .toCompletableFuture().get(30, TimeUnit.SECONDS);
    http = new HttpCalls("127.0.0.1", server.address().getPort()).withToken(ADMIN);
    url = "http://127.0.0.1:" + server.address().getPort();
  }

  @AfterAll
  static void stopServer() throws Exception {
    server.stop().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  private static CommandLine commandLine(Map<String, String> env, String stdin, StringWriter out,
      StringWriter err) {
    CommandLine cl = Cli.commandLine(env, new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)));
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    return cl;
  }

  private static Run run(Map<String, String> env, String stdin, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = commandLine(env, stdin, out, err).execute(args);
    return new Run(code, out.toString(), err.toString());
  }

  /** The admin's token, given to the command line as SCHED_TOKEN. */
  static final String ADMIN = org.compassci.sched.TestServerAccess.ADMIN_TOKEN;

  /** The command against the test's server, as a user with SCHED_URL and SCHED_TOKEN set would type it. */
  private static Run cli(String... args) {
    return run(Map.of("SCHED_URL", url, "SCHED_TOKEN", ADMIN), "", args);
  }

  private static Background inBackground(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = commandLine(Map.of("SCHED_URL", url, "SCHED_TOKEN", ADMIN), "", out, err);
    CompletableFuture<Run> done = CompletableFuture.supplyAsync(
        () -> new Run(cl.execute(args), out.toString(), err.toString()));
    return new Background(done, out, err);
  }

  /** A machine group of its own, so that no other test's dispatch takes this test's jobs. */
  private static String group() {
    return "cli-" + GROUPS.incrementAndGet() + "-" + System.nanoTime();
  }

  private static String submit(String group, String account) {
    Answer a = http.post(V1 + "/jobs/submit", "{\"suite\":\"hackbench\",\"testbox\":\"vm-2p8g\",\"tbox_group\":\""
        + group + "\",\"my_account\":\"" + account + "\"}");
    assertEquals(200, a.status(), a.body());
    return a.json().get(0).path("job_id").asText();
  }

  private static JsonNode job(String id) {
    Answer a = http.get(V1 + "/jobs/" + id);
    assertEquals(200, a.status(), a.body());
    return a.json();
  }

  /** What a testbox does: take the job, run it, report its end. */
  private static void dispatch(String id, String group) {
    Answer a = http.get(V1 + "/jobs/dispatch?hostname=h-" + group + "&tbox_type=vm,dc&tbox_group=" + group
        + "&freemem=16384");
    assertEquals(200, a.status(), a.body());
    assertEquals(id, a.json().path("id").asText());
  }

  private static void update(String id, String query) {
    Answer a = http.post(V1 + "/jobs/" + id + "/update?" + query, "");
    assertEquals(200, a.status(), query + ": " + a.body());
  }

  private static int closedPort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private static List<String> submittedIds(String out) {
    List<String> ids = new ArrayList<>();
    Matcher m = SUBMITTED.matcher(out);
    while (m.find()) {
      ids.add(m.group(1));
    }
    return ids;
  }

  @Test
  void submitSendsTheBaseAndItsVariationWithTheSettingsOnEachJob() throws Exception {
    Path file = dir.resolve("two.yaml");
    Files.writeString(file, """
        # a job and a variation of it, as lkp users write them
        suite: hackbench
        testbox: vm-2p8g
        my_account: alice
        hackbench:
          nr_threads: 4
        ---
        suite: stream
        testbox: dc-8g
        """);
    Run r = cli("submit", file.toString(), "-s", "my_account=carol", "-s", "nr_threads=8",
        "-s", "queue: idle");

    assertEquals(0, r.code(), r.err());
    // no lkp-tests tree given: hackbench stays a map of the job's, which job.sh does not run
    assertEquals(nothingRuns(file, 2, 2, "hackbench"), r.err());
    List<String> lines = r.out().lines().toList();
    assertEquals(3, lines.size(), r.out());
    assertEquals("2 jobs submitted", lines.get(2));
    List<String> ids = submittedIds(r.out());
    assertEquals(2, ids.size(), r.out());
    for (String line : lines.subList(0, 2)) {
      Matcher m = SUBMITTED.matcher(line);
      assertTrue(m.matches(), line);
      assertTrue(m.group(2).endsWith("/" + m.group(1)), line);
    }
    JsonNode first = job(ids.get(0));
    JsonNode second = job(ids.get(1));
    assertEquals("hackbench", first.path("suite").asText());
    assertEquals("vm-2p8g", first.path("testbox").asText());
    assertEquals("stream", second.path("suite").asText());
    assertEquals("dc-8g", second.path("testbox").asText());
    for (JsonNode j : List.of(first, second)) {
      assertEquals(4, j.path("hackbench").path("nr_threads").asInt(), "the variation keeps the base's: " + j);
      assertEquals("carol", j.path("my_account").asText(), "-s overrides the file");
      assertTrue(j.path("nr_threads").isNumber(), "a YAML scalar: " + j);
      assertEquals(8, j.path("nr_threads").asInt());
      assertEquals("idle", j.path("queue").asText(), "lkp's 'key: value' form");
    }
  }

  // --- job files as lkp-tests users write them (the format of lkp-tests' jobs/, files of our own)

  /** 2 x 2 x 2 jobs, the first list varying slowest. */
  static final String RING = """
      suite: ring-bench
      category: benchmark
      nr_threads:
      - 1600%
      - 50%
      iterations: 4
      ring-bench:
        mode:
        - process
        - threads
        ipc: [pipe, socket]
      """;

  private static int pendingIn(String group) {
    return http.get(V1 + "/dashboard/jobs/pending?group_by=tbox_group").json().path("groups").path(group).asInt();
  }

  @Test
  void dryRunPrintsEachJobWithWhatVariesThenTheCountAndSendsNothing() throws Exception {
    String group = group();
    Path ring = dir.resolve("ring.yaml");
    Files.writeString(ring, RING + "testbox: vm-2p8g\ntbox_group: " + group + "\n");
    Run r = cli("submit", "--dry-run", ring.toString());
    assertEquals(0, r.code(), r.err());
    assertEquals(nothingRuns(ring, 8, 8, "ring-bench"), r.err());
    String name = ring.toString();
    assertEquals(List.of(
        name + ": nr_threads=1600% mode=process ipc=pipe",
        name + ": nr_threads=1600% mode=process ipc=socket",
        name + ": nr_threads=1600% mode=threads ipc=pipe",
        name + ": nr_threads=1600% mode=threads ipc=socket",
        name + ": nr_threads=50% mode=process ipc=pipe",
        name + ": nr_threads=50% mode=process ipc=socket",
        name + ": nr_threads=50% mode=threads ipc=pipe",
        name + ": nr_threads=50% mode=threads ipc=socket",
        "8 jobs would be submitted; nothing was sent"), r.out().lines().toList());
    assertEquals(0, pendingIn(group), "nothing was sent");

    Path variations = dir.resolve("loop.yaml");
    Files.writeString(variations, """
        suite: syscall-loop
        testbox: dc-8g
        syscall-loop:
          duration: 5s
          call: [all]
        ---
        syscall-loop:
          duration: 120s
          call: [getpid, uname]
        """);
    Run two = cli("submit", "--dry-run", variations.toString(), ring.toString());
    assertEquals(0, two.code(), two.err());
    List<String> lines = two.out().lines().toList();
    assertEquals(List.of(variations + ": duration=5s call=all", variations + ": duration=120s call=getpid",
        variations + ": duration=120s call=uname"), lines.subList(0, 3));
    assertEquals("11 jobs would be submitted (" + variations + " 3, " + ring + " 8); nothing was sent",
        lines.get(lines.size() - 1));
  }

  /** The warning for a YAML file whose jobs keep lkp-tests' programs as maps of their own. */
  private static String nothingRuns(Path file, int idle, int total, String keys) {
    return "warning: " + file + ": " + idle + " of " + total + " jobs run nothing on an lkp-tests box: no program"
        + " under setup:, daemon:, monitor: or program:, and no job2sh; lkp-tests' own submit looks " + keys
        + " up in its tree: give the tree with --lkp-src DIR (or LKP_SRC), or list the programs under program:\n";
  }

  /**
   * A tree of lkp-tests' 2022 layout, as small as it can be: a test, a setup script, two
   * monitors (one one folder down), and what lkp-tests' lookup skips (a wrapper, a data file).
   */
  private Path lkpTree() throws Exception {
    Path tree = dir.resolve("lkp-tests");
    for (String f : List.of("tests/hackbench", "tests/wrapper", "setup/cpufreq_governor", "monitors/vmstat",
        "monitors/no-stdout/boot-time", "monitors/wrapper", "tests/hackbench.yaml", "daemon/sshd")) {
      Path p = tree.resolve(f);
      Files.createDirectories(p.getParent());
      Files.writeString(p, "#!/bin/sh\n");
      if (!f.endsWith(".yaml")) {
        p.toFile().setExecutable(true);
      }
    }
    return tree;
  }

  /**
   * Given an lkp-tests tree (--lkp-src, or LKP_SRC as lkp-tests' own submit reads it), the
   * file's top-level keys that name its programs go into the sections job.sh runs: a test under
   * program:, a monitor under monitor:, a setup script under setup: (a scalar one stays a
   * top-level variable too). Without it they stay the job's own maps, and the command warns.
   */
  @Test
  void anLkpTestsTreeTellsTheFilesProgramsFromItsOwnKeys() throws Exception {
    String group = group();
    Path file = dir.resolve("hackbench-lkp.yaml");
    Files.writeString(file, """
        suite: hackbench
        testbox: vm-2p8g
        tbox_group: %s
        cpufreq_governor: performance
        boot-time:
        vmstat:
          interval: 10
        hackbench:
          mode: [process, threads]
        kernel_cmdline_hw:
          quiet: 1
        """.formatted(group));
    Path tree = lkpTree();
    for (Run r : List.of(cli("submit", "--lkp-src", tree.toString(), file.toString()),
        run(Map.of("SCHED_URL", url, "SCHED_TOKEN", ADMIN, "LKP_SRC", tree.toString()), "", "submit", file.toString()))) {
      assertEquals(0, r.code(), r.err());
      // kernel_cmdline_hw is no program of the tree, and the job runs one: nothing to warn about
      assertEquals("", r.err());
      List<String> ids = submittedIds(r.out());
      assertEquals(2, ids.size(), r.out());
      JsonNode job = job(ids.get(1));
      assertEquals("threads", job.path("program").path("hackbench").path("mode").asText(), job.toString());
      assertTrue(job.path("hackbench").isMissingNode(), job.toString());
      assertEquals(10, job.path("monitor").path("vmstat").path("interval").asInt(), job.toString());
      assertTrue(job.path("monitor").has("boot-time"), job.toString());
      assertEquals("performance", job.path("setup").path("cpufreq_governor").asText(), job.toString());
      assertEquals("performance", job.path("cpufreq_governor").asText(), "still exported: " + job);
      assertEquals(1, job.path("kernel_cmdline_hw").path("quiet").asInt(), job.toString());
      for (String id : ids) {
        assertEquals(200, http.post(V1 + "/jobs/" + id + "/cancel", "").status());
      }
    }
    // the tree lacks the file's program: said, and the job is sent as it is
    Files.writeString(file, "suite: s\ntestbox: vm-2p8g\nnetperf:\n  runtime: 10\n");
    Run missing = cli("submit", "--dry-run", "--lkp-src", tree.toString(), file.toString());
    assertEquals(0, missing.code(), missing.err());
    assertTrue(missing.err().startsWith("warning: " + file + ": 1 of 1 job runs nothing"), missing.err());
    assertTrue(missing.err().contains("the lkp-tests tree has no program called netperf"), missing.err());
    // a folder that is no lkp-tests tree is a usage error, before anything is read or sent
    Run notATree = cli("submit", "--lkp-src", dir.resolve("nowhere").toString(), file.toString());
    assertEquals(2, notATree.code(), notATree.err());
    assertTrue(notATree.err().contains("--lkp-src: " + dir.resolve("nowhere") + ": no such folder"), notATree.err());
    // a stale LKP_SRC in the environment only warns: the submit goes on without a tree
    Run stale = run(Map.of("SCHED_URL", url, "SCHED_TOKEN", ADMIN, "LKP_SRC", dir.resolve("gone").toString()), "",
        "submit", "--dry-run", file.toString());
    assertEquals(0, stale.code(), stale.err());
    assertTrue(stale.err().startsWith("warning: LKP_SRC: " + dir.resolve("gone") + ": no such folder"), stale.err());
  }

  @Test
  void dryRunSaysWhichJobsTheSchedulerWouldRefuse() throws Exception {
    Path noTestbox = dir.resolve("ring-no-testbox.yaml");
    Files.writeString(noTestbox, RING);
    Run r = cli("submit", "--dry-run", noTestbox.toString());
    assertEquals(2, r.code(), r.out() + r.err());
    assertTrue(r.out().endsWith("8 jobs would be submitted; nothing was sent\n"), r.out());
    assertEquals(nothingRuns(noTestbox, 8, 8, "ring-bench") + "scheduler: " + noTestbox
        + ": 8 of 8 jobs would be refused: testbox: required (a machine, a machine group, or a shape like vm-2p8g)\n",
        r.err());
    Run withSetting = cli("submit", "--dry-run", noTestbox.toString(), "-s", "testbox=vm-2p8g");
    assertEquals(0, withSetting.code(), withSetting.err());
  }

  @Test
  void submitSendsEveryExpandedJobWithTheSettingsAndPrintsTheirCount() throws Exception {
    String group = group();
    Path ring = dir.resolve("ring-submit.yaml");
    Files.writeString(ring, RING);
    // a machine group of the test's own: no other test's testbox takes these jobs
    Run r = cli("submit", ring.toString(), "-s", "testbox=" + group, "-s", "iterations=2");
    assertEquals(0, r.code(), r.err());
    List<String> ids = submittedIds(r.out());
    assertEquals(8, ids.size(), r.out());
    assertTrue(r.out().endsWith("\n8 jobs submitted\n"), r.out());
    assertEquals(8, pendingIn(group));
    JsonNode last = job(ids.get(7));
    assertEquals("50%", last.path("nr_threads").asText(), last.toString());
    assertEquals("threads", last.at("/ring-bench/mode").asText());
    assertEquals("socket", last.at("/ring-bench/ipc").asText());
    for (String id : ids) {
      assertEquals(2, job(id).path("iterations").asInt(), "-s on every expanded job");
    }
  }

  @Test
  void aFileThatWouldMakeTooManyJobsOrNeedsRubyIsRefusedBeforeAnythingIsSent() throws Exception {
    String group = group();
    StringBuilder wide = new StringBuilder("suite: wide\ntestbox: vm-2p8g\ntbox_group: " + group + "\n");
    for (String key : List.of("a", "b", "c")) {
      wide.append(key).append(": [");
      for (int i = 0; i < 22; i++) {
        wide.append(i == 0 ? "" : ", ").append(i);
      }
      wide.append("]\n");
    }
    Path good = dir.resolve("first-good.yaml");
    Files.writeString(good, "suite: a\ntestbox: vm-2p8g\ntbox_group: " + group + "\n");
    Path tooMany = dir.resolve("wide.yaml");
    Files.writeString(tooMany, wide.toString());
    Run r = cli("submit", good.toString(), tooMany.toString());
    assertEquals(2, r.code(), r.err());
    assertEquals("", r.out());
    assertEquals("scheduler: " + tooMany + ": the file would make 10648 jobs, more than the 10000 that"
        + " scheduler.submit.max-jobs-per-file allows; nothing was submitted\n", r.err());
    assertEquals(0, pendingIn(group), "not even the good file before it");

    Path ruby = dir.resolve("ruby.yaml");
    Files.writeString(ruby, "suite: fs-bench\ntestbox: vm-2p8g\nfs-bench:\n  load: {{ fs == 'xfs' ? 1 : 2 }}\n");
    Run refused = cli("submit", ruby.toString());
    assertEquals(2, refused.code());
    assertTrue(refused.err().startsWith("scheduler: " + ruby + ": fs-bench.load (line 4): '{{ … }}' is a Ruby"
        + " expression"), refused.err());
  }

  @Test
  void submitWithMonitorFollowsEveryJobOfALargeFile() throws Exception {
    String group = group();
    int jobs = JobWatch.STREAM_JOBS + 20;
    StringBuilder file = new StringBuilder("suite: many\ntestbox: " + group + "\nnr: [");
    for (int i = 0; i < jobs; i++) {
      file.append(i == 0 ? "" : ", ").append(i);
    }
    Path many = dir.resolve("many.yaml");
    Files.writeString(many, file.append("]\n").toString());
    Background submit = inBackground("submit", "--watch", many.toString());
    submit.awaitLine(jobs + " jobs submitted");
    List<String> ids = submittedIds(submit.out().toString());
    assertEquals(jobs, ids.size());
    for (String id : ids) {
      submit.awaitLine("\\S+ " + id + " submit testbox=" + Pattern.quote(group));
    }
    for (String id : ids) {
      assertEquals(200, http.post(V1 + "/jobs/" + id + "/cancel", "").status());
    }
    Run r = submit.await();
    assertEquals(1, r.code(), r.err());
    for (String id : ids) {
      assertTrue(r.out().contains("\n" + id + " ended in cancel: health=cancel"), id + " in:\n" + r.out());
    }
    assertEquals("", r.err());
  }

  @Test
  void submitReadsStdinAndTheServerWinsOverSchedUrlWithServerOption() throws Exception {
    int closed = closedPort();
    Run r = run(Map.of("SCHED_URL", "http://127.0.0.1:" + closed, "SCHED_TOKEN", ADMIN), "suite: stdin\ntestbox: dc-8g\n",
        "submit", "--server", url + "/", "-");
    assertEquals(0, r.code(), r.err());
    assertEquals("stdin", job(submittedIds(r.out()).get(0)).path("suite").asText());
  }

  @Test
  void aJobTheServerRefusesIsReportedWithItsMessage() throws Exception {
    Path one = dir.resolve("no-testbox.yaml");
    Files.writeString(one, "suite: hackbench\n");
    Run r = cli("submit", one.toString());
    assertEquals(4, r.code());
    assertEquals("", r.out());
    assertEquals("scheduler: testbox: required (a machine, a machine group, or a shape like vm-2p8g) (HTTP 400)\n",
        r.err());

    Path two = dir.resolve("second-bad.yaml");
    Files.writeString(two, "- suite: a\n  testbox: dc-8g\n- suite: b\n");
    Run batch = cli("submit", two.toString());
    assertEquals(4, batch.code());
    List<String> lines = batch.err().lines().toList();
    assertEquals(2, lines.size(), batch.err());
    assertTrue(lines.get(0).startsWith("scheduler: job 1 of 2: not submitted"), lines.get(0));
    assertTrue(lines.get(1).startsWith("scheduler: job 2 of 2: testbox: required"), lines.get(1));
  }

  @Test
  void aBadOrMissingJobFileIsAUsageError() throws Exception {
    Path bad = dir.resolve("bad.yaml");
    Files.writeString(bad, "suite: hackbench\n  testbox: [vm-2p8g\n");
    Run r = cli("submit", bad.toString());
    assertEquals(2, r.code());
    assertTrue(r.err().startsWith("scheduler: " + bad + ": not valid YAML at line 2, column "), r.err());
    assertFalse(r.err().contains("reader"), "snakeyaml's quote of the line is left out: " + r.err());
    assertEquals(1, r.err().lines().count(), r.err());

    Run missing = cli("submit", dir.resolve("nowhere.yaml").toString());
    assertEquals(2, missing.code());
    assertEquals("scheduler: " + dir.resolve("nowhere.yaml") + ": no such file\n", missing.err());

    Path mixed = dir.resolve("mixed.yaml");
    Files.writeString(mixed, "suite: a\ntestbox: dc-8g\n---\n- suite: b\n");
    Run notOneForm = cli("submit", mixed.toString());
    assertEquals(2, notOneForm.code());
    assertTrue(notOneForm.err().startsWith("scheduler: " + mixed + ": document 2 is a list of jobs but document 1"),
        notOneForm.err());

    Path empty = dir.resolve("empty.yaml");
    Files.writeString(empty, "# nothing yet\n");
    assertEquals(2, cli("submit", empty.toString()).code());

    Path good = dir.resolve("good.yaml");
    Files.writeString(good, "suite: a\ntestbox: dc-8g\n");
    Run badSetting = cli("submit", good.toString(), "-s", "novalue");
    assertEquals(2, badSetting.code());
    assertTrue(badSetting.err().startsWith("scheduler: -s 'novalue': give key=value"), badSetting.err());
    assertEquals("", badSetting.out(), "nothing was submitted");
  }

  /**
   * The server stores the jobs and answers, the answer is lost on its way: the client retries
   * with the same Idempotency-Key and gets the first answer; the jobs are there once.
   */
  @Test
  void aSubmitWhoseAnswerIsLostIsRetriedAndMakesItsJobsOnce() throws Exception {
    String group = group();
    Path file = dir.resolve("lost-answer.yaml");
    // a machine group of its own (hw): no other test's box takes these
    Files.writeString(file, "suite: hackbench\ntestbox: " + group + "\nnr_threads: [1, 2]\n");
    try (org.compassci.sched.fixtures.TcpProxy proxy = new org.compassci.sched.fixtures.TcpProxy(server.address().getPort())) {
      proxy.dropNextAnswers(1);
      Run r = run(Map.of("SCHED_TOKEN", ADMIN), "", "submit", "--server", "http://127.0.0.1:" + proxy.port(),
          file.toString());
      assertEquals(0, r.code(), r.err());
      assertEquals(2, submittedIds(r.out()).size(), r.out());
    }
    assertEquals(2, http.get(V1 + "/dashboard/jobs/pending?group_by=tbox_group").json().path("groups")
        .path(group).asInt(), "stored once");
  }

  @Test
  void aCancelWhoseAnswerIsLostIsRetriedAndSaysCancelled() throws Exception {
    String id = submit(group(), "alice");
    try (org.compassci.sched.fixtures.TcpProxy proxy = new org.compassci.sched.fixtures.TcpProxy(server.address().getPort())) {
      proxy.dropNextAnswers(1);
      Run r = run(Map.of("SCHED_TOKEN", ADMIN), "", "cancel", "--server", "http://127.0.0.1:" + proxy.port(), id);
      assertEquals(0, r.code(), r.err());
      assertEquals("cancelled " + id + "\n", r.out());
    }
  }

  @Test
  void theTokenComesFromCompassCisAccountYaml() throws Exception {
    Path home = dir.resolve("home-" + System.nanoTime());
    Path defaults = Files.createDirectories(home.resolve(".config/compass-ci/defaults"));
    Answer made = http.post(V1 + "/accounts", "{\"name\":\"cci-" + GROUPS.incrementAndGet()
        + "\",\"email\":\"u@example.org\"}");
    assertEquals(201, made.status(), made.body());
    String account = made.json().path("name").asText();
    Files.writeString(defaults.resolve("account.yaml"), "my_email: u@example.org\nmy_name: U\nmy_account: "
        + account + "\nmy_token: " + made.json().path("token").asText() + "\n");
    Path file = dir.resolve("cci-job.yaml");
    String group = group();
    Files.writeString(file, "suite: hackbench\ntestbox: " + group + "\n");
    Run r = run(Map.of("SCHED_URL", url, "HOME", home.toString()), "", "submit", file.toString());
    assertEquals(0, r.code(), r.err());
    assertEquals(account, job(submittedIds(r.out()).get(0)).path("my_account").asText(), "the token's account");
    Run none = run(Map.of("SCHED_URL", url, "HOME", dir.resolve("nohome").toString()), "", "submit", file.toString());
    assertEquals(4, none.code());
    assertTrue(none.err().contains("(HTTP 401)"), none.err());
  }

  @Test
  void accountsAreManagedFromTheCommandLine() throws Exception {
    String name = "cli-user-" + GROUPS.incrementAndGet();
    Run added = cli("accounts", "add", name, "--email", name + "@example.org");
    assertEquals(0, added.code(), added.err());
    assertTrue(added.out().startsWith("my_account: " + name + "\nmy_email: " + name + "@example.org\nmy_token: sched_"),
        added.out());
    assertTrue(added.err().contains("shown this once"), added.err());
    String token = added.out().lines().filter(l -> l.startsWith("my_token: ")).findFirst().orElseThrow().substring(10);
    Run list = cli("accounts", "list");
    assertEquals(0, list.code(), list.err());
    assertTrue(list.out().startsWith("NAME"), list.out());
    assertTrue(list.out().contains(name + " ") && !list.out().contains(token), list.out());
    Run asUser = run(Map.of("SCHED_URL", url, "SCHED_TOKEN", token), "", "accounts", "list");
    assertEquals(4, asUser.code());
    assertTrue(asUser.err().contains("is not an admin (HTTP 403)"), asUser.err());
    Run rotated = cli("accounts", "rotate", name);
    assertEquals(0, rotated.code(), rotated.err());
    assertFalse(rotated.out().contains(token));
    assertEquals("removed " + name + "\n", cli("accounts", "remove", name).out());
    assertEquals(4, cli("accounts", "remove", name).code());
    assertEquals(2, cli("accounts", "add", "x").code(), "--email is required");
  }

  @Test
  void anUnreachableServerIsExit3InOneLine() throws Exception {
    int closed = closedPort();
    Path good = dir.resolve("unsent.yaml");
    Files.writeString(good, "suite: a\ntestbox: dc-8g\n");
    String server = "http://127.0.0.1:" + closed;
    for (String[] args : List.of(new String[] {"queue"}, new String[] {"job", "1"},
        new String[] {"cancel", "1"}, new String[] {"watch", "1", "2"}, new String[] {"submit", good.toString()})) {
      // --retry-for 0: submit and cancel give up at once (they retry for 60 s by default)
      Run r = run(Map.of(), "", concat(new String[] {"--server", server, "--retry-for", "0"}, args));
      assertEquals(3, r.code(), String.join(" ", args) + ": " + r.err());
      assertEquals("scheduler: cannot reach " + server + ": connection refused\n", r.err(), String.join(" ", args));
    }
    Run fromEnv = run(Map.of("SCHED_URL", server), "", "queue");
    assertEquals(3, fromEnv.code());
    assertTrue(fromEnv.err().contains(server), fromEnv.err());
  }

  /** A cluster's nodes as a list: one that is down is passed over, for reads and submits alike. */
  @Test
  void aServerListIsTriedInTurn() throws Exception {
    String down = "http://127.0.0.1:" + closedPort();
    String list = down + "," + url;
    Path job = dir.resolve("listed.yaml");
    Files.writeString(job, "suite: a\ntestbox: listed-box\nmy_account: listed\n");
    Run submitted = run(Map.of("SCHED_URL", list, "SCHED_TOKEN", ADMIN), "", "submit", job.toString());
    assertEquals(0, submitted.code(), submitted.err());
    Matcher m = SUBMITTED.matcher(submitted.out());
    assertTrue(m.find(), submitted.out());
    Run shown = run(Map.of("SCHED_TOKEN", ADMIN), "", "--server", list, "job", m.group(1));
    assertEquals(0, shown.code(), shown.err());
    assertEquals("submit", Json.parse(shown.out()).path("job_stage").asText());
    Run allDown = run(Map.of(), "", "--server", down + "," + down, "queue");
    assertEquals(3, allDown.code(), allDown.err());
  }

  private static String[] concat(String[] a, String[] b) {
    String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, all, a.length, b.length);
    return all;
  }

  @Test
  void jobPrintsTheJobAsIndentedJson() {
    String id = submit(group(), "dave");
    Run r = cli("job", id);
    assertEquals(0, r.code(), r.err());
    JsonNode shown = Json.parse(r.out());
    assertEquals(id, shown.path("id").asText());
    assertEquals("submit", shown.path("job_stage").asText());
    assertTrue(r.out().contains("\n  \"job_stage\" : \"submit\""), r.out());

    Run trimmed = cli("job", id, "-f", "job_stage,my_account");
    assertEquals(2, Json.parse(trimmed.out()).size(), trimmed.out());

    Run unknown = cli("job", "42");
    assertEquals(4, unknown.code());
    assertTrue(unknown.err().startsWith("scheduler: ") && unknown.err().contains("(HTTP 404)"), unknown.err());

    Run notAnId = cli("job", "abc");
    assertEquals(2, notAnId.code());
    assertTrue(notAnId.err().startsWith("scheduler: 'abc' is not a job id"), notAnId.err());
  }

  @Test
  void queueShowsTheTotalAndOneRowPerGroup() {
    String group = group();
    String account = "queue-" + System.nanoTime();
    for (int i = 0; i < 3; i++) {
      submit(group, account);
    }
    Run r = cli("queue");
    assertEquals(0, r.code(), r.err());
    List<String> lines = r.out().lines().toList();
    assertTrue(lines.get(0).matches("pending \\d+"), r.out());
    assertTrue(Integer.parseInt(lines.get(0).substring("pending ".length())) >= 3, r.out());
    assertTrue(lines.get(1).matches("TBOX_GROUP +JOBS"), r.out());
    assertTrue(lines.stream().anyMatch(l -> l.matches(Pattern.quote(group) + " +3")), r.out());

    Run byAccount = cli("queue", "--by", "my_account");
    assertEquals(0, byAccount.code(), byAccount.err());
    assertTrue(byAccount.out().lines().anyMatch(l -> l.matches(Pattern.quote(account) + " +3")), byAccount.out());

    Run bad = cli("queue", "--by", "colour");
    assertEquals(2, bad.code());
    assertTrue(bad.err().contains("tbox_group, my_account, arch, queue"), bad.err());
  }

  @Test
  void cancelTakesAQueuedJobAndTheServerRefusesASecondTime() {
    String id = submit(group(), "erin");
    Run r = cli("cancel", id);
    assertEquals(0, r.code(), r.err());
    assertEquals("cancelled " + id + "\n", r.out());
    assertEquals("cancel", job(id).path("job_stage").asText());

    Run again = cli("cancel", id);
    assertEquals(4, again.code());
    assertTrue(again.err().startsWith("scheduler: ") && again.err().contains("(HTTP 409)"), again.err());
    assertEquals(1, again.err().lines().count(), again.err());
  }

  @Test
  void helpListsTheCommandsAndTheExitCodes() {
    Run r = cli("--help");
    assertEquals(0, r.code());
    for (String s : List.of("submit", "watch", "cancel", "job", "queue", "--server", "SCHED_URL",
        "Exit codes:", "Without any argument")) {
      assertTrue(r.out().contains(s), s + " in:\n" + r.out());
    }
    for (int code = 0; code <= 4; code++) {
      assertTrue(Pattern.compile("(?m)^\\s+" + code + "\\s+\\S").matcher(r.out()).find(), code + " in:\n" + r.out());
    }
    Run submitHelp = cli("submit", "--help");
    assertTrue(submitHelp.out().contains("-m, --watch, --monitor") && submitHelp.out().contains("--dry-run")
        && submitHelp.out().contains("Exit codes:"),
        submitHelp.out());
    assertEquals(0, cli("help", "watch").code());
  }

  @Test
  void usageErrorsAreExit2() {
    Run noCommand = cli("--server", url);
    assertEquals(2, noCommand.code());
    assertTrue(noCommand.err().startsWith("scheduler: give a command"), noCommand.err());
    Run unknown = cli("sumbit", "x.yaml");
    assertEquals(2, unknown.code());
    assertTrue(unknown.err().startsWith("scheduler: 'sumbit' is not a command\n"), unknown.err());
    assertTrue(unknown.err().contains("submit?"), "a suggestion: " + unknown.err());
    Run badUrl = cli("--server", "ftp://example", "queue");
    assertEquals(2, badUrl.code());
    assertTrue(badUrl.err().startsWith("scheduler: --server: 'ftp://example' is not an http://"), badUrl.err());
    assertEquals(2, cli("watch").code());
    // a token pasted with curly quotes: one line, without the token, not a stack trace
    Run curly = run(Map.of("SCHED_TOKEN", "\u201csched_secret-part\u201d"), "", "--server", url, "queue");
    assertEquals(2, curly.code(), curly.err());
    assertTrue(curly.err().startsWith("scheduler: the token has characters no token has"), curly.err());
    assertTrue(!curly.err().contains("secret-part") && curly.err().lines().count() == 1, curly.err());
  }

  // --- following jobs over Server-Sent Events (GET .../jobs/{id}/events and .../events?job_ids=)

  @Test
  void watchShowsEachStageAndEndsWithTheJobsHealth() throws Exception {
    String group = group();
    String id = submit(group, "frank");
    Background watch = inBackground("watch", id);
    watch.awaitLine("\\d\\d:\\d\\d:\\d\\d " + id + " submit testbox=vm-2p8g");

    dispatch(id, group);
    watch.awaitLine("\\d\\d:\\d\\d:\\d\\d " + id + " dispatch");
    update(id, "job_stage=running");
    watch.awaitLine("\\d\\d:\\d\\d:\\d\\d " + id + " running");
    update(id, "job_stage=finish&job_health=success");
    update(id, "job_data_readiness=norun");
    Run r = watch.await();

    assertEquals(0, r.code(), r.out() + r.err());
    List<String> lines = r.out().lines().toList();
    assertEquals(List.of("submit testbox=vm-2p8g", "dispatch", "running", "finish health=success"),
        lines.subList(0, lines.size() - 1).stream().map(l -> l.substring(9 + id.length() + 1)).toList(), r.out());
    assertEquals(id + " ended in finish: health=success data=norun", lines.get(lines.size() - 1));
    assertEquals("", r.err());
  }

  /** {@code watch --ws}: the same lines over the watchers' WebSocket; an unknown job exits 4. */
  @Test
  void watchOverTheWebSocketShowsTheSameLines() throws Exception {
    String group = group();
    String id = submit(group, "frank");
    Background watch = inBackground("watch", "--ws", id);
    watch.awaitLine("\\d\\d:\\d\\d:\\d\\d " + id + " submit testbox=vm-2p8g");
    dispatch(id, group);
    watch.awaitLine("\\d\\d:\\d\\d:\\d\\d " + id + " dispatch");
    update(id, "job_stage=running");
    watch.awaitLine("\\d\\d:\\d\\d:\\d\\d " + id + " running");
    update(id, "job_stage=finish&job_health=success");
    update(id, "job_data_readiness=norun");
    Run r = watch.await();
    assertEquals(0, r.code(), r.out() + r.err());
    List<String> lines = r.out().lines().toList();
    assertEquals(List.of("submit testbox=vm-2p8g", "dispatch", "running", "finish health=success"),
        lines.subList(0, lines.size() - 1).stream().map(l -> l.substring(9 + id.length() + 1)).toList(), r.out());
    assertEquals(id + " ended in finish: health=success data=norun", lines.get(lines.size() - 1));

    Run unknown = cli("watch", "--ws", "42", id);
    assertEquals(4, unknown.code(), unknown.err());
    assertTrue(unknown.err().startsWith("scheduler: job 42"), unknown.err());
  }

  /**
   * A job may have a field of its own called {@code type}: its changes over the socket then carry
   * it beside the job's id, and are still changes, not messages of another kind to skip.
   */
  @Test
  void watchOverTheWebSocketFollowsAJobWithAFieldCalledType() throws Exception {
    String group = group();
    Answer a = http.post(V1 + "/jobs/submit", "{\"suite\":\"hackbench\",\"testbox\":\"vm-2p8g\",\"tbox_group\":\""
        + group + "\",\"my_account\":\"frank\",\"type\":\"job-close\"}");
    assertEquals(200, a.status(), a.body());
    String id = a.json().get(0).path("job_id").asText();
    Background watch = inBackground("watch", "--ws", id);
    watch.awaitLine("\\d\\d:\\d\\d:\\d\\d " + id + " submit testbox=vm-2p8g");
    dispatch(id, group);
    watch.awaitLine("\\d\\d:\\d\\d:\\d\\d " + id + " dispatch");
    update(id, "job_stage=finish&job_health=success");
    update(id, "job_data_readiness=norun");
    Run r = watch.await();
    assertEquals(0, r.code(), r.out() + r.err());
    assertTrue(r.out().contains(id + " ended in finish: health=success data=norun"), r.out());
  }

  @Test
  void watchFollowsEveryJobOfALkpTestsRunBySubmitId() throws Exception {
    String group = group();
    String run = "run-" + group;
    List<String> ids = new java.util.ArrayList<>();
    for (int i = 0; i < 3; i++) {
      Answer a = http.post("/submit_job", "{\"suite\":\"hackbench\",\"testbox\":\"" + group + "\",\"nr\":" + i
          + ",\"submit_id\":\"" + run + "\"}");
      assertEquals(200, a.status(), a.body());
      ids.add(a.json().get(0).path("job_id").asText());
    }
    for (String id : ids) {
      assertEquals(200, http.post(V1 + "/jobs/" + id + "/cancel", "").status());
    }
    Run r = cli("watch", "--submit-id", run);
    for (String id : ids) {
      assertTrue(r.out().contains(id + " ended in"), r.out() + r.err());
    }
    assertEquals(4, cli("watch", "--submit-id", "no-such-run").code());
    assertEquals(2, cli("watch").code());
  }

  /**
   * A run larger than the server lists (scheduler.watch.max-jobs, 1,000) is refused, not followed
   * in part: an exit 0 for its first thousand would tell a script the whole run succeeded.
   */
  @Test
  void watchRefusesARunLargerThanTheServerLists() throws Exception {
    String group = group();
    String run = "big-" + group;
    StringBuilder jobs = new StringBuilder("[");
    for (int i = 0; i < 1001; i++) {
      jobs.append(i == 0 ? "" : ",").append("{\"suite\":\"s\",\"testbox\":\"").append(group)
          .append("\",\"submit_id\":\"").append(run).append("\"}");
    }
    Answer a = http.post(V1 + "/jobs/submit", jobs.append(']').toString());
    assertEquals(200, a.status(), a.body());
    JsonNode listed = http.get(V1 + "/jobs?submit_id=" + run).json();
    assertEquals(1000, listed.path("total").asInt());
    assertTrue(listed.path("truncated").asBoolean(), listed.toString().substring(0, 200));
    Run r = cli("watch", "--submit-id", run);
    assertEquals(4, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("more than the 1000 jobs"), r.err());
    assertEquals("", r.out());
  }

  @Test
  void watchOfSeveralJobsExits1WhenOneFailsAnd4ForAnUnknownJob() throws Exception {
    String group = group();
    String good = submit(group, "gina");
    String bad = submit(group, "gina");
    Background watch = inBackground("watch", good, bad);
    watch.awaitLine("\\S+ " + good + " submit.*");
    watch.awaitLine("\\S+ " + bad + " submit.*");
    for (String id : List.of(good, bad)) {
      dispatch(id, group);
      update(id, "job_stage=running");
    }
    update(good, "job_stage=finish&job_health=success");
    update(good, "job_data_readiness=norun");
    update(bad, "job_stage=finish&job_health=fail");
    update(bad, "job_data_readiness=norun");
    Run r = watch.await();
    assertEquals(1, r.code(), r.out() + r.err());
    assertTrue(r.out().contains(good + " ended in finish: health=success data=norun"), r.out());
    assertTrue(r.out().contains(bad + " ended in finish: health=fail data=norun"), r.out());

    Run unknownAmongOthers = cli("watch", "42", "43");
    assertEquals(4, unknownAmongOthers.code(), unknownAmongOthers.err());
    List<String> errors = unknownAmongOthers.err().lines().toList();
    assertEquals(2, errors.size(), unknownAmongOthers.err());
    assertTrue(errors.get(0).startsWith("scheduler: job 42") && errors.get(1).startsWith("scheduler: job 43"),
        unknownAmongOthers.err());

    Run unknown = cli("watch", "42");
    assertEquals(4, unknown.code());
    assertTrue(unknown.err().contains("(HTTP 404)"), unknown.err());
  }

  @Test
  void submitWithMonitorFollowsTheJobsItSubmitted() throws Exception {
    String group = group();
    Path file = dir.resolve("monitored.yaml");
    Files.writeString(file, "suite: hackbench\ntestbox: vm-2p8g\ntbox_group: " + group + "\n");
    Background submit = inBackground("submit", "-m", file.toString());
    String id = submit.awaitLine("submitted (\\d+) result_root=\\S+").group(1);
    submit.awaitLine("\\S+ " + id + " submit testbox=vm-2p8g");
    dispatch(id, group);
    update(id, "job_stage=running");
    update(id, "job_health=oom");
    update(id, "job_data_readiness=norun");
    Run r = submit.await();
    assertEquals(1, r.code(), r.out() + r.err());
    assertTrue(r.out().contains(id + " ended in finish: health=oom data=norun"), r.out());
  }
}
