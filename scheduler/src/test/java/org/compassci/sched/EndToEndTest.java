package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.compassci.sched.config.SchedulerSettings;
import org.compassci.sched.fixtures.HttpCalls;
import org.compassci.sched.fixtures.HttpCalls.Answer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real server on a free loopback port, with the real embedded store in a temporary folder.
 * Cases that hang on time (long polls, the dispatch-ack, stage timeouts) are in the testkit
 * module's EndToEndKitTest, on manual time.
 */
class EndToEndTest {

  static final String JOB = "{\"suite\":\"hackbench\",\"testbox\":\"vm-2p8g\",\"arch\":\"aarch64\","
      + "\"my_account\":\"alice\",\"my_token\":\"s3cret\"}";
  static final String V1 = "/scheduler/v1";

  @TempDir Path dir;

  private SchedulerApp.Running start() throws Exception {
    return start(Map.of());
  }

  private TestServer server;

  private SchedulerApp.Running start(Map<String, Object> overrides) throws Exception {
    server = TestServer.start(dir, overrides);
    return server.running;
  }

  /** A client with the admin's token: these tests are about jobs, not about who may call. */
  private static HttpCalls client(SchedulerApp.Running r) {
    return new HttpCalls("127.0.0.1", r.address().getPort()).withToken(TestServer.ADMIN_TOKEN);
  }

  private static void stop(SchedulerApp.Running r) throws Exception {
    r.stop().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  /**
   * lkp-renew on a box asks get_deadline by the box's name, and keeps asking across a restart of
   * the scheduler: the box is known again from the job it holds, before it next asks for a job.
   * A box registered by hand is known again as registered.
   */
  @Test
  void boxesAreKnownAgainAfterARestart() throws Exception {
    SchedulerApp.Running server = start();
    HttpCalls http = client(server);
    try {
      String id = http.post(V1 + "/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"dc-8g\"}")
          .json().get(0).path("job_id").asText();
      Answer handed = http.get(V1 + "/jobs/dispatch?hostname=r1&tbox_type=dc");
      assertEquals(id, handed.json().path("id").asText(), handed.body());
      String token = handed.json().path("job_token").asText();
      assertEquals(200, http.post(V1 + "/jobs/" + id + "/update?job_stage=running&job_token=" + token, "").status());
      Answer renewed = http.get("/renew_deadline?job_id=" + id + "&time=86400");
      assertEquals(200, renewed.status(), renewed.body());
      assertEquals(renewed.body(), http.get("/get_deadline?testbox=r1").body());
      assertEquals(200, http.post(V1 + "/hosts/bm9?arch=aarch64&memory=4096&mac_addr=52:54:00:00:00:09", "").status());
      stop(server);

      server = start();
      http = client(server);
      Answer after = http.get("/get_deadline?testbox=r1");
      for (long end = System.nanoTime() + 10_000_000_000L; after.status() != 200 && System.nanoTime() < end; ) {
        // the lifecycle reads the jobs on boxes back from the store just after the start
        Thread.sleep(50);
        after = http.get("/get_deadline?testbox=r1");
      }
      assertEquals(200, after.status(), after.body());
      assertEquals(renewed.body(), after.body());
      // the host registry reads its boxes back on its own, answering 404 until then
      Answer r1 = http.get(V1 + "/hosts/r1");
      Answer bm9Read = http.get(V1 + "/hosts/bm9");
      for (long end = System.nanoTime() + 10_000_000_000L;
          (r1.status() != 200 || bm9Read.status() != 200) && System.nanoTime() < end; ) {
        Thread.sleep(50);
        r1 = http.get(V1 + "/hosts/r1");
        bm9Read = http.get(V1 + "/hosts/bm9");
      }
      assertEquals(id, r1.json().path("current_job").asText(), r1.body());
      JsonNode bm9 = bm9Read.json();
      assertEquals("aarch64", bm9.path("arch").asText(), bm9.toString());
      assertEquals(4096, bm9.path("memory").asLong(), bm9.toString());
      assertEquals("52:54:00:00:00:09", bm9.path("mac_addr").get(0).asText(), bm9.toString());
    } finally {
      stop(server);
    }
  }

  @Test
  void aJobWalksFromSubmitToFinishAndAQueuedJobSurvivesARestart() throws Exception {
    SchedulerApp.Running server = start();
    HttpCalls http = client(server);
    List<String> answers = new ArrayList<>();
    try {
      Answer health = http.get(V1 + "/health");
      assertEquals(200, health.status());
      assertEquals("embedded", health.json().path("store").asText());

      Answer submitted = http.post(V1 + "/jobs/submit", JOB);
      answers.add(submitted.body());
      assertEquals(200, submitted.status(), submitted.body());
      JsonNode first = submitted.json().get(0);
      String id = first.path("job_id").asText();
      assertEquals("", first.path("message").asText());
      assertEquals("submit", first.path("job_state").asText());
      assertTrue(first.path("result_root").asText().endsWith("/" + id), first.toString());

      Answer x1 = http.get(V1 + "/jobs/dispatch?hostname=x1&arch=x86_64&tbox_type=vm,dc&freemem=16384");
      Answer s1 = http.get(V1 + "/jobs/dispatch?hostname=s1&arch=aarch64&tbox_type=vm,dc&freemem=4096");
      assertEquals(204, x1.status(), "other arch");
      assertEquals(204, s1.status(), "too little memory");
      Answer h1 = http.get(V1 + "/jobs/dispatch?hostname=h1&arch=aarch64&tbox_type=vm,dc&freemem=16384");
      answers.add(h1.body());
      assertEquals(200, h1.status());
      assertEquals(id, h1.json().path("id").asText());
      assertEquals("dispatch", h1.json().path("job_stage").asText());
      assertFalse(h1.json().path("job_token").asText().isEmpty());
      assertEquals(204, http.get(V1 + "/jobs/dispatch?hostname=h2&arch=aarch64&tbox_type=vm&freemem=16384").status());

      Answer running = http.get("/~lkp/cgi-bin/lkp-jobfile-append-var?job_file=/lkp/scheduled/job.yaml&job_id="
          + id + "&job_state=running&loadavg=0.28%200.82%200.49%201/105%203389&start_time=1587725398");
      assertEquals(200, running.status());
      Answer back = http.post(V1 + "/jobs/" + id + "/update?job_stage=boot", "");
      assertEquals(409, back.status(), "stages never go back: " + back.body());
      Answer read = http.get(V1 + "/jobs/" + id);
      answers.add(read.body());
      assertEquals("running", read.json().path("job_stage").asText());
      assertEquals("0.28 0.82 0.49 1/105 3389", read.json().path("loadavg").asText());

      assertEquals(200, http.get("/~lkp/cgi-bin/set-job-stage?job_file=/x&job_id=" + id + "&job_stage=on_fail").status());
      assertEquals(200, http.get("/~lkp/cgi-bin/report-job-step?job_file=/x&job_id=" + id + "&job_step=smoke").status());
      assertEquals(200, http.get("/~lkp/cgi-bin/lkp-wtmp?job_id=" + id + "&state=x").status());
      // the testbox uploaded its results: lkp-post-run has them extracted into the job's stats
      java.nio.file.Path folder = dir.resolve("results").resolve(
          first.path("result_root").asText().substring("/result/".length()));
      java.nio.file.Files.createDirectories(folder);
      java.nio.file.Files.writeString(folder.resolve("stats.json"), "{\"hackbench.throughput\": 52012}");
      assertEquals(200, http.get("/~lkp/cgi-bin/lkp-post-run?job_file=/x&job_id=" + id).status());
      JsonNode complete = awaitField(http, id, "job_data_readiness", "complete");
      assertEquals(52012, complete.path("stats").path("hackbench.throughput").asInt());
      Answer finished = http.get(V1 + "/jobs/" + id + "?fields=job_stage,job_step,last_reported_state");
      answers.add(finished.body());
      assertEquals("finish", finished.json().path("job_stage").asText());
      assertEquals("smoke", finished.json().path("job_step").asText());
      assertEquals("on_fail", finished.json().path("last_reported_state").asText());
      assertEquals(3, finished.json().size(), "fields= trims the answer");

      Answer late = http.post(V1 + "/jobs/" + id + "/update?job_stage=running", "");
      assertEquals(423, late.status(), "finished and complete: " + late.body());
      assertTrue(late.json().path("error").asText().contains("finish"));
      // a value no job could take is bad input before it is a late one
      Answer bad = http.post(V1 + "/jobs/" + id + "/update?job_stage=sideways", "");
      assertEquals(400, bad.status(), bad.body());
      assertTrue(bad.json().path("error").asText().contains("sideways"), bad.body());
      Answer badWait = http.post(V1 + "/jobs/wait", "{\"wait_on\":{\"" + id + "\":{\"job_stage\":5}}}");
      assertEquals(400, badWait.status(), badWait.body());
      assertTrue(badWait.json().path("error").asText().contains("not 5"), badWait.body());

      Answer queued = http.post(V1 + "/jobs/submit", "[{\"suite\":\"later\",\"testbox\":\"dc-8g\"}]");
      assertEquals(200, queued.status());
      String laterId = queued.json().get(0).path("job_id").asText();
      for (String a : answers) {
        assertFalse(a.contains("s3cret"), a);
      }
      stop(server);

      server = start();
      http = client(server);
      Answer afterRestart = http.get(V1 + "/jobs/dispatch?hostname=d1&arch=x86_64&tbox_type=dc&freemem=9000");
      assertEquals(200, afterRestart.status());
      assertEquals(laterId, afterRestart.json().path("id").asText());
      assertEquals("finish", http.get(V1 + "/jobs/" + id).json().path("job_stage").asText());
      assertEquals(423, http.post(V1 + "/jobs/" + id + "/update?job_stage=running", "").status());
    } finally {
      stop(server);
    }
  }

  /**
   * Once a job runs, an update may set what it was submitted with to values a submit would
   * refuse (the legacy calls take anyone's). The running list reads every job held out, and
   * such a job failed the lifecycle actor at each call: 503 for the list, a restart each time.
   */
  @Test
  void aJobUpdatedWithValuesASubmitRefusesStaysOnTheRunningList() throws Exception {
    SchedulerApp.Running server = start();
    HttpCalls http = client(server);
    try {
      String id = http.post(V1 + "/jobs/submit", JOB).json().get(0).path("job_id").asText();
      assertEquals(200, http.get(V1 + "/jobs/dispatch?hostname=h1&arch=aarch64&tbox_type=vm&freemem=16384").status());
      assertEquals(200, http.get("/~lkp/cgi-bin/set-job-stage?job_file=/x&job_id=" + id + "&job_stage=running").status());
      assertEquals(200, http.get("/~lkp/cgi-bin/lkp-jobfile-append-var?job_file=/x&job_id=" + id
          + "&memory=lots&suite=&runtime=-1").status());
      assertEquals("lots", http.get(V1 + "/jobs/" + id).json().path("memory").asText());
      for (int call = 0; call < 2; call++) {
        Answer running = http.get(V1 + "/dashboard/jobs/running");
        assertEquals(200, running.status(), running.body());
        assertEquals(id, running.json().path("jobs").get(0).path("job_id").asText(), running.body());
        assertEquals("alice", running.json().path("jobs").get(0).path("tenant").asText(), running.body());
      }
      JsonNode actors = http.get(V1 + "/manage/actors").json().path("actors");
      assertTrue(actors.size() > 0, actors.toString());
      for (JsonNode actor : actors) {
        assertEquals(0, actor.path("restarts").asInt(), actor.toString());
      }
    } finally {
      stop(server);
    }
  }

  @Test
  void badInputGetsAClear4xxAndChangesNothing() throws Exception {
    SchedulerApp.Running server = start();
    HttpCalls http = client(server);
    try {
      Answer malformed = http.post(V1 + "/jobs/submit", "{\"suite\":");
      assertEquals(400, malformed.status());
      assertEquals("0", malformed.json().get(0).path("job_id").asText());
      assertTrue(malformed.json().get(0).path("message").asText().startsWith("malformed JSON"));

      Answer oneBad = http.post(V1 + "/jobs/submit",
          "[{\"suite\":\"ok\",\"testbox\":\"dc-8g\"},{\"suite\":\"no box\"}]");
      assertEquals(400, oneBad.status());
      assertEquals(2, oneBad.json().size());
      assertTrue(oneBad.json().get(1).path("message").asText().startsWith("testbox"));
      assertEquals(204, http.get(V1 + "/jobs/dispatch?hostname=d1&tbox_type=dc").status(),
          "the good job of a refused batch was not stored");

      assertEquals(400, http.post(V1 + "/jobs/submit", "42").status());
      assertEquals(400, http.post(V1 + "/jobs/submit", "[]").status());
      // a shape of more memory than a long holds: 400 naming it (it was a 500), in JSON and YAML
      Answer huge = http.post(V1 + "/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"vm-99999999999999999999g\"}");
      assertEquals(400, huge.status(), huge.body());
      assertTrue(huge.json().get(0).path("message").asText().contains("more memory than any testbox has"), huge.body());
      Answer hugeYaml = http.send("POST", V1 + "/jobs/submit", "suite: s\ntestbox: dc-9999999999999999g\n",
          "Content-Type", "application/yaml");
      assertEquals(400, hugeYaml.status(), hugeYaml.body());
      assertTrue(hugeYaml.body().contains("more memory than any testbox has"), hugeYaml.body());
      assertEquals(413, http.post(V1 + "/jobs/submit", "[" + "1,".repeat(600_000) + "1]").status());
      // a call that takes no body, with one over the limit: refused before it is carried out
      String kept = http.post(V1 + "/jobs/submit", "{\"suite\":\"kept\",\"testbox\":\"kept\"}").json().get(0)
          .path("job_id").asText();
      Answer bulky = http.post(V1 + "/jobs/" + kept + "/cancel", "x".repeat(1_100_000));
      assertEquals(413, bulky.status(), bulky.body());
      assertTrue(bulky.body().contains("scheduler.http.max-body"), bulky.body());
      assertEquals("submit", http.get(V1 + "/jobs/" + kept).json().path("job_stage").asText(), "not cancelled");
      assertEquals(200, http.post(V1 + "/jobs/" + kept + "/cancel", "").status());
      assertEquals(400, http.get(V1 + "/jobs/dispatch?arch=x86_64").status());
      assertEquals(400, http.get(V1 + "/jobs/dispatch?hostname=a&freemem=lots").status());
      assertEquals(400, http.get(V1 + "/jobs/dispatch?hostname=a&tbox_type=vx").status());
      // hw, vm, dc or vm,dc: a physical box is never also a VM host in one ask
      for (String bad : List.of("hw,vm", "dc,hw", "vm,", ",dc")) {
        Answer refused = http.get(V1 + "/jobs/dispatch?hostname=a&tbox_type=" + bad);
        assertEquals(400, refused.status(), bad + ": " + refused.body());
        assertTrue(refused.body().contains("tbox_type"), refused.body());
      }
      assertEquals(204, http.get(V1 + "/jobs/dispatch?hostname=a&tbox_type=dc,vm").status());
      assertEquals(400, http.get(V1 + "/jobs/dispatch?hostname=a&wait=61").status());
      assertEquals(400, http.get(V1 + "/jobs/dispatch?hostname=a&tags=novalue").status());
      // a hostname is stored and shown: one plain name, or 400 and nothing recorded
      for (String bad : List.of("bad%2Fhost", "%0Aevil%20host%3Cb%3E", "a".repeat(300), "..")) {
        Answer refused = http.get(V1 + "/jobs/dispatch?hostname=" + bad);
        assertEquals(400, refused.status(), bad + ": " + refused.body());
        assertTrue(refused.body().contains("hostname"), refused.body());
      }
      assertEquals(400, http.get(V1 + "/jobs/dispatch?hostname=a&arch=x86%2F64").status());
      assertEquals(400, http.get(V1 + "/jobs/dispatch?hostname=a&tbox_group=..%2Fetc").status());
      assertTrue(http.get(V1 + "/dashboard/hosts").body().indexOf("evil") < 0, "a refused box is not listed");
      assertEquals(404, http.get(V1 + "/jobs/12345").status());
      assertEquals(404, http.post(V1 + "/jobs/12345/update?job_stage=running", "").status());
      assertEquals(404, http.get("/~lkp/cgi-bin/lkp-post-run?job_id=12345").status());
      assertEquals(404, http.get("/~lkp/cgi-bin/lkp-post-run?job_id=abc").status());

      String id = http.post(V1 + "/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"dc-8g\"}")
          .json().get(0).path("job_id").asText();
      assertEquals(409, http.post(V1 + "/jobs/" + id + "/update?job_stage=running", "").status(),
          "a queued job takes no updates");
      String dispatched = http.get(V1 + "/jobs/dispatch?hostname=d1&tbox_type=dc").json().path("id").asText();
      assertEquals(id, dispatched);
      assertEquals(400, http.post(V1 + "/jobs/" + id + "/update?job_stage=flying", "").status());
      assertEquals(400, http.post(V1 + "/jobs/" + id + "/update?result_root=/etc", "").status());
      assertEquals(400, http.post(V1 + "/jobs/" + id + "/update", "").status());
      JsonNode job = http.get(V1 + "/jobs/" + id).json();
      assertEquals("dispatch", job.path("job_stage").asText());
      assertTrue(job.path("result_root").asText().startsWith("/result/"));

      assertEquals(409, http.post(V1 + "/jobs/" + id + "/cancel", "").status(), "past submit");
      String other = http.post(V1 + "/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"dc-8g\"}")
          .json().get(0).path("job_id").asText();
      Answer cancelled = http.post(V1 + "/jobs/" + other + "/cancel", "");
      assertEquals(200, cancelled.status());
      assertEquals("cancel", cancelled.json().path("job_stage").asText());
      assertEquals(204, http.get(V1 + "/jobs/dispatch?hostname=d1&tbox_type=dc").status());
      assertEquals(404, http.post(V1 + "/jobs/999/cancel", "").status());
    } finally {
      stop(server);
    }
  }

  @Test
  void fiftyBoxesAskingAtOnceOverHttpNeverReceiveTheSameJob() throws Exception {
    SchedulerApp.Running server = start();
    HttpCalls http = client(server);
    try {
      StringBuilder batch = new StringBuilder("[");
      for (int i = 0; i < 300; i++) {
        batch.append(i == 0 ? "" : ",").append("{\"suite\":\"s").append(i).append("\",\"testbox\":\"dc-8g\"}");
      }
      Answer submitted = http.post(V1 + "/jobs/submit", batch.append("]").toString());
      assertEquals(200, submitted.status());
      Set<String> ids = new HashSet<>();
      submitted.json().forEach(j -> ids.add(j.path("job_id").asText()));
      assertEquals(300, ids.size());

      List<CompletableFuture<Answer>> calls = new ArrayList<>();
      for (int round = 0; round < 7; round++) {
        for (int box = 0; box < 50; box++) {
          calls.add(http.getAsync(V1 + "/jobs/dispatch?hostname=box" + box + "&tbox_type=dc"));
        }
      }
      List<String> handed = new ArrayList<>();
      int empty = 0;
      for (CompletableFuture<Answer> c : calls) {
        Answer a = c.get(60, TimeUnit.SECONDS);
        if (a.status() == 200) {
          handed.add(a.json().path("id").asText());
        } else {
          assertEquals(204, a.status(), a.body());
          empty++;
        }
      }
      assertEquals(300, handed.size());
      assertEquals(50, empty);
      assertEquals(ids, new HashSet<>(handed), "every job went out exactly once");
    } finally {
      stop(server);
    }
  }

  @Test
  void pendingCountsAndExplainShowWhyAJobWaits() throws Exception {
    SchedulerApp.Running server = start();
    HttpCalls http = client(server);
    try {
      String id = http.post(V1 + "/jobs/submit", "[{\"suite\":\"a\",\"testbox\":\"vm-2p8g\",\"arch\":\"aarch64\",\"my_account\":\"alice\"},"
          + "{\"suite\":\"b\",\"testbox\":\"vm-2p8g\",\"arch\":\"aarch64\",\"my_account\":\"alice\"},"
          + "{\"suite\":\"c\",\"testbox\":\"taishan200\",\"my_account\":\"bob\",\"queue\":\"bisect\"}]")
          .json().get(1).path("job_id").asText();
      JsonNode byAccount = http.get(V1 + "/dashboard/jobs/pending?group_by=my_account").json();
      assertEquals(3, byAccount.path("total").asInt());
      assertEquals(2, byAccount.path("groups").path("alice").asInt());
      assertEquals(1, http.get(V1 + "/dashboard/jobs/pending?group_by=queue").json().path("groups").path("bisect").asInt());
      assertEquals(204, http.get(V1 + "/jobs/dispatch?hostname=s1&arch=aarch64&tbox_type=vm,dc&freemem=4096").status());
      assertEquals(204, http.get(V1 + "/jobs/dispatch?hostname=x1&arch=x86_64&tbox_type=vm&freemem=16384").status());
      JsonNode why = http.get(V1 + "/manage/explain/" + id).json();
      assertEquals(2, why.path("place_in_tenant_queue").asInt());
      assertEquals(8192, why.path("requirements").path("memory_mb").asInt());
      assertEquals(2, why.path("boxes_known").asInt());
      assertEquals(1, why.path("boxes_fit_tags").asInt());
      assertEquals(0, why.path("boxes_fit_memory").asInt());
      assertEquals(1, why.path("rejections").path("insufficient_memory").asInt());
      assertEquals(1, why.path("rejections").path("missing_tag arch=aarch64").asInt());
      assertEquals(404, http.get(V1 + "/manage/explain/42").status());
      JsonNode actors = http.get(V1 + "/manage/actors").json().path("actors");
      assertEquals(11, actors.size(),
          "matcher, lifecycle, persistence, extract, hosts, watch, stats, providers, uploads, accounts, idempotency");
      assertEquals("accounts", actors.get(9).path("name").asText());
      assertEquals("matcher", actors.get(0).path("name").asText());
      assertEquals(3, actors.get(0).path("holds").path("queued_jobs").asInt());
      assertTrue(actors.get(0).path("messages").asLong() >= 3);
      assertEquals("persistence", actors.get(2).path("name").asText());
      assertEquals(1, actors.get(2).path("holds").path("store_reachable").asInt());
    } finally {
      stop(server);
    }
  }

  /** Polls the job until {@code field} has {@code value}, at most 15 s. */
  private static JsonNode awaitField(HttpCalls http, String id, String field, String value)
      throws InterruptedException {
    JsonNode job = null;
    for (int i = 0; i < 150; i++) {
      job = http.get(V1 + "/jobs/" + id).json();
      if (value.equals(job.path(field).asText())) {
        return job;
      }
      Thread.sleep(100);
    }
    throw new AssertionError("job " + id + " never had " + field + "=" + value + ": " + job);
  }

  /** The contract sets no length: a short admin token is taken, with a warning that never shows it. */
  @Test
  void aShortAdminTokenIsTakenWithAWarning() throws Exception {
    SchedulerApp.Running server;
    try (org.compassci.sched.persistence.LogLines lines = org.compassci.sched.persistence.LogLines.of(SchedulerApp.class)) {
      server = start(Map.of("scheduler.admin-token", "tok-7q"));
      assertTrue(lines.messages().stream().anyMatch(m -> m.startsWith("SCHED_ADMIN_TOKEN is shorter than 16 characters")),
          lines.messages().toString());
      assertTrue(lines.messages().stream().noneMatch(m -> m.contains("tok-7q")), "the token itself is never logged");
    }
    try {
      java.net.http.HttpClient c = java.net.http.HttpClient.newHttpClient();
      java.net.URI uri = java.net.URI.create("http://127.0.0.1:" + server.address().getPort() + V1 + "/manage/actors");
      assertEquals(200, c.send(java.net.http.HttpRequest.newBuilder(uri).header("Authorization", "Bearer tok-7q").build(),
          java.net.http.HttpResponse.BodyHandlers.ofString()).statusCode());
      assertEquals(401, c.send(java.net.http.HttpRequest.newBuilder(uri).header("Authorization", "Bearer tok-7Q").build(),
          java.net.http.HttpResponse.BodyHandlers.ofString()).statusCode());
    } finally {
      stop(server);
    }
  }

  @Test
  void managementNeedsAnAdminsToken() throws Exception {
    SchedulerApp.Running server = start(Map.of("scheduler.admin-token", "sekret-sekret-sekret"));
    try {
      java.net.http.HttpClient c = java.net.http.HttpClient.newHttpClient();
      java.net.URI uri = java.net.URI.create("http://127.0.0.1:" + server.address().getPort() + V1 + "/manage/actors");
      assertEquals(401, c.send(java.net.http.HttpRequest.newBuilder(uri).build(),
          java.net.http.HttpResponse.BodyHandlers.ofString()).statusCode());
      assertEquals(401, c.send(java.net.http.HttpRequest.newBuilder(uri).header("Authorization", "Bearer wrong").build(),
          java.net.http.HttpResponse.BodyHandlers.ofString()).statusCode(), "a wrong token is no credential");
      String user = this.server.addAccount("bob", "user");
      assertEquals(403, c.send(java.net.http.HttpRequest.newBuilder(uri).header("Authorization", "Bearer " + user).build(),
          java.net.http.HttpResponse.BodyHandlers.ofString()).statusCode(), "a user is no admin");
      assertEquals(200, c.send(java.net.http.HttpRequest.newBuilder(uri).header("Authorization", "Bearer sekret-sekret-sekret").build(),
          java.net.http.HttpResponse.BodyHandlers.ofString()).statusCode());
      assertEquals(200, client(server).get(V1 + "/dashboard/jobs/pending").status(), "dashboard counts need no token");
    } finally {
      stop(server);
    }
  }

  @Test
  void testboxesRegisterAndShowOnTheDashboard() throws Exception {
    SchedulerApp.Running server = start();
    HttpCalls http = client(server);
    try {
      Answer reg = http.post(V1 + "/hosts/taishan200--a61?arch=aarch64&tbox_type=hw&memory=262144&tags=nic=mlx5", "");
      assertEquals(200, reg.status(), reg.body());
      assertEquals(262144, reg.json().path("memory").asLong());
      assertEquals(400, http.post(V1 + "/hosts/x?tbox_type=xx", "").status());
      assertEquals(400, http.post(V1 + "/hosts/x?memory=lots", "").status());
      assertEquals(400, http.post(V1 + "/hosts/x%20y", "").status());
      assertEquals(404, http.get(V1 + "/hosts/unknown").status());
      String id = http.post(V1 + "/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"taishan200\",\"arch\":\"aarch64\"}")
          .json().get(0).path("job_id").asText();
      assertEquals(200, http.get(V1 + "/jobs/dispatch?hostname=taishan200--a61&arch=aarch64&freemem=200000").status());
      JsonNode host = http.get(V1 + "/hosts/taishan200--a61").json();
      assertEquals(id, host.path("current_job").asText());
      assertEquals(200000, host.path("free_memory_mb").asLong());
      JsonNode board = http.get(V1 + "/dashboard/hosts").json();
      assertEquals(1, board.path("total").asInt());
      assertTrue(board.path("hosts").get(0).path("online").asBoolean());
      assertFalse(board.path("hosts").get(0).path("last_contact").asText().isEmpty());
      // the same fields as a JSON object; the query's win
      Answer byBody = http.post(V1 + "/hosts/box3?memory=2048",
          "{\"arch\":\"x86_64\",\"memory\":4096,\"tbox_type\":\"vm\",\"tags\":[\"nic=mlx5\",\"disk=ssd\"]}");
      assertEquals(200, byBody.status(), byBody.body());
      JsonNode box3 = http.get(V1 + "/hosts/box3").json();
      assertEquals("x86_64", box3.path("arch").asText(), box3.toString());
      assertEquals(2048, box3.path("memory").asLong(), box3.toString());
      assertTrue(box3.toString().contains("disk=ssd"), box3.toString());
      assertEquals(400, http.post(V1 + "/hosts/box4", "{\"tbox_type\":\"xx\"}").status());
      assertEquals(400, http.post(V1 + "/hosts/box4", "[1]").status());
      // a form, as curl -d sends it
      assertEquals(200, http.post(V1 + "/hosts/box5", "arch=riscv64&memory=2048&tags=a%3Db").status());
      JsonNode box5 = http.get(V1 + "/hosts/box5").json();
      assertEquals("riscv64", box5.path("arch").asText(), box5.toString());
      assertEquals(2048, box5.path("memory").asLong(), box5.toString());
      assertEquals(400, http.post(V1 + "/hosts/box4", "arch").status());
      // as curl -d tags=nic=mlx5 --data-urlencode tbox_group=vm+2 sends them: '=' in a value,
      // %2B a '+', and a bare '+' a space (which a tbox_group may not hold)
      Answer box6Reg = http.post(V1 + "/hosts/box6", "arch=x86_64&tags=nic=mlx5&tbox_group=vm%2B2");
      assertEquals(200, box6Reg.status(), box6Reg.body());
      JsonNode box6 = http.get(V1 + "/hosts/box6").json();
      assertTrue(box6.toString().contains("nic=mlx5"), box6.toString());
      assertEquals("vm+2", box6.path("tbox_group").asText(), box6.toString());
      Answer spaced = http.post(V1 + "/hosts/box4", "arch=x86_64&tbox_group=two+words");
      assertEquals(400, spaced.status());
      assertTrue(spaced.body().contains("'two words'"), spaced.body());
      Answer badEscape = http.post(V1 + "/hosts/box4", "arch=x86_64&memory=%zz");
      assertEquals(400, badEscape.status());
      assertTrue(badEscape.body().contains("HEXDIG"), badEscape.body());
      assertEquals(400, http.post(V1 + "/hosts/box4", "=x86_64").status());
      assertEquals(400, http.post(V1 + "/hosts/box4", "arch=&memory=1").status());
      assertEquals(400, http.post(V1 + "/hosts/box4", "{\"tags\":[{\"a\":1}]}").status());
      assertEquals(404, http.get(V1 + "/hosts/box4").status(), "a refused registration records nothing");
    } finally {
      stop(server);
    }
  }

  @Test
  void badSettingsNameTheSetting() {
    Config config = ConfigFactory.parseMap(Map.of("scheduler.port", "abc")).withFallback(ConfigFactory.load());
    var e = org.junit.jupiter.api.Assertions.assertThrows(
        org.compassci.sched.config.BadSettingException.class, () -> SchedulerSettings.fromConfig(config));
    assertTrue(e.getMessage().contains("SCHED_PORT"), e.getMessage());
    Config store = ConfigFactory.parseMap(Map.of("scheduler.store", "mysql")).withFallback(ConfigFactory.load());
    e = org.junit.jupiter.api.Assertions.assertThrows(
        org.compassci.sched.config.BadSettingException.class, () -> SchedulerSettings.fromConfig(store));
    assertTrue(e.getMessage().contains("SCHED_JDBC_URL"), e.getMessage());
    Config sync = ConfigFactory.parseMap(Map.of("scheduler.store-sync", "sometimes")).withFallback(ConfigFactory.load());
    e = org.junit.jupiter.api.Assertions.assertThrows(
        org.compassci.sched.config.BadSettingException.class, () -> SchedulerSettings.fromConfig(sync));
    assertTrue(e.getMessage().contains("scheduler.store-sync") && e.getMessage().contains("sometimes"), e.getMessage());
    Config lkp = ConfigFactory.parseMap(Map.of("scheduler.submit.lkp-src", "/nonexistent-lkp-tests"))
        .withFallback(ConfigFactory.load());
    e = org.junit.jupiter.api.Assertions.assertThrows(
        org.compassci.sched.config.BadSettingException.class, () -> SchedulerSettings.fromConfig(lkp));
    assertTrue(e.getMessage().contains("SCHED_LKP_SRC") && e.getMessage().contains("/nonexistent-lkp-tests"),
        e.getMessage());
    // what the settings name on this machine is checked before anything starts
    // (the results folder by its resolved key: SCHED_RESULTS_DIR sets both)
    for (List<String> bad : List.of(
        List.of("scheduler.extract.results-dir", "/proc/nope/results", "SCHED_RESULTS_DIR"),
        List.of("scheduler.data-dir", "/proc/nope/data", "SCHED_DATA_DIR"),
        List.of("scheduler.lab.hosts-dir", "/nonexistent-lab-hosts", "SCHED_LAB_HOSTS"),
        List.of("scheduler.host", "999.1.1.1", "SCHED_HOST"))) {
      Config c = ConfigFactory.parseMap(Map.of(bad.get(0), bad.get(1))).withFallback(ConfigFactory.load());
      SchedulerSettings settings = SchedulerSettings.fromConfig(c);
      e = org.junit.jupiter.api.Assertions.assertThrows(org.compassci.sched.config.BadSettingException.class,
          () -> SchedulerApp.checkOnThisMachine(settings), bad.toString());
      assertTrue(e.getMessage().contains(bad.get(2)) && e.getMessage().contains(bad.get(1)), e.getMessage());
    }
  }
}
