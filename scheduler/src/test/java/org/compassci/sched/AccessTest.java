package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.compassci.sched.fixtures.HttpCalls;
import org.compassci.sched.fixtures.HttpCalls.Answer;
import org.compassci.sched.fixtures.RawHttp;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Who may call what, route by route, in the default tokens mode: no credentials and wrong ones
 * get 401 with WWW-Authenticate, right ones that do not allow the call get 403, and each route's
 * allowed caller gets through. Every case runs against one real server over loopback.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AccessTest {

  static final String V1 = "/scheduler/v1";
  static final String WRONG = "sched_this-is-no-token-of-this-scheduler-at-all";

  Path dir;
  TestServer server;
  /** The admin; alice and bob are users; nobody shows no token; forger shows a made-up one. */
  HttpCalls admin;
  HttpCalls alice;
  HttpCalls bob;
  HttpCalls nobody;
  HttpCalls forger;
  RawHttp raw;

  @BeforeAll
  void start() throws Exception {
    dir = java.nio.file.Files.createTempDirectory("access-test");
    server = TestServer.start(dir, Map.of("scheduler.auth.tokenless-webdav", "off"));
    admin = server.http;
    nobody = server.anonymous;
    forger = nobody.withToken(WRONG);
    alice = nobody.withToken(server.addAccount("alice", "user"));
    bob = nobody.withToken(server.addAccount("bob", "user"));
    raw = new RawHttp(server.port());
  }

  @AfterAll
  void stop() throws Exception {
    server.close();
    TestServer.deleteQuietly(dir);
  }

  private static void expect(int status, Answer a, String what) {
    assertEquals(status, a.status(), what + ": " + a.body());
    if (status == 401) {
      assertTrue(a.raw().headers().firstValue("WWW-Authenticate").orElse("").startsWith("Bearer realm="),
          what + " carries a challenge");
    }
  }

  /** A job of alice's in its own machine group, so no other test's box takes it. */
  private String aliceJob(String group) {
    Answer a = alice.post(V1 + "/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"" + group + "\"}");
    expect(200, a, "alice submits");
    return a.json().get(0).path("job_id").asText();
  }

  @Test
  void submitNeedsAnAccountAndOnlyAnAdminSubmitsForAnother() {
    for (String path : List.of(V1 + "/jobs/submit", "/submit_job")) {
      String job = "{\"suite\":\"s\",\"testbox\":\"sub-" + path.length() + "\",\"my_account\":\"alice\"}";
      Answer none = nobody.post(path, job);
      expect(401, none, path + " without credentials");
      assertEquals("0", none.json().get(0).path("job_id").asText(), "Compass-CI's shape");
      assertFalse(none.json().get(0).path("message").asText().isEmpty());
      expect(401, forger.post(path, job), path + " with a forged token");
      expect(403, bob.post(path, job), path + ": bob submits as alice");
      expect(200, alice.post(path, job), path + ": alice submits her own");
      expect(200, admin.post(path, job), path + ": an admin submits for anyone");
      // no my_account: the token's account owns the job
      Answer implied = bob.post(path, "{\"suite\":\"s\",\"testbox\":\"sub-implied\"}");
      expect(200, implied, "bob without my_account");
      String id = implied.json().get(0).path("job_id").asText();
      assertEquals("bob", admin.get(V1 + "/jobs/" + id).json().path("my_account").asText());
    }
  }

  /**
   * A job's queue names its tenant and its level: a user may use idle, a project queue or its
   * own name, but not vip (served first) nor another account's name (that account's share of
   * the boxes); an admin may. A refused job changes nothing, with either kind of credentials.
   */
  @Test
  void onlyAnAdminSubmitsToVipOrToAnotherAccountsQueue() {
    // a queue of no account and no project of the lab would be a fair share of bob's own, one
    // more for each name he made up: a2, a3, ... each a tenant weighing as much as alice
    for (String queue : List.of("vip", "alice", "a1")) {
      String job = "{\"suite\":\"s\",\"testbox\":\"queue-" + queue + "\",\"queue\":\"" + queue + "\"}";
      int before = admin.get(V1 + "/dashboard/jobs/pending?group_by=queue").json().path("total").asInt();
      Answer refused = bob.post(V1 + "/jobs/submit", job);
      expect(403, refused, "bob submits to queue " + queue);
      assertTrue(refused.body().contains("queue " + queue), refused.body());
      expect(403, nobody.post("/submit_job", job.replace("{\"suite\"", "{\"my_account\":\"bob\",\"my_token\":\""
          + bob.token() + "\",\"suite\"")), "bob's Compass-CI credentials, queue " + queue);
      assertEquals(before, admin.get(V1 + "/dashboard/jobs/pending?group_by=queue").json().path("total").asInt(),
          "nothing queued");
      expect(200, admin.post(V1 + "/jobs/submit", job), "an admin submits to queue " + queue);
    }
    expect(200, alice.post(V1 + "/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"queue-own\",\"queue\":\"alice\"}"),
        "alice to her own queue");
    for (String queue : List.of("idle", "bisect")) {
      expect(200, bob.post(V1 + "/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"queue-" + queue
          + "\",\"queue\":\"" + queue + "\"}"), "bob to queue " + queue);
    }
  }

  @Test
  void compassCiCredentialsInTheJobWorkAndAreNeverStored() {
    String token = alice.token();
    String job = "{\"suite\":\"s\",\"testbox\":\"cci\",\"my_account\":\"alice\",\"my_email\":\"ALICE@example.org\","
        + "\"my_token\":\"" + token + "\"}";
    Answer ok = nobody.post("/submit_job", job);
    expect(200, ok, "my_account + my_token + my_email");
    String id = ok.json().get(0).path("job_id").asText();
    String stored = admin.get(V1 + "/jobs/" + id).body();
    assertFalse(stored.contains(token) || stored.contains("my_token") || stored.contains("my_email"), stored);
    expect(401, nobody.post("/submit_job", job.replace(token, WRONG)), "a wrong my_token");
    expect(401, nobody.post("/submit_job", job.replace("ALICE@", "eve@")), "a wrong my_email");
    expect(401, nobody.post("/submit_job", job.replace("\"my_account\":\"alice\"", "\"my_account\":\"bob\"")),
        "alice's token for bob's account");
    expect(401, nobody.post(V1 + "/jobs/submit", "[" + job + ",{\"suite\":\"s\",\"testbox\":\"cci\"}]"),
        "a batch with one job without credentials");
    // each job proves its own owner: a batch of alice's and bob's jobs, each with its credentials
    Answer both = nobody.post(V1 + "/jobs/submit", "[" + job + ",{\"suite\":\"s\",\"testbox\":\"cci\","
        + "\"my_account\":\"bob\",\"my_token\":\"" + bob.token() + "\"}]");
    expect(200, both, "two accounts, each with its own token");
    assertEquals("bob", admin.get(V1 + "/jobs/" + both.json().get(1).path("job_id").asText()).json()
        .path("my_account").asText());
  }

  @Test
  void cancelIsForTheOwnerOrAnAdmin() {
    String id = aliceJob("cancel-a");
    expect(401, nobody.post(V1 + "/jobs/" + id + "/cancel", ""), "cancel without a token");
    expect(401, forger.post(V1 + "/jobs/" + id + "/cancel", ""), "cancel with a forged token");
    expect(403, bob.post(V1 + "/jobs/" + id + "/cancel", ""), "bob cancels alice's job");
    assertEquals("submit", admin.get(V1 + "/jobs/" + id).json().path("job_stage").asText(), "unchanged");
    expect(200, alice.post(V1 + "/jobs/" + id + "/cancel", ""), "alice cancels her job");
    String other = aliceJob("cancel-b");
    expect(200, admin.post(V1 + "/jobs/" + other + "/cancel", ""), "an admin cancels anyone's");
    expect(404, bob.post(V1 + "/jobs/4242/cancel", ""), "an unknown job");
  }

  @Test
  void terminateIsForTheOwnerOrAnAdmin() {
    String id = aliceJob("term-a");
    expect(401, nobody.post(V1 + "/jobs/" + id + "/terminate", ""), "terminate without a token");
    expect(401, forger.post(V1 + "/jobs/" + id + "/terminate", ""), "terminate with a forged token");
    expect(403, bob.post(V1 + "/jobs/" + id + "/terminate", ""), "bob terminates alice's job");
    assertEquals("submit", admin.get(V1 + "/jobs/" + id).json().path("job_stage").asText(), "unchanged");
    Answer ended = alice.post(V1 + "/jobs/" + id + "/terminate", "");
    expect(200, ended, "alice terminates her job");
    assertEquals("terminate", ended.json().path("job_health").asText());
    expect(200, admin.post(V1 + "/jobs/" + aliceJob("term-b") + "/terminate", ""), "an admin terminates anyone's");
  }

  @Test
  void anUpdateNeedsTheJobTokenOrAnAdmin() {
    String id = aliceJob("upd");
    JsonNode handed = nobody.get(V1 + "/jobs/dispatch?hostname=upd--1&tbox_type=hw&tbox_group=upd").json();
    assertEquals(id, handed.path("id").asText());
    String jobToken = handed.path("job_token").asText();
    String path = V1 + "/jobs/" + id + "/update?job_stage=boot";
    expect(401, nobody.post(path, ""), "no job_token, no account");
    expect(401, forger.post(path, ""), "a forged bearer token");
    expect(403, alice.post(path, ""), "the owner is not the testbox");
    expect(409, nobody.post(path + "&job_token=" + WRONG, ""), "a job_token of no hand-out of this job");
    assertEquals("dispatch", admin.get(V1 + "/jobs/" + id).json().path("job_stage").asText(), "unchanged");
    expect(200, nobody.post(path + "&job_token=" + jobToken, ""), "the testbox with its job_token");
    expect(200, admin.post(V1 + "/jobs/" + id + "/update?job_stage=running", ""), "an admin");
  }

  @Test
  void managementAccountsAndHostRegistrationAreForAdmins() {
    String queued = aliceJob("mgmt");
    Map<String, Function<HttpCalls, Answer>> calls = new java.util.LinkedHashMap<>();
    calls.put("manage/actors", c -> c.get(V1 + "/manage/actors"));
    calls.put("manage/matcher", c -> c.get(V1 + "/manage/matcher"));
    calls.put("manage/explain", c -> c.get(V1 + "/manage/explain/" + queued));
    calls.put("manage/hosts/reload", c -> c.post(V1 + "/manage/hosts/reload", ""));
    calls.put("accounts list", c -> c.get(V1 + "/accounts"));
    calls.put("accounts one", c -> c.get(V1 + "/accounts/alice"));
    calls.put("hosts register", c -> c.post(V1 + "/hosts/reg--1?arch=x86_64&memory=1024", ""));
    for (var call : calls.entrySet()) {
      expect(401, call.getValue().apply(nobody), call.getKey() + " without a token");
      expect(401, call.getValue().apply(forger), call.getKey() + " with a forged token");
      expect(403, call.getValue().apply(alice), call.getKey() + " by a user");
      int status = call.getValue().apply(admin).status();
      // reload answers 409 when the lab has no hosts folder: the admin got through
      assertTrue(status == 200 || (call.getKey().equals("manage/hosts/reload") && status == 409),
          call.getKey() + " by an admin: " + status);
    }
  }

  @Test
  void accountsAreMadeRotatedAndRemovedByAnAdminAndTokensShowOnce() {
    String body = "{\"name\":\"carol\",\"email\":\"carol@example.org\",\"role\":\"user\"}";
    expect(401, nobody.post(V1 + "/accounts", body), "make without a token");
    expect(403, alice.post(V1 + "/accounts", body), "make by a user");
    Answer made = admin.post(V1 + "/accounts", body);
    expect(201, made, "make by an admin");
    assertEquals(List.of("name", "email", "display_name", "role", "created", "token"),
        iterable(made.json().fieldNames()));
    String token = made.json().path("token").asText();
    assertTrue(token.startsWith("sched_") && token.length() == 49, token);
    expect(409, admin.post(V1 + "/accounts", body), "the name is taken");
    expect(400, admin.post(V1 + "/accounts", "{\"name\":\"../x\"}"), "a bad name");
    expect(400, admin.post(V1 + "/accounts", "{\"name\":\"dave\",\"role\":\"root\"}"), "a bad role");
    HttpCalls carol = nobody.withToken(token);
    expect(200, carol.post(V1 + "/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"carol\"}"), "carol's token works");
    assertFalse(admin.get(V1 + "/accounts").body().contains(token), "a list shows no token");
    assertFalse(admin.get(V1 + "/accounts/carol").body().contains("digest"), "nor a digest");

    expect(401, nobody.post(V1 + "/accounts/carol/token", ""), "rotate without a token");
    expect(403, carol.post(V1 + "/accounts/carol/token", ""), "rotate by a user, even her own");
    Answer rotated = admin.post(V1 + "/accounts/carol/token", "");
    expect(201, rotated, "rotate by an admin");
    String fresh = rotated.json().path("token").asText();
    expect(401, carol.post(V1 + "/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"carol\"}"), "the old token is gone");
    expect(200, nobody.withToken(fresh).post(V1 + "/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"carol\"}"),
        "the new one works");
    expect(404, admin.post(V1 + "/accounts/nobody-here/token", ""), "rotate an unknown account");

    expect(401, nobody.delete(V1 + "/accounts/carol"), "remove without a token");
    expect(403, alice.delete(V1 + "/accounts/carol"), "remove by a user");
    expect(200, admin.delete(V1 + "/accounts/carol"), "remove by an admin");
    expect(401, nobody.withToken(fresh).post(V1 + "/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"carol\"}"),
        "a removed account's token");
    expect(404, admin.delete(V1 + "/accounts/carol"), "removed already");
    expect(409, admin.delete(V1 + "/accounts/admin"), "the last admin stays");
  }

  private static List<String> iterable(java.util.Iterator<String> it) {
    List<String> out = new java.util.ArrayList<>();
    it.forEachRemaining(out::add);
    return out;
  }

  @Test
  void readsAreOpenByDefaultAndShowNoSecret() {
    String id = aliceJob("reads");
    for (String path : List.of(V1 + "/jobs/" + id, V1 + "/dashboard/jobs/pending", V1 + "/dashboard/summary",
        V1 + "/dashboard/jobs/running", V1 + "/dashboard/hosts", V1 + "/dashboard/stats", "/metrics",
        V1 + "/jobs?submit_id=none", V1 + "/health", V1 + "/dashboard/providers")) {
      expect(200, nobody.get(path), path);
    }
    expect(200, nobody.post(V1 + "/jobs/wait", "{\"wait_on\":{\"" + id + "\":{\"job_stage\":\"submit\"}}}"), "wait");
    assertFalse(nobody.get(V1 + "/jobs/" + id).body().contains(alice.token()));
  }

  @Test
  void testboxCallsNeedNoAccount() {
    String id = aliceJob("tbox");
    expect(200, nobody.get(V1 + "/jobs/dispatch?hostname=tbox--1&tbox_type=hw&tbox_group=tbox"), "dispatch");
    // busybox cannot authenticate: the legacy calls are bound to the box and to forward moves
    expect(200, nobody.get("/~lkp/cgi-bin/lkp-jobfile-append-var?job_id=" + id + "&job_state=running&hostname=tbox--1"),
        "the box reports");
    // (busybox cannot read an error answer: 200 "ignored", and nothing changes)
    Answer stranger = nobody.get("/~lkp/cgi-bin/set-job-stage?job_id=" + id + "&job_stage=finish&hostname=other--9");
    assertEquals(200, stranger.status(), "another box: " + stranger.body());
    assertTrue(stranger.body().startsWith("ignored: "), stranger.body());
    assertEquals("running", admin.get(V1 + "/jobs/" + id).json().path("job_stage").asText(), "another box changes nothing");
    Answer back = nobody.get("/~lkp/cgi-bin/set-job-stage?job_id=" + id + "&job_stage=boot");
    assertEquals(200, back.status());
    assertEquals("running", admin.get(V1 + "/jobs/" + id).json().path("job_stage").asText(), "never backwards");
    String queuedId = aliceJob("tbox-q");
    Answer queued = nobody.get("/~lkp/cgi-bin/set-job-stage?job_id=" + queuedId + "&job_stage=running");
    assertEquals(200, queued.status(), queued.body());
    assertTrue(queued.body().startsWith("ignored: "), "a queued job takes no legacy call: " + queued.body());
    assertEquals("submit", admin.get(V1 + "/jobs/" + queuedId).json().path("job_stage").asText());
    Answer ssh = nobody.get("/~lkp/cgi-bin/report_ssh_port?tbox_name=other--9&job_id=" + id + "&ssh_port=22");
    assertEquals(200, ssh.status(), ssh.body());
    assertTrue(ssh.body().startsWith("ignored: "), "tbox_name names the box: " + ssh.body());
    assertTrue(admin.get(V1 + "/jobs/" + id).json().path("ssh_port").isMissingNode(), "nothing recorded");
  }

  @Test
  void uploadsNeedTheJobToken() throws Exception {
    String id = aliceJob("upload");
    JsonNode handed = nobody.get(V1 + "/jobs/dispatch?hostname=upload--1&tbox_type=hw&tbox_group=upload").json();
    String jobToken = handed.path("job_token").asText();
    String root = handed.path("result_root").asText();
    byte[] one = "x\n".getBytes();
    assertEquals(401, raw.send("POST", root + "/a?job_id=" + id, one).status(), "compact POST without job_token");
    assertEquals(403, raw.send("POST", root + "/a?job_id=" + id + "&job_token=" + WRONG, one).status(), "a wrong one");
    assertEquals(200, raw.send("POST", root + "/a?job_id=" + id + "&job_token=" + jobToken, one).status(), "the right one");
    RawHttp.Reply webdav = raw.send("PUT", root + "/b", one, "Cookie", "JOBID=" + id);
    assertEquals(401, webdav.status(), "WebDAV without the token, tokenless-webdav off: " + webdav.text());
    assertTrue(webdav.raw().headers().firstValue("WWW-Authenticate").isPresent());
    assertEquals(403, raw.send("PUT", root + "/b", one, "Cookie", "JOBID=" + id + "; JOB_TOKEN=" + WRONG).status());
    assertEquals(201, raw.send("PUT", root + "/b", one, "Cookie", "JOBID=" + id + "; JOB_TOKEN=" + jobToken).status());
  }
}
