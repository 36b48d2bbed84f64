package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.compassci.sched.fixtures.HttpCalls;
import org.compassci.sched.fixtures.HttpCalls.Answer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The two other ways to run: reads that need a token, and the open mode of a private lab. */
class AccessModesTest {

  static final String V1 = "/scheduler/v1";

  @TempDir Path dir;

  @Test
  void privateReadsNeedAnAccountsTokenForEveryRead() throws Exception {
    try (TestServer s = TestServer.start(dir, Map.of("scheduler.auth.private-reads", "on"))) {
      HttpCalls user = s.anonymous.withToken(s.addAccount("reader", "user"));
      HttpCalls forger = s.anonymous.withToken("sched_forged-forged-forged-forged-forged-forged");
      String id = user.post(V1 + "/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"pr\"}").json().get(0)
          .path("job_id").asText();
      List<String> reads = List.of(V1 + "/jobs/" + id, V1 + "/jobs?submit_id=x", V1 + "/dashboard/jobs/pending",
          V1 + "/dashboard/jobs/running", V1 + "/dashboard/hosts", V1 + "/dashboard/stats", V1 + "/dashboard/summary",
          V1 + "/hosts/nobody", "/metrics", V1 + "/dashboard/providers");
      for (String path : reads) {
        Answer none = s.anonymous.get(path);
        assertEquals(401, none.status(), path);
        assertTrue(none.raw().headers().firstValue("WWW-Authenticate").isPresent(), path);
        assertEquals(401, forger.get(path).status(), path + " with a forged token");
        int ok = user.get(path).status();
        assertTrue(ok == 200 || (path.endsWith("/nobody") && ok == 404), path + " with a token: " + ok);
      }
      String wait = "{\"wait_on\":{\"" + id + "\":{\"job_stage\":\"submit\"}}}";
      assertEquals(401, s.anonymous.post(V1 + "/jobs/wait", wait).status());
      assertEquals(200, user.post(V1 + "/jobs/wait", wait).status());
      assertEquals(401, s.anonymous.get(V1 + "/jobs/" + id + "/events").status());
      // the event streams with a token: their head says 200 and an event stream
      for (String stream : List.of(V1 + "/jobs/" + id + "/events", V1 + "/events?job_ids=" + id,
          V1 + "/dashboard/events")) {
        org.compassci.sched.fixtures.SocketHttp.Reply head = org.compassci.sched.fixtures.SocketHttp.exchange(
            s.port(), ("GET " + stream + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + user.token()
                + "\r\nConnection: close\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII), 10_000, true);
        assertEquals(200, head.status(), stream + ": " + head.head());
        assertTrue(head.header("Content-Type").startsWith("text/event-stream"), head.head());
        assertEquals(401, forger.get(stream).status(), stream);
      }
      // the watchers' WebSocket: refused before its handshake without a token
      assertEquals(401, s.anonymous.get(V1 + "/client").status());
      assertEquals(400, user.get(V1 + "/client").status(), "with a token: only the missing Upgrade is wrong");
      // what a box or a probe needs stays open; the page itself asks for the token
      assertEquals(200, s.anonymous.get(V1 + "/health").status());
      assertEquals(204, s.anonymous.get(V1 + "/jobs/dispatch?hostname=nobody").status());
      Answer page = s.anonymous.get("/dashboard");
      assertEquals(200, page.status());
      assertTrue(s.anonymous.get("/dashboard/app.js").body().contains("sessionStorage"));
    }
  }

  /**
   * With private reads, a stream that stays open (a job's events, the dashboard's, the watchers'
   * socket) ends once the token it opened with is rotated: checked every refresh-interval. Before,
   * a reader whose token was taken away went on reading for as long as it stayed connected.
   */
  @Test
  void anOpenStreamEndsOnceItsReadersTokenIsRotated() throws Exception {
    try (TestServer s = TestServer.start(dir, Map.of("scheduler.auth.private-reads", "on",
        "scheduler.auth.refresh-interval", "300ms"))) {
      String token = s.addAccount("reader", "user");
      HttpCalls user = s.anonymous.withToken(token);
      String id = user.post(V1 + "/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"pr\"}").json().get(0)
          .path("job_id").asText();
      java.net.http.HttpClient client = java.net.http.HttpClient.newHttpClient();
      List<java.util.concurrent.CompletableFuture<Void>> ended = new java.util.ArrayList<>();
      for (String stream : List.of(V1 + "/jobs/" + id + "/events", V1 + "/events?job_ids=" + id,
          V1 + "/dashboard/events")) {
        java.net.http.HttpResponse<java.io.InputStream> r = client.send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + s.port() + stream))
            .header("Authorization", "Bearer " + token).build(),
            java.net.http.HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, r.statusCode(), stream);
        ended.add(java.util.concurrent.CompletableFuture.runAsync(() -> {
          try (java.io.InputStream in = r.body()) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        }));
      }
      org.compassci.sched.fixtures.SocketClient socket = org.compassci.sched.fixtures.SocketClient.open(
          s.port(), V1 + "/client", true, token);
      assertEquals("welcome", socket.nextJson(Duration.ofSeconds(10)).path("type").asText());
      // still open while the token holds, over several checks
      Thread.sleep(1000);
      ended.forEach(e -> assertTrue(!e.isDone(), "a stream ended with its token still valid"));
      assertTrue(socket.awaitClosed(Duration.ofMillis(10)) == null, "the socket closed with its token still valid");

      assertEquals(201, s.http.post(V1 + "/accounts/reader/token", "").status());
      for (java.util.concurrent.CompletableFuture<Void> e : ended) {
        e.get(10, java.util.concurrent.TimeUnit.SECONDS);
      }
      org.compassci.sched.fixtures.SocketClient.Closed closed = socket.awaitClosed(Duration.ofSeconds(10));
      assertEquals(1008, closed.code(), closed.toString());
      assertTrue(closed.reason().contains("no longer valid"), closed.reason());
    }
  }

  /**
   * Without SCHED_ADMIN_TOKEN (API.md: "none: management answers loopback callers only") the
   * management reads answer a loopback caller with no token; accounts still need the admin's.
   */
  @Test
  void withoutAnAdminTokenSetManagementAnswersLoopbackCallers() throws Exception {
    try (TestServer s = TestServer.start(dir, Map.of("scheduler.admin-token", ""))) {
      for (String path : List.of(V1 + "/manage/actors", V1 + "/manage/matcher", V1 + "/manage/cluster")) {
        Answer a = s.anonymous.get(path);
        assertEquals(200, a.status(), path + " " + a.body());
      }
      // the TCP peer decides, not a header a caller writes
      assertEquals(200, s.anonymous.send("GET", V1 + "/manage/actors", null,
          "X-Forwarded-For", "203.0.113.7", "X-Real-Ip", "203.0.113.7").status());
      assertEquals(401, s.anonymous.post(V1 + "/accounts", "{\"name\":\"x\",\"role\":\"user\"}").status());
      assertEquals(401, s.anonymous.withToken("sched_wrong-wrong-wrong-wrong-wrong-wrong-wrong")
          .get(V1 + "/manage/actors").status(), "a wrong token is refused, not ignored");
      assertEquals(401, s.anonymous.post(V1 + "/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"t\"}").status());
    }
    // each request's address is known whatever remote-address-attribute says (Pekko's default is
    // off: a configuration of one's own without it made every loopback caller a stranger, and
    // took tokenless uploads of bare-metal jobs from anywhere)
    try (TestServer s = TestServer.start(dir.resolve("no-attribute"), Map.of("scheduler.admin-token", "",
        "pekko.http.server.remote-address-attribute", "off"))) {
      assertEquals(200, s.anonymous.get(V1 + "/manage/actors").status());
    }
    // with one set, a loopback caller needs it (the other tests' servers all set one)
    try (TestServer s = TestServer.start(dir.resolve("set"), Map.of())) {
      assertEquals(401, s.anonymous.get(V1 + "/manage/actors").status());
      assertEquals(200, s.http.get(V1 + "/manage/actors").status());
    }
  }

  /**
   * Open mode: anyone may submit and cancel. Management stays with admins: with SCHED_ADMIN_TOKEN
   * set, a loopback caller needs it too (API.md: "401/403 without the admin token when one is
   * set"); without one, loopback callers manage, as in tokens mode.
   */
  @Test
  void openModeLetsAnyoneSubmitAndCancelButManagementStaysWithAdmins() throws Exception {
    try (TestServer s = TestServer.start(dir, Map.of("scheduler.auth.mode", "open"))) {
      HttpCalls anyone = s.anonymous;
      Answer submitted = anyone.post(V1 + "/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"open\",\"my_account\":\"x\"}");
      assertEquals(200, submitted.status(), submitted.body());
      String id = submitted.json().get(0).path("job_id").asText();
      assertEquals(200, anyone.post(V1 + "/jobs/" + id + "/cancel", "").status());
      // a key is kept per account: an account name longer than any account's is refused with
      // a 400, before the store (where it failed the whole group commit); a usual one works
      Answer longName = anyone.send("POST", V1 + "/jobs/submit",
          "{\"suite\":\"s\",\"testbox\":\"open\",\"my_account\":\"" + "a".repeat(65) + "\"}",
          "Content-Type", "application/json", "Idempotency-Key", "k-long");
      assertEquals(400, longName.status(), longName.body());
      assertTrue(longName.body().contains("my_account"), longName.body());
      assertEquals(200, anyone.send("POST", V1 + "/jobs/submit",
          "{\"suite\":\"s\",\"testbox\":\"open\",\"my_account\":\"" + "a".repeat(64) + "\"}",
          "Content-Type", "application/json", "Idempotency-Key", "k-long").status());
      // this test calls from loopback, and the server has an admin token: it is needed
      assertEquals(401, anyone.get(V1 + "/manage/actors").status());
      assertEquals(401, anyone.post(V1 + "/accounts", "{\"name\":\"x\",\"role\":\"admin\"}").status(),
          "no admin account made without the admin token");
      assertEquals(200, s.http.get(V1 + "/manage/actors").status());
      HttpCalls user = anyone.withToken(s.addAccount("u", "user"));
      assertEquals(403, user.get(V1 + "/manage/actors").status(), "a user's token is no admin's");
      assertEquals(401, anyone.withToken("sched_wrong-wrong-wrong-wrong-wrong-wrong-wrong").post(V1 + "/jobs/submit",
          "{\"suite\":\"s\",\"testbox\":\"open\"}").status(), "a wrong token is still refused");
    }
    try (TestServer s = TestServer.start(dir.resolve("no-token"),
        Map.of("scheduler.auth.mode", "open", "scheduler.admin-token", ""))) {
      assertEquals(200, s.anonymous.get(V1 + "/manage/actors").status());
      assertEquals(201, s.anonymous.post(V1 + "/accounts", "{\"name\":\"x\",\"role\":\"user\"}").status(),
          "from this machine, in open mode with no admin token set");
    }
  }
}
