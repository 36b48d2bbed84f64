package org.compassci.sched.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * A watch whose stream ends while the cluster moves its singletons: the node answers 503 for a
 * while (its lifecycle is away), and the watch waits that out as it waits out a node that is
 * down, instead of ending with exit 4. The server is a stand-in on loopback that answers as a
 * node does during a failover: an event, then 503 twice, then the job's end.
 */
class WatchThroughFailoverTest {

  @Test
  void aWatchWaitsOutTheBusyAnswersOfAFailover() throws Exception {
    AtomicInteger opened = new AtomicInteger();
    HttpServer node = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    node.createContext("/scheduler/v1/jobs/7/events", ex -> {
      int n = opened.incrementAndGet();
      if (n == 2 || n == 3) {
        byte[] busy = "{\"error\":\"the scheduler is busy, try again\"}".getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("Content-Type", "application/json");
        ex.getResponseHeaders().add("Retry-After", "1");
        ex.sendResponseHeaders(503, busy.length);
        ex.getResponseBody().write(busy);
        ex.close();
        return;
      }
      String events = n == 1
          ? "event: job\ndata: {\"job_id\":\"7\",\"job_stage\":\"running\"}\n\n"
          : "event: job\ndata: {\"job_id\":\"7\",\"job_stage\":\"finish\",\"job_health\":\"success\","
              + "\"job_data_readiness\":\"norun\"}\n\nevent: close\ndata: {\"job_id\":\"7\"}\n\n";
      byte[] body = events.getBytes(StandardCharsets.UTF_8);
      ex.getResponseHeaders().add("Content-Type", "text/event-stream");
      ex.sendResponseHeaders(200, body.length);
      ex.getResponseBody().write(body);
      ex.close();
    });
    node.start();
    try {
      StringWriter out = new StringWriter();
      StringWriter err = new StringWriter();
      CommandLine cl = Cli.commandLine(Map.of(), new ByteArrayInputStream(new byte[0]));
      cl.setOut(new PrintWriter(out, true));
      cl.setErr(new PrintWriter(err, true));
      int code = CompletableFuture.supplyAsync(() -> cl.execute("--server",
          "http://127.0.0.1:" + node.getAddress().getPort(), "watch", "7")).get(60, TimeUnit.SECONDS);
      assertEquals(0, code, out + "\n" + err);
      assertTrue(out.toString().contains("7 running"), out.toString());
      assertTrue(out.toString().contains("7 ended in finish: health=success data=norun"), out.toString());
      assertEquals(4, opened.get(), "one stream, two busy answers, the stream again");
    } finally {
      node.stop(0);
    }
  }
}
