package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.compassci.sched.fixtures.HttpCalls;
import org.compassci.sched.fixtures.HttpCalls.Answer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A stopping scheduler answers what it holds before it closes its connections. */
class ShutdownTest {

  private static final String V1 = "/scheduler/v1";

  @TempDir Path dir;

  @Test
  void aParkedPollIsAnsweredNoJobAtShutdownNotCutOff() throws Exception {
    TestServer server = TestServer.start(dir, Map.of());
    HttpCalls http = server.http;
    assertEquals(200, http.post(V1 + "/jobs/submit",
        "{\"suite\":\"s\",\"testbox\":\"vm-2p8g\",\"arch\":\"aarch64\"}").status());
    CompletableFuture<Answer> parked = http.getAsync(V1 + "/jobs/dispatch?hostname=r1&arch=riscv64&wait=30");
    server.awaitParked(1);
    long start = System.nanoTime();
    server.close();
    Answer answer = parked.get(10, TimeUnit.SECONDS);
    assertEquals(204, answer.status(), answer.body());
    assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(20));
  }

  /**
   * A box whose parked poll was answered 204 by a stopping scheduler asks again at once, on the
   * same keep-alive connection. That request is not served: it gets 503 with Connection: close,
   * and the job that would fit it stays queued. Served, it was handed the job while the drain
   * was ending, the connection was closed under its answer, and the job waited out its
   * dispatch-ack (in a cluster's graceful hand-over, two runs of five).
   */
  @Test
  void aRequestThatComesInWhileTheServerDrainsIsTurnedAwayNotHandedAJob() throws Exception {
    TestServer server = TestServer.start(dir, Map.of());
    String id = server.http.post(V1 + "/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"vm-2p8g\",\"arch\":\"aarch64\"}")
        .json().get(0).path("job_id").asText();
    String answer;
    try (java.net.Socket box = new java.net.Socket("127.0.0.1", server.port())) {
      box.setSoTimeout(20_000);
      java.io.OutputStream out = box.getOutputStream();
      java.io.InputStream in = box.getInputStream();
      out.write(("GET " + V1 + "/jobs/dispatch?hostname=r1&arch=riscv64&wait=30 HTTP/1.1\r\nHost: s\r\n\r\n")
          .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      out.flush();
      server.awaitParked(1);
      CompletableFuture<Void> stopped = CompletableFuture.runAsync(() -> {
        try {
          server.close();
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      String first = readResponse(in);
      assertTrue(first.startsWith("HTTP/1.1 204"), first);
      // at once, on the same connection: a job fits this one
      out.write(("GET " + V1 + "/jobs/dispatch?hostname=a1&arch=aarch64&tbox_type=vm&freemem=16384 HTTP/1.1\r\n"
          + "Host: s\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      out.flush();
      answer = readResponse(in);
      stopped.get(30, TimeUnit.SECONDS);
    }
    // a box too slow to ask again within the drain's last moment finds the connection closed:
    // served nothing either way, which the job's stage below shows
    if (!answer.equals("<closed>")) {
      assertTrue(answer.startsWith("HTTP/1.1 503"), answer);
      assertTrue(answer.toLowerCase(java.util.Locale.ROOT).contains("connection: close"), answer);
      assertTrue(answer.toLowerCase(java.util.Locale.ROOT).contains("retry-after: 1"), answer);
    }
    TestServer again = TestServer.start(dir, Map.of());
    try {
      assertEquals("submit", again.http.get(V1 + "/jobs/" + id).json().path("job_stage").asText(),
          "the job stays queued");
    } finally {
      again.close();
    }
  }

  /**
   * A provider's socket is not cut off with the connections at shutdown: it is closed with 1001
   * and a reason, behind the boot-job it was sent (the provider connects again elsewhere).
   * Before, the connections' close dropped the socket without a close frame, and a boot-job
   * still on its way to it was lost, its job waiting out the dispatch-ack.
   */
  @Test
  void aProviderSocketIsClosedWith1001BehindTheBootJobItWasSent() throws Exception {
    TestServer server = TestServer.start(dir, Map.of());
    long id = server.http.post(V1 + "/jobs/submit", org.compassci.sched.fixtures.ProviderFleet.jobs(1, 0))
        .json().get(0).path("job_id").asLong();
    // a provider that reads only after the shutdown: what it was sent waits in the socket
    try (org.compassci.sched.fixtures.SocketClient p = org.compassci.sched.fixtures.SocketClient.open(
        server.port(), V1 + "/vm-container-provider/p1", false)) {
      p.send("{\"type\":\"host-job-request\",\"hostname\":\"p1\",\"arch\":\"x86_64\",\"tbox_type\":\"vm\","
          + "\"freemem\":16384}");
      assertTrue(org.compassci.sched.fixtures.ProviderFleet.await(() -> "dispatch".equals(
          server.http.get(V1 + "/jobs/" + id).json().path("job_stage").asText()), java.time.Duration.ofSeconds(20)));
      server.close();
      p.startReading();
      com.fasterxml.jackson.databind.JsonNode boot = p.nextJson(java.time.Duration.ofSeconds(10));
      assertEquals("boot-job", boot.path("type").asText());
      assertEquals(Long.toString(id), boot.path("job_id").asText());
      org.compassci.sched.fixtures.SocketClient.Closed closed = p.awaitClosed(java.time.Duration.ofSeconds(10));
      assertEquals(1001, closed == null ? 0 : closed.code(), String.valueOf(closed));
      assertTrue(closed.reason().contains("shutting down"), closed.reason());
    }
    // the boot-job was sent: the job stays the provider's, not sent back to the queue
    TestServer again = TestServer.start(dir, Map.of());
    try {
      assertEquals("dispatch", again.http.get(V1 + "/jobs/" + id).json().path("job_stage").asText());
    } finally {
      again.close();
    }
  }

  /** One HTTP/1.1 response: its head, and its body by Content-Length. */
  private static String readResponse(java.io.InputStream in) throws java.io.IOException {
    StringBuilder head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n")) {
      int b;
      try {
        b = in.read();
      } catch (java.net.SocketException reset) {
        b = -1;
      }
      if (b < 0) {
        return head.append("<closed>").toString();
      }
      head.append((char) b);
    }
    java.util.regex.Matcher length = java.util.regex.Pattern.compile("(?i)content-length: *(\\d+)").matcher(head);
    int n = length.find() ? Integer.parseInt(length.group(1)) : 0;
    byte[] body = in.readNBytes(n);
    return head + new String(body, java.nio.charset.StandardCharsets.UTF_8);
  }
}
