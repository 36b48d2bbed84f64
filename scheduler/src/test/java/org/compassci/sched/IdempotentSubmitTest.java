package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.compassci.sched.fixtures.HttpCalls;
import org.compassci.sched.fixtures.HttpCalls.Answer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Retried submits: the same Idempotency-Key with the same body gets the first answer and makes
 * no job; with another body 422; keys are per account and survive a restart; submit_id lists a
 * run; an account past its queued-job cap gets 429.
 */
class IdempotentSubmitTest {

  static final String V1 = "/scheduler/v1";
  static final String JOB = "{\"suite\":\"hackbench\",\"testbox\":\"idem\",\"nr_threads\":8}";

  @TempDir Path dir;

  private static Answer submit(HttpCalls c, String key, String body) {
    return c.send("POST", V1 + "/jobs/submit", body, "Content-Type", "application/json", "Idempotency-Key", key);
  }

  private static int pending(TestServer s, String account) {
    return s.http.get(V1 + "/dashboard/jobs/pending?group_by=my_account").json().path("groups").path(account).asInt();
  }

  @Test
  void aRepeatGetsTheFirstAnswerAndMakesNoJob() throws Exception {
    try (TestServer s = TestServer.start(dir, Map.of())) {
      HttpCalls alice = s.anonymous.withToken(s.addAccount("alice", "user"));
      HttpCalls bob = s.anonymous.withToken(s.addAccount("bob", "user"));
      Answer first = submit(alice, "run-1", JOB);
      assertEquals(200, first.status(), first.body());
      assertFalse(first.raw().headers().firstValue("Idempotent-Replayed").isPresent());
      Answer again = submit(alice, "run-1", JOB);
      assertEquals(200, again.status(), again.body());
      assertEquals(first.body(), again.body(), "byte for byte the first answer");
      assertEquals("true", again.raw().headers().firstValue("Idempotent-Replayed").orElse(""));
      assertEquals(1, pending(s, "alice"), "one job, however often it is sent");

      Answer changed = submit(alice, "run-1", JOB.replace("8", "16"));
      assertEquals(422, changed.status(), changed.body());
      assertEquals("0", changed.json().get(0).path("job_id").asText());
      assertTrue(changed.json().get(0).path("message").asText().contains("another request body"));

      Answer bobs = submit(bob, "run-1", JOB);
      assertEquals(200, bobs.status(), "keys are per account");
      assertEquals(1, pending(s, "bob"));
      assertEquals(400, submit(alice, "x".repeat(256), JOB).status(), "a key of 256 characters");
      // without a key, every post is a new submit (lkp-tests' own client sends none)
      alice.post(V1 + "/jobs/submit", JOB);
      alice.post(V1 + "/jobs/submit", JOB);
      assertEquals(3, pending(s, "alice"));
    }
  }

  /**
   * The body is compared by its bytes: read as UTF-8 text, two UTF-16 bodies that differ in one
   * letter (E9 00 and E8 00) were the same text of replacement characters, and the second was
   * answered with the first one's jobs instead of 422.
   */
  @Test
  void bodiesThatDifferOnlyInBytesThatAreNotUtf8AreTwoBodies() throws Exception {
    try (TestServer s = TestServer.start(dir, Map.of())) {
      HttpCalls alice = s.anonymous.withToken(s.addAccount("alice", "user"));
      String[] headers = {"Content-Type", "application/json", "Idempotency-Key", "utf16"};
      byte[] first = JOB.replace("\"nr_threads\"", "\"note\":\"\u00e9\",\"nr_threads\"").getBytes(java.nio.charset.StandardCharsets.UTF_16LE);
      byte[] second = JOB.replace("\"nr_threads\"", "\"note\":\"\u00e8\",\"nr_threads\"").getBytes(java.nio.charset.StandardCharsets.UTF_16LE);
      Answer a = alice.sendBytes("POST", V1 + "/jobs/submit", first, headers);
      assertEquals(200, a.status(), a.body());
      Answer b = alice.sendBytes("POST", V1 + "/jobs/submit", second, headers);
      assertEquals(422, b.status(), b.body());
      assertEquals(200, alice.sendBytes("POST", V1 + "/jobs/submit", first, headers).status(), "the same bytes: replayed");
      assertEquals(1, pending(s, "alice"));
    }
  }

  @Test
  void concurrentRepeatsMakeOneJobAndAllGetItsAnswer() throws Exception {
    try (TestServer s = TestServer.start(dir, Map.of())) {
      HttpCalls alice = s.anonymous.withToken(s.addAccount("alice", "user"));
      List<CompletableFuture<Answer>> all = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        all.add(CompletableFuture.supplyAsync(() -> submit(alice, "burst", JOB)));
      }
      Set<String> bodies = new HashSet<>();
      for (CompletableFuture<Answer> f : all) {
        Answer a = f.get(30, TimeUnit.SECONDS);
        assertEquals(200, a.status(), a.body());
        bodies.add(a.body());
      }
      assertEquals(1, bodies.size(), "one answer for all: " + bodies);
      assertEquals(1, pending(s, "alice"));
    }
  }

  @Test
  void aKeyOutlivesARestartAndYamlBodiesCountToo() throws Exception {
    String first;
    String yaml = "suite: hackbench\ntestbox: idem\nnr_threads: [1, 8]\n";
    try (TestServer s = TestServer.start(dir, Map.of())) {
      Answer a = s.http.send("POST", V1 + "/jobs/submit", yaml, "Content-Type", "application/yaml",
          "Idempotency-Key", "yaml-run");
      assertEquals(200, a.status(), a.body());
      assertEquals(2, a.json().size());
      first = a.body();
    }
    try (TestServer s = TestServer.start(dir, Map.of())) {
      Answer again = s.http.send("POST", V1 + "/jobs/submit", yaml, "Content-Type", "application/yaml",
          "Idempotency-Key", "yaml-run");
      assertEquals(200, again.status());
      assertEquals(first, again.body(), "the store kept the key with the jobs");
      assertEquals(2, pending(s, "admin"));
      assertEquals(422, s.http.send("POST", V1 + "/jobs/submit", yaml.replace("8", "9"), "Content-Type",
          "application/yaml", "Idempotency-Key", "yaml-run").status());
    }
  }

  @Test
  void aKeyPastItsTimeIsANewSubmit() throws Exception {
    try (TestServer s = TestServer.start(dir, Map.of("scheduler.submit.idempotency-ttl", "1ms"))) {
      assertEquals(200, submit(s.http, "short", JOB).status());
      Thread.sleep(20);
      assertEquals(200, submit(s.http, "short", JOB).status());
      assertEquals(2, pending(s, "admin"));
    }
  }

  @Test
  void submitIdListsTheJobsOfOneRun() throws Exception {
    try (TestServer s = TestServer.start(dir, Map.of())) {
      // lkp-tests' submit: one POST per job, all with the run's submit_id
      for (int i = 0; i < 8; i++) {
        assertEquals(200, s.http.post("/submit_job", "{\"suite\":\"hackbench\",\"testbox\":\"runs\",\"nr\":" + i
            + ",\"submit_id\":\"5e2a3c1e-run\"}").status());
      }
      s.http.post("/submit_job", "{\"suite\":\"other\",\"testbox\":\"runs\",\"submit_id\":\"another\"}");
      JsonNode run = s.http.get(V1 + "/jobs?submit_id=5e2a3c1e-run").json();
      assertEquals(8, run.path("total").asInt(), run.toString());
      assertEquals("submit", run.path("jobs").get(0).path("job_stage").asText());
      assertEquals("hackbench", run.path("jobs").get(7).path("suite").asText());
      assertEquals(0, s.http.get(V1 + "/jobs?submit_id=none").json().path("total").asInt());
      assertEquals(400, s.http.get(V1 + "/jobs").status(), "no submit_id");
    }
  }

  @Test
  void anAccountPastItsQueuedCapGets429() throws Exception {
    try (TestServer s = TestServer.start(dir, Map.of("scheduler.accounts.max-queued", 3))) {
      HttpCalls alice = s.anonymous.withToken(s.addAccount("alice", "user"));
      assertEquals(200, alice.post(V1 + "/jobs/submit", "[" + JOB + "," + JOB + "]").status());
      Answer over = alice.post(V1 + "/jobs/submit", "[" + JOB + "," + JOB + "]");
      assertEquals(429, over.status(), over.body());
      assertTrue(over.raw().headers().firstValue("Retry-After").isPresent());
      assertTrue(over.json().get(0).path("message").asText().contains("scheduler.accounts.max-queued"));
      assertEquals(2, pending(s, "alice"), "refused whole");
      assertEquals(200, alice.post(V1 + "/jobs/submit", JOB).status(), "up to the cap");
      assertEquals(200, s.http.post(V1 + "/jobs/submit", JOB).status(), "the cap is per account");
      assertEquals(429, submit(alice, "k", JOB).status(), "with a key too");
      s.http.get(V1 + "/jobs/dispatch?hostname=idem--1&tbox_type=hw&tbox_group=idem");
      // one of alice's or the admin's left the queue: alice may submit again if it was hers
      assertTrue(List.of(200, 429).contains(submit(alice, "k", JOB).status()));
    }
  }
}
