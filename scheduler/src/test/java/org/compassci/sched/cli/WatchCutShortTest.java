package org.compassci.sched.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayInputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * A server (or a proxy before it) that ends every event stream right after the job's state: the
 * watch opens it again for its reconnect window and then gives up (exit 3). The state sent again
 * at each reopening had counted as a sign of life, and the watch reconnected every second for good.
 */
class WatchCutShortTest {

  @Test
  void aStreamCutAfterTheStateEachTimeEndsTheWatch() throws Exception {
    AtomicInteger opened = new AtomicInteger();
    HttpServer server = cuttingServer(opened);
    try {
      StringWriter out = new StringWriter();
      StringWriter err = new StringWriter();
      SchedulerClient client = new SchedulerClient("http://127.0.0.1:" + server.getAddress().getPort());
      JobWatch watch = new JobWatch(client, new PrintWriter(out, true), new PrintWriter(err, true), ZoneOffset.UTC,
          Duration.ofSeconds(3));
      CliFailure f = assertTimeoutPreemptively(Duration.ofSeconds(60),
          () -> assertThrows(CliFailure.class, () -> watch.follow(List.of("5"))));
      assertEquals(Cli.UNREACHABLE, f.exitCode(), f.getMessage());
      assertTrue(f.getMessage().contains("keeps ending"), f.getMessage());
      // the first stream, then about one a second for the window
      assertTrue(opened.get() >= 2 && opened.get() <= 10, opened.get() + " streams opened");
      assertEquals(1, out.toString().lines().count(), "the state is shown once: " + out);
    } finally {
      server.stop(0);
    }
  }

  /** {@code --retry-for} is the watch's reconnect window too: it was 60 s whatever the option said. */
  @Test
  void theReconnectWindowIsRetryFor() throws Exception {
    HttpServer server = cuttingServer(new AtomicInteger());
    try {
      StringWriter out = new StringWriter();
      StringWriter err = new StringWriter();
      picocli.CommandLine cl = Cli.commandLine(Map.of(), new ByteArrayInputStream(new byte[0]));
      cl.setOut(new PrintWriter(out, true));
      cl.setErr(new PrintWriter(err, true));
      long start = System.nanoTime();
      int code = assertTimeoutPreemptively(Duration.ofSeconds(50), () -> cl.execute(
          "--server", "http://127.0.0.1:" + server.getAddress().getPort(), "--retry-for", "2", "watch", "5"));
      assertEquals(Cli.UNREACHABLE, code, err.toString());
      assertTrue(err.toString().contains("keeps ending"), err.toString());
      // a window of 2 s; the 60 s it was would take the test past its limit
      assertTrue(System.nanoTime() - start < Duration.ofSeconds(30).toNanos(), "gave up late: " + err);
    } finally {
      server.stop(0);
    }
  }

  /** A server that ends every event stream of job 5 right after its state. */
  private static HttpServer cuttingServer(AtomicInteger opened) throws java.io.IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/scheduler/v1/jobs/5/events", exchange -> {
      opened.incrementAndGet();
      byte[] state = ("event: job\ndata: {\"job_id\":\"5\",\"job_stage\":\"running\",\"job_health\":\"unknown\"}\n\n")
          .getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().add("Content-Type", "text/event-stream");
      exchange.sendResponseHeaders(200, state.length);
      try (OutputStream body = exchange.getResponseBody()) {
        body.write(state);
      }
    });
    server.start();
    return server;
  }
}
