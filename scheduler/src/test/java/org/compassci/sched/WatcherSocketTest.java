package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.model.ws.Message;
import org.apache.pekko.http.javadsl.model.ws.TextMessage;
import org.apache.pekko.http.javadsl.model.ws.WebSocketRequest;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.compassci.sched.fixtures.EventStream;
import org.compassci.sched.fixtures.HttpCalls;
import org.compassci.sched.fixtures.ProviderFleet;
import org.compassci.sched.fixtures.SocketClient;
import org.compassci.sched.model.Json;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Watchers over WebSocket ({@code /scheduler/v1/client}), on loopback: with the JDK's client
 * ({@link SocketClient}) and with Pekko's, against an SSE reader of the same job.
 */
class WatcherSocketTest {

  static final String V1 = "/scheduler/v1";
  static final Duration WAIT = Duration.ofSeconds(20);
  static final String JOB = "{\"suite\":\"hackbench\",\"testbox\":\"vm-2p8g\",\"arch\":\"x86_64\","
      + "\"os\":\"openeuler\",\"os_version\":\"22.03\",\"my_account\":\"alice\",\"my_token\":\"s3cret\"}";

  @TempDir Path dir;
  TestServer server;
  HttpCalls http;

  @BeforeEach
  void start() throws Exception {
    server = TestServer.start(dir, Map.of("scheduler.watch.max-jobs", 3,
        "pekko.http.parsing.max-uri-length", "16k"));
    http = server.http;
  }

  @AfterEach
  void stop() throws Exception {
    server.close();
  }

  private long submit() {
    HttpCalls.Answer a = http.post(V1 + "/jobs/submit", JOB);
    assertEquals(200, a.status(), a.body());
    return a.json().get(0).path("job_id").asLong();
  }

  private static String watch(long... ids) {
    StringBuilder b = new StringBuilder("{\"type\":\"watch-job-event\",\"job_id\":[");
    for (int i = 0; i < ids.length; i++) {
      b.append(i > 0 ? "," : "").append('"').append(ids[i]).append('"');
    }
    return b.append("]}").toString();
  }

  /** Pekko's WebSocket client: messages in a queue, and a queue to send from. */
  static final class PekkoWatcher implements AutoCloseable {
    final LinkedBlockingQueue<String> in = new LinkedBlockingQueue<>();
    final org.apache.pekko.stream.javadsl.SourceQueueWithComplete<Message> out;

    PekkoWatcher(ActorSystem<?> system, int port) throws Exception {
      Source<Message, org.apache.pekko.stream.javadsl.SourceQueueWithComplete<Message>> send =
          Source.queue(16, org.apache.pekko.stream.OverflowStrategy.fail());
      Sink<Message, CompletionStage<Done>> receive = Sink.foreach(m ->
          in.add(m.asTextMessage().toStrict(5000, org.apache.pekko.stream.Materializer.matFromSystem(system))
              .toCompletableFuture().get(5, TimeUnit.SECONDS).getStrictText()));
      Flow<Message, Message, org.apache.pekko.stream.javadsl.SourceQueueWithComplete<Message>> flow =
          Flow.fromSinkAndSourceMat(receive, send, Keep.right());
      Pair<CompletionStage<org.apache.pekko.http.javadsl.model.ws.WebSocketUpgradeResponse>,
          org.apache.pekko.stream.javadsl.SourceQueueWithComplete<Message>> p =
          Http.get(system).singleWebSocketRequest(WebSocketRequest.create("ws://127.0.0.1:" + port + V1 + "/client"),
              flow, org.apache.pekko.stream.Materializer.matFromSystem(system));
      assertEquals(101, p.first().toCompletableFuture().get(20, TimeUnit.SECONDS).response().status().intValue());
      out = p.second();
    }

    JsonNode next() throws InterruptedException {
      String m = in.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      assertNotNull(m, "no message from the server");
      return Json.parse(m);
    }

    void send(String text) {
      out.offer(TextMessage.create(text));
    }

    @Override
    public void close() {
      out.complete();
    }
  }

  /**
   * The same job followed three ways (SSE, the JDK's WebSocket, Pekko's WebSocket): each change
   * arrives as the same JSON object on all three, in the same order, then the close.
   */
  @Test
  void aWatcherSeesTheSameChangesAsAnSseReader() throws Exception {
    long id = submit();
    ActorSystem<Void> clientSystem = ActorSystem.create(Behaviors.empty(), "watch-client");
    try (EventStream sse = http.events(V1 + "/jobs/" + id + "/events", true);
        SocketClient jdk = SocketClient.open(server.port(), V1 + "/client");
        PekkoWatcher pekko = new PekkoWatcher(clientSystem, server.port());
        ProviderFleet provider = new ProviderFleet("127.0.0.1", server.port(), 1, ProviderFleet.Options.defaults())) {
      JsonNode welcome = jdk.nextJson(WAIT);
      assertEquals("welcome", welcome.path("type").asText());
      assertEquals("connected", welcome.path("status").asText());
      assertEquals("welcome", pekko.next().path("type").asText());
      jdk.send(watch(id));
      pekko.send("{\"type\":\"watch-job-event\",\"job_id\":\"" + id + "\"}");

      List<JsonNode> fromSse = new ArrayList<>();
      List<JsonNode> fromJdk = new ArrayList<>();
      List<JsonNode> fromPekko = new ArrayList<>();
      Runnable step = () -> {
        EventStream.Event e = sse.next(WAIT);
        assertEquals("job", e.name(), e.toString());
        fromSse.add(e.json());
        fromJdk.add(jdk.nextJson(WAIT));
        try {
          fromPekko.add(pekko.next());
        } catch (InterruptedException ex) {
          throw new IllegalStateException(ex);
        }
      };
      step.run(); // the job as it is: queued
      assertEquals("submit", fromJdk.get(0).path("job_stage").asText());
      assertTrue(!fromJdk.get(0).has("my_token"), "no secret on a socket");

      // the provider takes the job and reports nothing by itself: the test reports, one step at a time
      ProviderFleet.Provider p = provider.providers().get(0);
      p.hang();
      provider.connect();
      step.run(); // dispatch
      // the provider reports once it has the boot-job, as a real one does: the watchers hear of
      // the hand-out from the lifecycle, which may be before the socket has sent the boot-job,
      // and a report on a job the socket has not sent is refused (it needs its job_token)
      assertTrue(ProviderFleet.await(() -> p.running().contains(id), WAIT), "the provider got no boot-job");
      for (String update : List.of("\"job_stage\":\"boot\"", "\"job_stage\":\"running\"",
          "\"job_step\":\"hackbench\"", "\"job_stage\":\"finish\",\"job_health\":\"success\"",
          "\"job_data_readiness\":\"norun\"")) {
        p.sendText("{\"type\":\"job-update\",\"job_id\":\"" + id + "\"," + update + "}");
        try {
          step.run();
        } catch (AssertionError e) {
          throw new AssertionError("after the report {" + update + "}: " + e.getMessage()
              + "; the provider heard " + provider.errors(), e);
        }
      }
      assertEquals(fromSse, fromJdk, "the JDK watcher saw what the SSE reader saw");
      assertEquals(fromSse, fromPekko, "Pekko's watcher saw what the SSE reader saw");
      assertEquals(List.of("submit", "dispatch", "boot", "running", "", "finish", ""),
          fromJdk.stream().map(j -> j.path("job_stage").asText()).toList());
      assertEquals("close", sse.next(WAIT).name());
      JsonNode close = jdk.nextJson(WAIT);
      assertEquals("job-close", close.path("type").asText());
      assertEquals(Long.toString(id), close.path("job_id").asText());
      assertEquals("job-close", pekko.next().path("type").asText());
      assertTrue(provider.errors().isEmpty(), provider.errors().toString());
    } finally {
      clientSystem.terminate();
    }
  }

  /**
   * An unknown job id gets an error frame naming it; at most scheduler.watch.max-jobs (3 here)
   * jobs per socket; a job unwatched sends nothing more; the socket stays open through all.
   */
  @Test
  void unknownJobsAndTheLimitGetErrorFramesAndUnwatchStopsTheEvents() throws Exception {
    long a = submit();
    long b = submit();
    long c = submit();
    long d = submit();
    try (SocketClient w = SocketClient.open(server.port(), V1 + "/client")) {
      w.nextJson(WAIT);
      w.send("{\"type\":\"watch-job-event\",\"job_id\":\"4242\"}");
      JsonNode error = w.nextJson(WAIT);
      assertEquals("error", error.path("type").asText());
      assertEquals("4242", error.path("job_id").asText());
      w.send("{\"type\":\"watch-job-event\",\"job_id\":\"abc\"}");
      error = w.nextJson(WAIT);
      assertEquals("error", error.path("type").asText());
      assertEquals("abc", error.path("job_id").asText());

      w.send(watch(a, b, c, d));
      List<JsonNode> got = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        got.add(w.nextJson(WAIT));
      }
      JsonNode refused = got.stream().filter(j -> j.path("type").asText().equals("error")).findFirst().orElseThrow();
      assertEquals(Long.toString(d), refused.path("job_id").asText(), got.toString());
      assertTrue(refused.path("message").asText().contains("at most 3"), refused.toString());

      w.send("{\"type\":\"unwatch-job-event\",\"job_id\":\"" + a + "\"}");
      w.send("{\"type\":\"watch-job-event\",\"job_id\":\"" + d + "\"}");
      assertEquals(Long.toString(d), w.nextJson(WAIT).path("job_id").asText(), "room again after an unwatch");
      assertEquals(200, http.post(V1 + "/jobs/" + a + "/cancel", "").status());
      assertEquals(200, http.post(V1 + "/jobs/" + b + "/cancel", "").status());
      // a's cancel is not sent (unwatched); b's change and its close are
      JsonNode next = w.nextJson(WAIT);
      assertEquals(Long.toString(b), next.path("job_id").asText(), next.toString());
      assertEquals("cancel", next.path("job_stage").asText());
      JsonNode close = w.nextJson(WAIT);
      assertEquals("job-close", close.path("type").asText());
      assertEquals(Long.toString(b), close.path("job_id").asText());
      assertNull(w.next(Duration.ofMillis(300)), "nothing about the unwatched job");
      assertTrue(!w.isClosed());
    }
  }

  /**
   * A watcher that reads nothing while it names job after job (here past its limit of 3, each
   * answered with an error of its own): what waits for it is bounded, and past the bound the
   * socket is closed (1008) instead of the server's memory growing with every id it sends.
   */
  @Test
  void aWatcherThatNamesJobsWithoutReadingIsClosed() throws Exception {
    long a = submit();
    long b = submit();
    long c = submit();
    int messages = 100;
    int idsEach = 1000;
    try (SocketClient w = SocketClient.open(server.port(), V1 + "/client", false)) {
      w.send(watch(a, b, c)).get(10, TimeUnit.SECONDS);
      for (int m = 0; m < messages; m++) {
        long[] ids = new long[idsEach];
        for (int i = 0; i < idsEach; i++) {
          ids[i] = 1_000_000_000_000_000L + (long) m * idsEach + i;
        }
        w.send(watch(ids)).get(10, TimeUnit.SECONDS);
      }
      w.startReading();
      int read = 0;
      while (w.next(Duration.ofSeconds(5)) != null) {
        read++;
      }
      SocketClient.Closed closed = w.awaitClosed(WAIT);
      assertNotNull(closed, "still open after " + read + " messages");
      assertEquals(1008, closed.code(), closed.reason());
      assertTrue(closed.reason().contains("reads too slowly"), closed.reason());
      assertTrue(read < messages * idsEach, read + " messages");
    }
  }

  /**
   * A watcher that stops reading while its job changes 2,000 times: the socket keeps at most one
   * pending message per job, so it gets the merged state, not every change.
   */
  @Test
  void aSlowWatcherGetsMergedStateNotAnEndlessQueue() throws Exception {
    long id = submit();
    HttpCalls.Answer handed = http.get(V1 + "/jobs/dispatch?hostname=h1&arch=x86_64&tbox_type=vm&freemem=16384");
    assertEquals(200, handed.status());
    String filler = "x".repeat(12_000);
    int updates = 2000;
    try (SocketClient w = SocketClient.open(server.port(), V1 + "/client", false)) {
      w.send(watch(id)).get(10, TimeUnit.SECONDS);
      Thread.sleep(300);
      List<CompletableFuture<HttpCalls.Answer>> inFlight = new ArrayList<>();
      for (int i = 1; i <= updates; i++) {
        inFlight.add(http.postAsync(V1 + "/jobs/" + id + "/update?step_note=" + i + "-" + filler, ""));
        if (inFlight.size() == 16) {
          for (CompletableFuture<HttpCalls.Answer> f : inFlight) {
            assertEquals(200, f.get(20, TimeUnit.SECONDS).status());
          }
          inFlight.clear();
        }
      }
      for (CompletableFuture<HttpCalls.Answer> f : inFlight) {
        assertEquals(200, f.get(20, TimeUnit.SECONDS).status());
      }
      assertEquals(200, http.post(V1 + "/jobs/" + id + "/update?job_stage=finish&job_health=success&job_data_readiness=norun", "").status());
      w.startReading();
      assertEquals("welcome", w.nextJson(WAIT).path("type").asText());
      int events = 0;
      boolean wholeState = false;
      JsonNode m = w.nextJson(WAIT);
      while (!m.path("type").asText().equals("job-close")) {
        events++;
        if (events > 1 && m.has("suite")) {
          wholeState = true;
        }
        m = w.nextJson(WAIT);
      }
      assertTrue(events < updates / 2, "merged, not queued: " + events + " messages for " + updates + " changes");
      assertTrue(wholeState, "a watcher that fell behind gets the whole state");
    }
  }

  /** Not a WebSocket handshake: 400, not a hang or a 500. */
  @Test
  void plainHttpOnTheSocketPathsGets400() {
    assertEquals(400, http.get(V1 + "/client").status());
    assertEquals(400, http.get(V1 + "/vm-container-provider/h1").status());
  }
}
