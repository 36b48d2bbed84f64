package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.compassci.sched.fixtures.EventStream;
import org.compassci.sched.fixtures.HttpCalls;
import org.compassci.sched.fixtures.HttpCalls.Answer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Watching, waiting, statistics and the dashboard, over real HTTP on loopback. */
class WatchEndToEndTest {

  static final String V1 = "/scheduler/v1";
  static final Duration WAIT = Duration.ofSeconds(10);
  static final String JOB = "{\"suite\":\"hackbench\",\"testbox\":\"vm-2p8g\",\"arch\":\"aarch64\","
      + "\"my_account\":\"alice\",\"my_token\":\"s3cret\"}";
  static final String BOX = "&arch=aarch64&tbox_type=vm,dc&freemem=16384";

  @TempDir Path dir;
  TestServer server;
  HttpCalls http;

  @BeforeEach
  void start() throws Exception {
    server = TestServer.start(dir, Map.of(
        "scheduler.watch.heartbeat", "300ms",
        "scheduler.watch.max-jobs", 5,
        // the wait that must see a dispatch and a report within it (two commits, on a cold JVM
        // sharing 2 cores) needs seconds on a slow machine; one call waits it out whole
        "scheduler.wait.timeout", "8s",
        "scheduler.stats.interval", "100ms",
        "pekko.http.parsing.max-uri-length", "16k"));
    http = server.http;
  }

  @AfterEach
  void stop() throws Exception {
    server.close();
  }

  private String submit(String job) {
    Answer a = http.post(V1 + "/jobs/submit", job);
    assertEquals(200, a.status(), a.body());
    return a.json().get(0).path("job_id").asText();
  }

  private String dispatch(String hostname) {
    Answer a = http.get(V1 + "/jobs/dispatch?hostname=" + hostname + BOX);
    assertEquals(200, a.status(), a.body());
    return a.json().path("id").asText();
  }

  private void update(String id, String query) {
    Answer a = http.post(V1 + "/jobs/" + id + "/update?" + query, "");
    assertEquals(200, a.status(), a.body());
  }

  private static EventStream.Event next(EventStream s, String name) {
    EventStream.Event e = s.next(WAIT);
    assertEquals(name, e.name(), "event " + e);
    return e;
  }

  /** Polls (at most 10 s) until {@code ok} holds for the answer. */
  private Answer eventually(String path, Predicate<Answer> ok) throws InterruptedException {
    Answer a = http.get(path);
    for (int i = 0; i < 100 && !ok.test(a); i++) {
      Thread.sleep(100);
      a = http.get(path);
    }
    assertTrue(ok.test(a), path + " answered " + a.body());
    return a;
  }

  @Test
  void aJobsStreamShowsItsStateThenEachChangeThenCloses() {
    String id = submit(JOB);
    try (EventStream s = http.events(V1 + "/jobs/" + id + "/events", true)) {
      assertEquals(200, s.status());
      assertTrue(s.contentType().startsWith("text/event-stream"), s.contentType());
      JsonNode first = next(s, "job").json();
      assertEquals(id, first.path("job_id").asText());
      assertEquals("submit", first.path("job_stage").asText());
      assertEquals("hackbench", first.path("suite").asText());

      assertEquals(id, dispatch("h1"));
      JsonNode handedOut = next(s, "job").json();
      assertEquals("dispatch", handedOut.path("job_stage").asText());
      assertEquals("h1", handedOut.path("host_machine").asText());
      assertFalse(handedOut.has("suite"), "only the changed fields: " + handedOut);

      update(id, "job_stage=running");
      assertEquals("running", next(s, "job").json().path("job_stage").asText());
      update(id, "job_stage=finish&job_health=success&job_data_readiness=norun");
      JsonNode last = next(s, "job").json();
      assertEquals("finish", last.path("job_stage").asText());
      assertEquals("success", last.path("job_health").asText());
      assertEquals(id, next(s, "close").json().path("job_id").asText());
      assertEquals(EventStream.END, s.next(WAIT), "the stream ends with its last job");
      assertTrue(s.comments() >= 0);
    }
  }

  @Test
  void aQuietStreamSendsHeartbeatsAndNoStreamLeaksASecret() throws Exception {
    String id = submit(JOB);
    try (EventStream s = http.events(V1 + "/jobs/" + id + "/events", true)) {
      EventStream.Event first = next(s, "job");
      assertFalse(first.data().contains("s3cret"), first.data());
      for (int i = 0; i < 50 && s.comments() < 2; i++) {
        Thread.sleep(100);
      }
      assertTrue(s.comments() >= 2, "heartbeats every 300 ms here, saw " + s.comments());
    }
  }

  @Test
  void oneStreamFollowsSeveralJobsAndClosesEachOnItsOwn() {
    String a = submit(JOB);
    String b = submit(JOB);
    try (EventStream s = http.events(V1 + "/events?job_ids=" + a + ",999," + b, true)) {
      Map<String, List<EventStream.Event>> byJob = new HashMap<>();
      for (int i = 0; i < 3; i++) {
        EventStream.Event e = s.next(WAIT);
        byJob.computeIfAbsent(e.json().path("job_id").asText(), k -> new ArrayList<>()).add(e);
      }
      assertEquals("close", byJob.get("999").get(0).name());
      assertTrue(byJob.get("999").get(0).json().path("error").asText().contains("does not exist"));
      assertEquals("submit", byJob.get(a).get(0).json().path("job_stage").asText());
      assertEquals("submit", byJob.get(b).get(0).json().path("job_stage").asText());

      assertEquals(200, http.post(V1 + "/jobs/" + a + "/cancel", "").status());
      JsonNode cancelled = next(s, "job").json();
      assertEquals(a, cancelled.path("job_id").asText());
      assertEquals("cancel", cancelled.path("job_stage").asText());
      assertEquals(a, next(s, "close").json().path("job_id").asText());

      assertEquals(b, dispatch("h2"));
      assertEquals("dispatch", next(s, "job").json().path("job_stage").asText());
      update(b, "job_stage=finish&job_health=fail&job_data_readiness=incomplete");
      assertEquals("fail", next(s, "job").json().path("job_health").asText());
      assertEquals(b, next(s, "close").json().path("job_id").asText());
      assertEquals(EventStream.END, s.next(WAIT));
    }
  }

  @Test
  void badStreamRequestsGetA4xx() {
    try (EventStream s = http.events(V1 + "/jobs/12345/events", true)) {
      assertEquals(404, s.status());
    }
    assertEquals(400, http.get(V1 + "/events?job_ids=1,x").status());
    assertEquals(400, http.get(V1 + "/events").status());
    Answer tooMany = http.get(V1 + "/events?job_ids=1,2,3,4,5,6");
    assertEquals(400, tooMany.status());
    assertTrue(tooMany.json().path("error").asText().contains("at most 5"), tooMany.body());
  }

  /**
   * A reader that stops reading while its job changes thousands of times: the server merges what
   * the reader missed into whole-state events instead of queueing every change.
   */
  @Test
  void aSlowReaderGetsMergedStateNotAnEndlessQueue() throws Exception {
    String id = submit(JOB);
    dispatch("h3");
    // 2,000 changes of 12 KB: more than every socket buffer between server and reader holds
    String filler = "x".repeat(12_000);
    int updates = 2000;
    try (EventStream s = http.events(V1 + "/jobs/" + id + "/events", false)) {
      Thread.sleep(300);
      List<CompletableFuture<Answer>> inFlight = new ArrayList<>();
      for (int i = 1; i <= updates; i++) {
        inFlight.add(http.postAsync(V1 + "/jobs/" + id + "/update?step_note=" + i + "-" + filler, ""));
        if (inFlight.size() == 16) {
          for (CompletableFuture<Answer> f : inFlight) {
            assertEquals(200, f.get(20, TimeUnit.SECONDS).status());
          }
          inFlight.clear();
        }
      }
      for (CompletableFuture<Answer> f : inFlight) {
        assertEquals(200, f.get(20, TimeUnit.SECONDS).status());
      }
      update(id, "job_stage=finish&job_health=success&job_data_readiness=norun");
      s.startReading();
      int jobEvents = 0;
      boolean sawWholeState = false;
      String lastNote = "";
      EventStream.Event e = s.next(WAIT);
      while (!e.name().equals("close")) {
        assertEquals("job", e.name());
        JsonNode data = e.json();
        jobEvents++;
        if (jobEvents > 1 && data.has("suite")) {
          sawWholeState = true;
        }
        if (data.has("step_note")) {
          lastNote = data.path("step_note").asText();
        }
        e = s.next(WAIT);
      }
      assertTrue(jobEvents < updates / 2, "merged, not queued: " + jobEvents + " events for " + updates + " changes");
      assertTrue(sawWholeState, "a reader that fell behind gets the whole state");
      // updates in flight together apply in any order: the newest is what the store has
      String stored = http.get(V1 + "/jobs/" + id + "?fields=step_note").json().path("step_note").asText();
      assertTrue(stored.equals(lastNote), "the stream ends with the newest state: "
          + lastNote.substring(0, Math.min(8, lastNote.length())) + " vs " + stored.substring(0, 8));
    }
  }

  @Test
  void waitAnswersWhenAConditionHoldsOrItsTimeRunsOut() throws Exception {
    String id = submit(JOB);
    Answer timedOut = http.post(V1 + "/jobs/wait", "{\"wait_on\":{\"" + id + "\":{\"job_stage\":\"running\"}}}");
    assertEquals(200, timedOut.status(), timedOut.body());
    assertTrue(timedOut.json().path("wait_on").has(id), timedOut.body());
    assertEquals("submit", timedOut.json().path("waited_jobs").path(id).path("job_stage").asText());

    CompletableFuture<Answer> waiting = http.postAsync(V1 + "/jobs/wait",
        "{\"wait_on\":{\"" + id + "\":{\"job_stage\":\"dispatch\"},\"424242\":null}}");
    Answer unknownFirst = waiting.get(10, TimeUnit.SECONDS);
    JsonNode unknownEntry = unknownFirst.json().path("waited_jobs").path("424242");
    assertTrue(unknownEntry.has("job_stage") && unknownEntry.get("job_stage").isNull()
        && unknownEntry.has("job_health") && unknownEntry.has("job_data_readiness"),
        "the shape of any entry: " + unknownEntry);
    assertTrue(unknownFirst.json().path("waited_jobs").path("424242").path("error").asText().contains("does not exist"),
        "an unknown job is reported at once: " + unknownFirst.body());
    assertFalse(unknownFirst.json().path("wait_on").has("424242"));

    waiting = http.postAsync(V1 + "/jobs/wait", "{\"wait_on\":{\"" + id + "\":{\"job_stage\":\"boot\"}}}");
    dispatch("h4");
    update(id, "job_stage=running");
    Answer held = waiting.get(20, TimeUnit.SECONDS);
    JsonNode body = held.json();
    assertEquals(0, body.path("wait_on").size(), held.body());
    assertTrue(List.of("boot", "running").contains(body.path("waited_jobs").path(id).path("job_stage").asText()), held.body());

    update(id, "job_stage=finish&job_health=fail&job_data_readiness=incomplete");
    Answer never = http.post(V1 + "/jobs/wait", "{\"wait_on\":{\"" + id + "\":null}}");
    assertEquals(0, never.json().path("wait_on").size(), "incomplete data never becomes complete: " + never.body());
    assertEquals("incomplete", never.json().path("waited_jobs").path(id).path("job_data_readiness").asText());
  }

  @Test
  void badWaitsGet400() {
    for (String bad : List.of("{", "{}", "{\"wait_on\":{}}", "{\"wait_on\":{\"x\":null}}",
        "{\"wait_on\":{\"1\":{\"job_stage\":\"sideways\"}}}", "{\"wait_on\":{\"1\":\"finish\"}}",
        "{\"wait_on\":{\"1\":null,\"2\":null,\"3\":null,\"4\":null,\"5\":null,\"6\":null}}")) {
      Answer a = http.post(V1 + "/jobs/wait", bad);
      assertEquals(400, a.status(), bad + " -> " + a.body());
      assertFalse(a.json().path("error").asText().isEmpty(), a.body());
    }
  }

  @Test
  void metricsAndTheDashboardCountWhatHappened() throws Exception {
    String a = submit(JOB);
    String b = submit(JOB.replace("alice", "bob").replace("vm-2p8g", "vm-4p16g"));
    // 9 GB free: only alice's 8 GB job fits
    Answer first = http.get(V1 + "/jobs/dispatch?hostname=h5&arch=aarch64&tbox_type=vm&freemem=9000");
    assertEquals(a, first.json().path("id").asText(), first.body());
    assertEquals(204, http.get(V1 + "/jobs/dispatch?hostname=x9&arch=riscv64").status());
    update(a, "job_stage=finish&job_health=fail&job_data_readiness=norun");

    Answer metrics = eventually("/metrics", m -> m.body().contains("scheduler_jobs_finished_total{health=\"fail\"} 1.0"));
    String text = metrics.body();
    String type = metrics.raw().headers().firstValue("Content-Type").orElse("");
    assertTrue(type.startsWith("text/plain") && type.contains("version=0.0.4"), "Prometheus's text format: " + type);
    assertTrue(text.contains("scheduler_jobs_submitted_total 2.0"), text);
    assertTrue(text.contains("scheduler_jobs_dispatched_total 1.0"), text);
    assertTrue(text.contains("scheduler_dispatch_requests_total{result=\"none\"} 1.0"), text);
    assertTrue(text.contains("scheduler_dispatch_requests_total{result=\"job\"} 1.0"), text);
    assertTrue(text.contains("scheduler_job_wait_seconds_count 1"), text);
    assertTrue(text.contains("scheduler_jobs_pending 1.0"), text);
    assertTrue(text.contains("scheduler_jobs_pending_by_account{my_account=\"bob\"} 1.0"), text);
    assertTrue(text.contains("scheduler_jobs_pending_by_group{tbox_group=\"vm-4p16g\"} 1.0"), text);
    assertFalse(text.contains("my_account=\"alice\""), "alice has nothing queued: " + text);
    assertTrue(text.contains("jvm_memory_used_bytes"), "JVM meters too");

    JsonNode stats = http.get(V1 + "/dashboard/stats").json();
    assertEquals(2, stats.path("submitted").asInt());
    assertEquals(1, stats.path("finished").path("fail").asInt());
    assertEquals(1, stats.path("pending").asInt());

    assertEquals(b, dispatch("h6"));
    JsonNode running = eventually(V1 + "/dashboard/jobs/running", r -> r.json().path("total").asInt() == 1).json();
    assertEquals(b, running.path("jobs").get(0).path("job_id").asText());
    assertEquals("h6", running.path("jobs").get(0).path("testbox").asText());
    assertEquals("bob", running.path("jobs").get(0).path("tenant").asText());
    assertEquals(1, running.path("by_stage").path("dispatch").asInt());
    assertEquals(400, http.get(V1 + "/dashboard/jobs/running?limit=0").status());
    assertEquals(400, http.get(V1 + "/dashboard/jobs/running?offset=x").status());
  }

  @Test
  void aBoxsCurrentJobClearsWhenTheJobEnds() throws Exception {
    String id = submit(JOB);
    dispatch("h7");
    // the registry hears of the hand-out from the lifecycle, beside the box's answer: not before it
    eventually(V1 + "/hosts/h7", h -> id.equals(h.json().path("current_job").asText()));
    update(id, "job_stage=finish&job_health=success");
    JsonNode after = eventually(V1 + "/hosts/h7", h -> !h.json().has("current_job")).json();
    assertEquals(id, after.path("last_job").asText());
  }

  @Test
  void managementListsTheWatchAndStatsActors() {
    JsonNode actors = http.get(V1 + "/manage/actors").json().path("actors");
    List<String> names = new ArrayList<>();
    actors.forEach(a -> names.add(a.path("name").asText()));
    assertTrue(names.containsAll(List.of("matcher", "lifecycle", "persistence", "extract", "hosts",
        "watch", "stats", "providers", "uploads")), names.toString());
    actors.forEach(a -> assertEquals(0, a.path("restarts").asInt(-1), a.toString()));
    String metrics = http.get("/metrics").body();
    for (String name : names) {
      assertTrue(metrics.contains("scheduler_actor_restarts_total{actor=\"" + name + "\"} 0.0"), metrics);
    }
  }

  /**
   * Open dashboards share one summary a second: the actors are asked for it once a second
   * whatever the number of pages open (each page's first summary is its own). Before, each page
   * asked the seven questions of a summary every second on its own.
   */
  @Test
  void openDashboardsShareOneSummaryASecond() throws Exception {
    List<EventStream> pages = new ArrayList<>();
    try {
      for (int i = 0; i < 16; i++) {
        pages.add(http.events(V1 + "/dashboard/events", true));
      }
      for (EventStream page : pages) {
        assertEquals("summary", next(page, "summary").name());
      }
      long before = summariesAsked();
      Thread.sleep(3000);
      long asked = summariesAsked() - before;
      // at most one summary each second of the window, and one more for the tick at its edge
      assertTrue(asked <= 5, asked + " summaries gathered in 3 s for 16 pages");
      // and the pages still hear of a change
      submit(JOB);
      for (EventStream page : pages) {
        EventStream.Event e = next(page, "summary");
        while (e.json().path("pending").path("total").asInt() != 1) {
          e = next(page, "summary");
        }
      }
    } finally {
      pages.forEach(EventStream::close);
    }
  }

  /** The summaries gathered so far: the stats actor's messages (it hears nothing else here). */
  private long summariesAsked() {
    for (JsonNode a : http.get(V1 + "/manage/actors").json().path("actors")) {
      if (a.path("name").asText().equals("stats")) {
        return a.path("messages").asLong();
      }
    }
    throw new AssertionError("no stats actor");
  }
}
