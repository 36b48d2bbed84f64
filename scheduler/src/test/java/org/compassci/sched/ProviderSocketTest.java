package org.compassci.sched;

import static org.compassci.sched.fixtures.ProviderFleet.jobs;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.compassci.sched.fixtures.HttpCalls;
import org.compassci.sched.fixtures.ProviderFleet;
import org.compassci.sched.fixtures.SocketClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * VM and container providers over WebSocket, end to end on loopback: simulated providers
 * ({@link ProviderFleet}, the JDK's WebSocket client) against the real server.
 */
class ProviderSocketTest {

  static final String V1 = "/scheduler/v1";
  static final Duration WAIT = Duration.ofSeconds(20);

  @TempDir Path dir;

  static List<Long> submit(HttpCalls http, String body) {
    HttpCalls.Answer a = http.post(V1 + "/jobs/submit", body);
    assertEquals(200, a.status(), a.body());
    List<Long> ids = new ArrayList<>();
    a.json().forEach(j -> ids.add(j.path("job_id").asLong()));
    return ids;
  }

  static JsonNode job(HttpCalls http, long id) {
    HttpCalls.Answer a = http.get(V1 + "/jobs/" + id);
    assertEquals(200, a.status(), a.body());
    return a.json();
  }

  /** Polls a job (at most 20 s) until {@code field} is {@code value}. */
  static JsonNode awaitField(HttpCalls http, long id, String field, String value) throws InterruptedException {
    JsonNode[] last = {null};
    boolean ok = ProviderFleet.await(() -> {
      last[0] = job(http, id);
      return last[0].path(field).asText().equals(value);
    }, WAIT);
    assertTrue(ok, "job " + id + " never had " + field + "=" + value + ": " + last[0]);
    return last[0];
  }

  /** A provider's WebSocket handshake by hand on {@code s}: its frames are then read from what this returns. */
  static java.io.DataInputStream handshake(java.net.Socket s, String host) throws java.io.IOException {
    s.getOutputStream().write(("GET " + V1 + "/vm-container-provider/" + host + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        + "Sec-WebSocket-Version: 13\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    java.io.DataInputStream in = new java.io.DataInputStream(new java.io.BufferedInputStream(s.getInputStream()));
    StringBuilder head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n")) {
      head.append((char) in.readUnsignedByte());
    }
    assertTrue(head.toString().startsWith("HTTP/1.1 101"), head.toString());
    return in;
  }

  /**
   * The load: 200 providers of 16 to 64 GB and 20,000 jobs. Every job is handed out once, to one
   * provider, and ends finish; the hand-out figures go to stderr.
   */
  @Test
  void twoHundredProvidersRunTwentyThousandJobs() throws Exception {
    int providers = 200;
    int count = 20_000;
    try (TestServer server = TestServer.start(dir, Map.of())) {
      HttpCalls http = server.http;
      Set<Long> submitted = new HashSet<>();
      for (int i = 0; i < count; i += 500) {
        submitted.addAll(submit(http, jobs(500, i)));
      }
      assertEquals(count, submitted.size());
      long t0 = System.nanoTime();
      try (ProviderFleet fleet = new ProviderFleet("127.0.0.1", server.port(), providers,
          ProviderFleet.Options.defaults()).connect()) {
        boolean all = ProviderFleet.await(() -> fleet.finished() >= count, Duration.ofSeconds(120));
        double seconds = (System.nanoTime() - t0) / 1e9;
        System.err.printf(Locale.ROOT, "providers=%d jobs=%d handed out in %.1f s: %.0f jobs/s, p99 %.1f ms, errors %s%n",
            providers, fleet.handOuts().size(), seconds, fleet.handOutsPerSecond(), fleet.latencyMs(0.99),
            fleet.errors().stream().limit(5).toList());
        assertTrue(all, fleet.finished() + " of " + count + " finished; errors " + fleet.errors().stream().limit(10).toList());
        assertEquals(Set.of(), fleet.handedTwice(), "no job goes out twice");
        Set<Long> handed = new HashSet<>();
        fleet.handOuts().forEach(h -> handed.add(h.jobId()));
        assertEquals(submitted, handed, "every job went out, and only those");
        assertEquals(List.of(), fleet.errors());
        assertEquals(0, fleet.overcommitted(), "no provider was given more than its free memory");
      }
      // every job ends finish (read back from the server, 64 at a time)
      List<Long> ids = new ArrayList<>(submitted);
      List<String> wrong = new ArrayList<>();
      for (int i = 0; i < ids.size(); i += 64) {
        List<CompletableFuture<HttpCalls.Answer>> batch = new ArrayList<>();
        for (long id : ids.subList(i, Math.min(ids.size(), i + 64))) {
          batch.add(http.getAsync(V1 + "/jobs/" + id + "?fields=id,job_stage,job_health"));
        }
        for (CompletableFuture<HttpCalls.Answer> f : batch) {
          JsonNode j = f.join().json();
          if (!j.path("job_stage").asText().equals("finish") || !j.path("job_health").asText().equals("success")) {
            wrong.add(j.toString());
          }
        }
      }
      assertEquals(List.of(), wrong.stream().limit(10).toList(), wrong.size() + " jobs did not end finish");
      assertEquals(0, http.get(V1 + "/dashboard/jobs/pending").json().path("total").asInt());
    }
  }

  /**
   * A provider that drops mid-job (its job handed out, never acknowledged): after dispatch-ack
   * the job goes back to the queue and another provider gets it. A parked request of a provider
   * that drops is withdrawn at once.
   */
  @Test
  void aProviderThatDropsMidJobHasItsJobRequeuedToAnother() throws Exception {
    try (TestServer server = TestServer.start(dir, Map.of("scheduler.timeouts.dispatch-ack", "6s"))) {
      HttpCalls http = server.http;
      long id = submit(http, jobs(1, 0)).get(0);
      try (ProviderFleet lost = new ProviderFleet("127.0.0.1", server.port(), 1,
          ProviderFleet.Options.defaults().withHostPrefix("lost"))) {
        // it takes the job and says nothing, as a provider whose VM never started
        lost.providers().get(0).hang();
        lost.connect();
        assertTrue(ProviderFleet.await(() -> lost.handOuts().size() == 1, WAIT));
        assertEquals(id, lost.handOuts().get(0).jobId());
        assertEquals("dispatch", job(http, id).path("job_stage").asText());
        lost.providers().get(0).abort();

        try (ProviderFleet spare = new ProviderFleet("127.0.0.1", server.port(), 1,
            ProviderFleet.Options.defaults().withHostPrefix("spare")).connect()) {
          assertTrue(ProviderFleet.await(() -> spare.finished() == 1, WAIT), "requeued to the spare: " + spare.errors());
          assertEquals(id, spare.handOuts().get(0).jobId());
          JsonNode j = awaitField(http, id, "job_stage", "finish");
          assertEquals("spare-0000", j.path("host_machine").asText());
          assertEquals("1", j.path("requeue_count").asText());
          assertEquals(1, lost.handOuts().size(), "the lost provider got nothing more");
        }
      }
      // nothing queued: a provider's request parks, and goes the moment the provider drops
      try (ProviderFleet idle = new ProviderFleet("127.0.0.1", server.port(), 1,
          ProviderFleet.Options.defaults().withHostPrefix("idle")).connect()) {
        server.awaitParked(1);
        idle.providers().get(0).abort();
        server.awaitParked(0);
      }
    }
  }

  /**
   * Terminate reaches the provider that holds the job, and only it; the job ends finish with
   * health terminate. With no provider connected, or a job still queued, it ends the same way.
   */
  @Test
  void terminateReachesTheProviderThatHoldsTheJob() throws Exception {
    try (TestServer server = TestServer.start(dir, Map.of())) {
      HttpCalls http = server.http;
      // two 8 GB jobs for two providers of 8 GB: one each
      List<Long> ids = submit(http, "[" + jobs(1, 0).replace("[", "").replace("]", "") + ","
          + jobs(1, 4).replace("[", "").replace("]", "") + "]");
      try (ProviderFleet fleet = new ProviderFleet("127.0.0.1", server.port(), 2,
          ProviderFleet.Options.defaults().withMemory(8192).withRunTime(Duration.ofMinutes(5))).connect()) {
        for (long id : ids) {
          awaitField(http, id, "job_stage", "running");
        }
        long first = ids.get(0);
        long second = ids.get(1);
        String holder = fleet.holderOf(first);
        String other = fleet.holderOf(second);
        assertFalse(holder.equals(other), "one job each: " + holder + " " + other);

        // the dashboard shows each provider with its free memory and the job it holds
        JsonNode hosts = http.get(V1 + "/dashboard/hosts").json().path("hosts");
        for (JsonNode h : hosts) {
          long held = h.path("hostname").asText().equals(holder) ? first : second;
          assertEquals(List.of(Long.toString(held)), List.of(h.path("jobs").get(0).asText()), h.toString());
          assertTrue(h.path("provider").path("connected").asBoolean(), h.toString());
          assertTrue(h.has("free_memory_mb"), h.toString());
        }

        HttpCalls.Answer a = http.post(V1 + "/jobs/" + first + "/terminate", "");
        assertEquals(200, a.status(), a.body());
        assertEquals("terminate", a.json().path("job_health").asText());
        assertEquals("finish", a.json().path("job_stage").asText());
        assertTrue(a.json().path("terminate_sent").asBoolean(), a.body());
        assertTrue(ProviderFleet.await(() -> fleet.terminated().containsKey(first), WAIT));
        assertEquals(Map.of(first, holder), fleet.terminated(), "only the holder hears of it");
        assertEquals(Set.of(second), fleet.provider(other).running());
        assertEquals(Set.of(), fleet.provider(holder).running());
        HttpCalls.Answer again = http.post(V1 + "/jobs/" + first + "/terminate", "");
        assertEquals(403, again.status(), "it has ended: " + again.body());

        fleet.close();
        // with no provider connected the job still ends (once the server has seen the sockets
        // close: the close reaches it a moment after the fleet's own)
        assertTrue(ProviderFleet.await(() -> {
          for (JsonNode h : http.get(V1 + "/dashboard/hosts").json().path("hosts")) {
            if (h.path("provider").path("connected").asBoolean()) {
              return false;
            }
          }
          return true;
        }, WAIT), "the server saw both sockets close");
        a = http.post(V1 + "/jobs/" + second + "/terminate", "");
        assertEquals(200, a.status(), a.body());
        assertFalse(a.json().path("terminate_sent").asBoolean());
        JsonNode j = job(http, second);
        assertEquals("terminate", j.path("job_health").asText());
        assertEquals("finish", j.path("job_stage").asText());
      }
      long queued = submit(http, jobs(1, 8)).get(0);
      // with accounts: a token is needed, and an account ends only its own jobs (u1 owns this one)
      assertEquals(401, server.anonymous.post(V1 + "/jobs/" + queued + "/terminate", "").status());
      HttpCalls bob = server.anonymous.withToken(server.addAccount("bob", "user"));
      assertEquals(403, bob.post(V1 + "/jobs/" + queued + "/terminate", "").status());
      HttpCalls owner = server.anonymous.withToken(server.addAccount("u1", "user"));
      HttpCalls.Answer a = owner.post(V1 + "/jobs/" + queued + "/terminate", "");
      assertEquals(200, a.status(), a.body());
      assertEquals("norun", a.json().path("job_data_readiness").asText());
      assertEquals(0, http.get(V1 + "/dashboard/jobs/pending").json().path("total").asInt());
      assertEquals(404, http.post(V1 + "/jobs/4242/terminate", "").status());
    }
  }

  /** Another socket of the same host takes over; the older one is closed with 1008. */
  @Test
  void aHostThatConnectsAgainReplacesItsOlderSocket() throws Exception {
    try (TestServer server = TestServer.start(dir, Map.of());
        ProviderFleet first = new ProviderFleet("127.0.0.1", server.port(), 1, ProviderFleet.Options.defaults()).connect();
        ProviderFleet second = new ProviderFleet("127.0.0.1", server.port(), 1, ProviderFleet.Options.defaults()).connect()) {
      ProviderFleet.Provider old = first.providers().get(0);
      assertTrue(ProviderFleet.await(old::isClosed, WAIT));
      assertTrue(old.closeReason().startsWith("1008 "), old.closeReason());
      long id = submit(server.http, jobs(1, 0)).get(0);
      assertTrue(ProviderFleet.await(() -> second.finished() == 1, WAIT));
      assertEquals(id, second.handOuts().get(0).jobId());
    }
  }

  /** Opens a provider socket of its own and sends {@code what}; returns how the server closed it. */
  private static SocketClient.Closed closedAfter(int port, String host, java.util.function.Consumer<SocketClient> what) {
    try (SocketClient c = SocketClient.open(port, V1 + "/vm-container-provider/" + host)) {
      what.accept(c);
      SocketClient.Closed closed = c.awaitClosed(WAIT);
      assertNotNull(closed, host + ": the server did not close the socket");
      return closed;
    }
  }

  /**
   * Malformed frames, unknown types, binary frames, a 10 MB frame and 10,000 frames a second
   * each close that socket with a close code and a reason; the server stays healthy, no actor
   * restarts, and providers connected meanwhile are served.
   */
  @Test
  void badInputClosesThatSocketAndTheServerServesTheOthers() throws Exception {
    try (TestServer server = TestServer.start(dir, Map.of());
        ProviderFleet good = new ProviderFleet("127.0.0.1", server.port(), 3,
            ProviderFleet.Options.defaults().withHostPrefix("good")).connect()) {
      HttpCalls http = server.http;
      int port = server.port();
      assertEquals(1007, closedAfter(port, "bad-json", c -> c.send("{not json")).code());
      assertEquals(1007, closedAfter(port, "bad-array", c -> c.send("[1,2,3]")).code());
      SocketClient.Closed unknown = closedAfter(port, "bad-type", c -> c.send("{\"type\":\"console-input\"}"));
      assertEquals(1008, unknown.code());
      assertTrue(unknown.reason().contains("console-input"), unknown.reason());
      assertEquals(1008, closedAfter(port, "no-type", c -> c.send("{\"job_id\":\"1\"}")).code());
      assertEquals(1003, closedAfter(port, "binary", c -> c.sendBinary(new byte[] {1, 2, 3})).code());
      String tenMegabytes = "{\"type\":\"host-job-request\",\"pad\":\"" + "x".repeat(10 << 20) + "\"}";
      SocketClient.Closed big = closedAfter(port, "too-big", c -> c.send(tenMegabytes));
      assertEquals(1009, big.code(), big.reason());
      SocketClient.Closed flood = closedAfter(port, "flood", c -> {
        for (int i = 0; i < 10_000 && !c.isClosed(); i++) {
          c.send("{\"type\":\"host-job-request\",\"freemem\":1024,\"arch\":\"x86_64\"}");
        }
      });
      assertEquals(1008, flood.code(), flood.reason());
      assertTrue(flood.reason().contains("in one second"), flood.reason());
      // watchers' sockets keep the same rules
      try (SocketClient w = SocketClient.open(port, V1 + "/client")) {
        w.nextJson(WAIT);
        w.send("nonsense");
        assertEquals(1007, w.awaitClosed(WAIT).code());
      }
      try (SocketClient w = SocketClient.open(port, V1 + "/client")) {
        w.sendBinary(new byte[10]);
        assertEquals(1003, w.awaitClosed(WAIT).code());
      }

      // well-formed but wrong: an error message, and the socket stays open
      try (SocketClient c = SocketClient.open(port, V1 + "/vm-container-provider/careless")) {
        c.send("{\"type\":\"host-job-request\",\"freemem\":\"lots\"}");
        JsonNode error = c.nextJson(WAIT);
        assertEquals("error", error.path("type").asText());
        assertTrue(error.path("message").asText().startsWith("freemem"), error.toString());
        // a job only the holder may take (target_machines), running there
        long someone = submit(http, jobs(1, 0).replace("\"nr\"", "\"target_machines\":[\"holder-0000\"],\"nr\"")).get(0);
        try (ProviderFleet holder = new ProviderFleet("127.0.0.1", port, 1, ProviderFleet.Options.defaults()
            .withHostPrefix("holder").withRunTime(Duration.ofMinutes(5))).connect()) {
          awaitField(http, someone, "job_stage", "running");
          c.send("{\"type\":\"job-update\",\"job_id\":\"" + someone + "\",\"job_stage\":\"post_run\"}");
          error = c.nextJson(WAIT);
          assertEquals(Long.toString(someone), error.path("job_id").asText(), "a report on another provider's job is refused");
          assertTrue(error.path("message").asText().contains("job_token"), error.toString());
          assertEquals("running", job(http, someone).path("job_stage").asText());
        }
        // an admin's socket may report on any job, as an admin's updates may: the holder check decides
        try (SocketClient adminSocket = SocketClient.open(port, V1 + "/vm-container-provider/overseer", true,
            TestServer.ADMIN_TOKEN)) {
          adminSocket.send("{\"type\":\"job-update\",\"job_id\":\"" + someone + "\",\"job_stage\":\"post_run\"}");
          assertTrue(adminSocket.nextJson(WAIT).path("message").asText().contains("holder-0000"));
        }
        // an admin's right on a socket lasts as long as the token: asked at each report, not once
        String opsToken = http.post(V1 + "/accounts", "{\"name\":\"ops\",\"role\":\"admin\"}").json().path("token").asText();
        try (SocketClient opsSocket = SocketClient.open(port, V1 + "/vm-container-provider/overseer2", true, opsToken)) {
          opsSocket.send("{\"type\":\"job-update\",\"job_id\":\"" + someone + "\",\"job_stage\":\"post_run\"}");
          assertTrue(opsSocket.nextJson(WAIT).path("message").asText().contains("holder-0000"), "an admin's, so far");
          assertEquals(200, http.delete(V1 + "/accounts/ops").status());
          opsSocket.send("{\"type\":\"job-update\",\"job_id\":\"" + someone + "\",\"job_stage\":\"post_run\"}");
          String after = opsSocket.nextJson(WAIT).path("message").asText();
          assertTrue(after.contains("job_token"), "the account is gone: " + after);
        }
        java.util.concurrent.CompletionException wrong = org.junit.jupiter.api.Assertions.assertThrows(
            java.util.concurrent.CompletionException.class,
            () -> SocketClient.open(port, V1 + "/vm-container-provider/forger", true, "sched_forged-forged-forged-forged-forged"));
        assertEquals(401, ((java.net.http.WebSocketHandshakeException) wrong.getCause()).getResponse().statusCode());
        c.send("{\"type\":\"job-update\",\"job_stage\":\"boot\"}");
        assertTrue(c.nextJson(WAIT).path("message").asText().startsWith("job_id"));
        assertTrue(!c.isClosed());
      }

      assertEquals(200, http.get(V1 + "/health").status());
      for (JsonNode a : http.get(V1 + "/manage/actors").json().path("actors")) {
        assertEquals(0, a.path("restarts").asInt(), a.toString());
      }
      submit(http, jobs(30, 1));
      assertTrue(ProviderFleet.await(() -> good.finished() == 30, WAIT), "the good providers are served: " + good.errors());
      assertEquals(List.of(), good.errors());
    }
  }

  /**
   * A provider that asks for work and does not read what it is sent: its boot-jobs wait in the
   * socket's outbox. One that waited past half its dispatch-ack is not written when the provider
   * reads again (its box could report only after the dispatch-ack gave the job to another) but
   * goes back to the queue at once, not counted; the ones written stay with the provider.
   */
  @Test
  void aBootJobThatWaitedBehindAProviderThatDoesNotReadGoesBackToTheQueue() throws Exception {
    int n = 150;
    try (TestServer server = TestServer.start(dir, Map.of("scheduler.timeouts.dispatch-ack", "10s",
            "scheduler.providers.outbox", 1000,
            // small TCP buffers on both sides, so that most boot-jobs wait in the outbox
            "pekko.http.server.socket-options.so-send-buffer-size", 4096));
        java.net.Socket s = new java.net.Socket()) {
      HttpCalls http = server.http;
      List<Long> ids = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        // dc-2g jobs only, all fit the provider's request
        ids.add(submit(http, "{\"suite\":\"sim\",\"testbox\":\"dc-2g\",\"arch\":\"x86_64\","
            + "\"docker_image\":\"centos:9\",\"nr\":" + i + "}").get(0));
      }
      s.setReceiveBufferSize(2048);
      s.connect(new java.net.InetSocketAddress("127.0.0.1", server.port()));
      s.setSoTimeout(20_000);
      java.io.OutputStream out = s.getOutputStream();
      java.io.DataInputStream in = handshake(s, "stuck");
      byte[] ask = ("{\"type\":\"host-job-request\",\"hostname\":\"stuck\",\"arch\":\"x86_64\","
          + "\"tbox_type\":\"dc\",\"freemem\":65536,\"nr_cpu\":8,\"tags\":[],"
          + "\"services\":{\"sched_host\":\"127.0.0.1\",\"sched_port\":\"3000\"}}")
          .getBytes(java.nio.charset.StandardCharsets.UTF_8);
      for (int i = 0; i < n; i++) {
        // a masked text frame (mask 0: the payload as it is)
        out.write(new byte[] {(byte) 0x81, (byte) (0x80 | 126), (byte) (ask.length >> 8), (byte) ask.length, 0, 0, 0, 0});
        out.write(ask);
      }
      out.flush();
      // every job handed out, one per request, none read yet; past half the dispatch-ack (5 s)
      // from the last hand-out, the provider reads: what still waits in the outbox is stale
      assertTrue(ProviderFleet.await(() -> ids.stream().allMatch(
          id -> job(http, id).path("job_stage").asText().equals("dispatch")), WAIT));
      Thread.sleep(5_500);
      Set<Long> read = new HashSet<>();
      s.setSoTimeout(1_500);
      try {
        while (true) {
          int opcode = in.readUnsignedByte() & 0x0f;
          int len = in.readUnsignedByte() & 0x7f;
          long size = len == 126 ? in.readUnsignedShort() : len == 127 ? in.readLong() : len;
          byte[] payload = new byte[(int) size];
          in.readFully(payload);
          if (opcode == 1) {
            JsonNode m = org.compassci.sched.model.Json.parse(new String(payload, java.nio.charset.StandardCharsets.UTF_8));
            if (m.has("job_id") && !m.path("type").asText().equals("error")) {
              assertTrue(read.add(m.path("job_id").asLong()), "sent twice: " + m);
            }
          }
        }
      } catch (java.net.SocketTimeoutException quiet) {
        // all that was written has been read
      }
      assertTrue(!read.isEmpty() && read.size() < n, read.size() + " of " + n + " boot-jobs written");
      for (long id : ids) {
        JsonNode j = job(http, id);
        if (read.contains(id)) {
          // still the provider's: in dispatch, or (on a slow machine, past its 10 s) requeued by
          // its dispatch-ack and counted, never sent back as unsent
          assertTrue(j.path("job_stage").asText().equals("dispatch") || j.path("requeue_count").asInt(0) == 1,
              "written, so not sent back: " + j);
        } else {
          assertEquals("submit", j.path("job_stage").asText(), "never written, so back in the queue: " + j);
          assertEquals(0, j.path("requeue_count").asInt(0), j.toString());
        }
      }
    }
  }

  /** A provider that answers no ping and sends nothing is dropped after the idle timeout (1001). */
  @Test
  void aSilentProviderIsDropped() throws Exception {
    try (TestServer server = TestServer.start(dir, Map.of("scheduler.providers.idle-timeout", "1s",
            "scheduler.providers.ping-interval", "200ms"));
        java.net.Socket s = new java.net.Socket("127.0.0.1", server.port())) {
      s.setSoTimeout(20_000);
      java.io.DataInputStream in = handshake(s, "silent");
      int pings = 0;
      while (true) {
        int opcode = in.readUnsignedByte() & 0x0f;
        int len = in.readUnsignedByte() & 0x7f;
        byte[] payload = new byte[len == 126 ? in.readUnsignedShort() : len];
        in.readFully(payload);
        if (opcode == 9) {
          pings++;
        } else if (opcode == 8) {
          int code = ((payload[0] & 0xff) << 8) | (payload[1] & 0xff);
          assertEquals(1001, code, new String(payload, 2, payload.length - 2, java.nio.charset.StandardCharsets.UTF_8));
          break;
        }
      }
      assertTrue(pings > 0, "pinged before it was dropped");
    }
  }

  /**
   * A container job whose image, cache folders or initrds the provider host would hand on as
   * more than one word (a space, a ';', a '$', a quote) or with a path that climbs out ends
   * abort_invalid, saying which field, and the provider hears nothing of it: its request stays
   * and takes the next job. They went to the provider host as they were submitted.
   */
  @Test
  void aContainerJobWithFieldsAProviderCannotTakeEndsAbortInvalid() throws Exception {
    try (TestServer server = TestServer.start(dir, Map.of());
        SocketClient p = SocketClient.open(server.port(), V1 + "/vm-container-provider/p1")) {
      HttpCalls http = server.http;
      String dc = "{\"suite\":\"sim\",\"testbox\":\"dc-8g\",\"arch\":\"x86_64\",\"my_account\":\"u1\",";
      List<Long> bad = submit(http, "[" + dc + "\"docker_image\":\"centos:9; rm -rf /\"},"
          + dc + "\"docker_image\":\"centos:9\",\"cache_dirs\":[\"ok\",\"../../etc\"]},"
          + dc + "\"docker_image\":\"centos:9\",\"initrds_uri\":[\"http://h/a.cgz $(reboot)\"]},"
          + dc + "\"os\":\"centos\",\"osv\":\"9 --privileged\"},"
          // bash on the provider host reads these in arithmetic, where a[$(cmd)] runs cmd
          + dc + "\"docker_image\":\"centos:9\",\"cpu_minimum\":\"a[$(reboot)]\"},"
          + dc + "\"docker_image\":\"centos:9\",\"hw\":{\"nr_cpu\":\"2 x\"}},"
          // the provider keeps a download under its URL's path as it is
          + dc + "\"docker_image\":\"centos:9\",\"initrds_uri\":[\"http://h/srv/../../etc/cron.d/x\"]}]");
      long good = submit(http, "[" + dc + "\"docker_image\":\"centos:9\",\"cache_dirs\":[\"pkg/cache\"],"
          + "\"cpu_minimum\":\"4\",\"memory_minimum\":\"16\",\"hw\":{\"nr_cpu\":2,\"memory\":\"8G\"}}]").get(0);
      JsonNode boot = onlyTheGoodJobBoots(p, "{\"type\":\"host-job-request\",\"arch\":\"x86_64\",\"tbox_type\":\"dc\","
          + "\"freemem\":65536}", bad.size() + 1, good);
      assertEquals("pkg/cache", boot.path("cache_dirs").asText());
      assertEquals("4", boot.path("cpu_minimum").asText());
      assertEquals("2", boot.path("nr_cpu").asText());
      abortedNaming(http, bad, "docker_image", "cache_dirs", "initrds_uri", "osv", "cpu_minimum", "hw.nr_cpu", "initrds_uri");
    }
  }

  /**
   * Asks for jobs with {@code request} until one boots, and checks it is {@code good}: a request
   * that took a job no boot-job could be written for is spent, and the provider asks again, about
   * once a second, as multi-qemu-docker does.
   */
  private static JsonNode onlyTheGoodJobBoots(SocketClient p, String request, int jobs, long good) {
    JsonNode boot = null;
    for (int ask = 0; ask < jobs + 3 && boot == null; ask++) {
      p.send(request);
      try {
        boot = p.nextJson(Duration.ofSeconds(2));
      } catch (AssertionError nothingYet) {
        // the job it took could not boot
      }
    }
    assertNotNull(boot, "the good job reached the provider");
    assertEquals(Long.toString(good), boot.path("job_id").asText(), "the bad ones never reach the provider: " + boot);
    return boot;
  }

  /** Each of {@code bad} ended abort_invalid, its reason naming the field at the same place in {@code fields}. */
  private static void abortedNaming(HttpCalls http, List<Long> bad, String... fields) throws InterruptedException {
    for (int i = 0; i < bad.size(); i++) {
      JsonNode j = awaitField(http, bad.get(i), "job_stage", "abort_invalid");
      assertTrue(j.path("abort_reason").asText().contains(fields[i]), j.toString());
    }
  }

  /**
   * A VM's provider hands kvm.sh nr_cpu, memory, os, osv and every value under hw as shell
   * variables and reads some in arithmetic (multi-qemu-docker): nr_cpu and memory must be a number
   * or a plain word, the rest hold no $ or backtick, or the job ends abort_invalid before it
   * reaches the provider.
   */
  @Test
  void aVmJobWithValuesTheProviderWouldRunEndsAbortInvalid() throws Exception {
    try (TestServer server = TestServer.start(dir, Map.of());
        SocketClient p = SocketClient.open(server.port(), V1 + "/vm-container-provider/p1")) {
      HttpCalls http = server.http;
      String vm = "{\"suite\":\"sim\",\"testbox\":\"vm-2p8g\",\"arch\":\"x86_64\",\"my_account\":\"u1\","
          + "\"os\":\"openeuler\",\"os_version\":\"22.03\",";
      List<Long> bad = submit(http, "[" + vm + "\"nr_cpu\":\"a[$(reboot)]\"},"
          // a plain word that names a variable: its value is read in arithmetic too
          + vm + "\"hw\":{\"nr_hdd_partitions\":\"x\",\"x\":\"a[$(reboot)]\"}}]");
      // what lkp-tests' job.sh expands on the box itself is no concern of the provider's
      long good = submit(http, "[" + vm + "\"nr_cpu\":2,\"nr_node\":\"$(echo /sys/devices/system/node/node* | wc -w)\","
          + "\"hw\":{\"hdd_partitions\":\"/dev/vdb /dev/vdc\",\"nr_hdd_partitions\":2},"
          + "\"pp\":{\"hackbench\":{\"nr_threads\":\"100%\"}}}]").get(0);
      onlyTheGoodJobBoots(p, "{\"type\":\"host-job-request\",\"hostname\":\"p1\",\"arch\":\"x86_64\",\"tbox_type\":\"vm\","
          + "\"freemem\":16384,\"services\":{\"sched_host\":\"127.0.0.1\",\"sched_port\":\"" + server.port() + "\"}}",
          bad.size() + 1, good);
      abortedNaming(http, bad, "nr_cpu", "hw.x");
    }
  }

  /**
   * The boot-jobs as multi-qemu-docker reads them: a VM's iPXE script is boot.ipxe's text with the
   * job's sealed package link at the provider's sched_host/sched_port, and the package downloads
   * (the job moves to boot); a container gets its image and its initrds as a JSON array in a string.
   */
  @Test
  void bootJobsCarryTheBootScriptOrTheImageAndThePackage() throws Exception {
    try (TestServer server = TestServer.start(dir, Map.of());
        SocketClient p = SocketClient.open(server.port(), V1 + "/vm-container-provider/p1")) {
      HttpCalls http = server.http;
      long vm = submit(http, jobs(1, 0)).get(0);
      p.send("{\"type\":\"host-job-request\",\"hostname\":\"p1\",\"arch\":\"x86_64\",\"tbox_type\":\"vm\","
          + "\"freemem\":16384,\"services\":{\"sched_host\":\"127.0.0.1\",\"sched_port\":\"" + server.port() + "\"}}");
      JsonNode boot = p.nextJson(WAIT);
      assertEquals("boot-job", boot.path("type").asText());
      assertEquals("vm", boot.path("tbox_type").asText());
      assertEquals(Long.toString(vm), boot.path("job_id").asText());
      assertEquals("vm-2p8g", boot.path("tbox_group").asText());
      assertEquals(32, boot.path("job_token").asText().length());
      assertTrue(boot.path("result_root").asText().endsWith("/" + vm));
      String ipxe = boot.path("ipxe_script").asText();
      assertTrue(ipxe.startsWith("#!ipxe\n"), ipxe);
      assertTrue(ipxe.contains("kernel http://127.0.0.1:" + server.port() + "/srv/os/openeuler/x86_64/22.03/boot/vmlinuz"), ipxe);
      java.util.regex.Matcher pkg = java.util.regex.Pattern
          .compile("initrd http://127\\.0\\.0\\.1:" + server.port() + "(/scheduler/v1/packages/\\S+/job\\.cgz)").matcher(ipxe);
      assertTrue(pkg.find(), ipxe);
      assertTrue(ipxe.contains("echo ipxe will boot job id=" + vm), ipxe);
      HttpCalls.Answer cgz = http.get(pkg.group(1));
      assertEquals(200, cgz.status());
      assertEquals("boot", job(http, vm).path("job_stage").asText(), "the download moved it to boot");

      long dc = submit(http, jobs(1, 1)).get(0);
      p.send("{\"type\":\"host-job-request\",\"arch\":\"x86_64\",\"tbox_type\":\"dc\",\"freemem\":8192}");
      boot = p.nextJson(WAIT);
      assertEquals("dc", boot.path("tbox_type").asText());
      assertEquals(Long.toString(dc), boot.path("job_id").asText());
      assertEquals("openeuler/openeuler:22.03", boot.path("docker_image").asText());
      assertTrue(boot.path("initrds").isTextual(), "a JSON array inside a string: " + boot);
      JsonNode initrds = org.compassci.sched.model.Json.parse(boot.path("initrds").asText());
      assertTrue(initrds.isArray() && initrds.size() >= 1, initrds.toString());
      assertTrue(initrds.get(initrds.size() - 1).asText().endsWith("/job.cgz"), "the package last: " + initrds);
      assertEquals(32, boot.path("job_token").asText().length());
      assertTrue(boot.has("os") && boot.has("osv") && boot.has("result_root"), boot.toString());
    }
  }
}
