package org.compassci.sched.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.compassci.sched.SchedulerApp;
import org.compassci.sched.config.SchedulerSettings;
import org.compassci.sched.fixtures.HttpCalls;
import org.compassci.sched.fixtures.HttpCalls.Answer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** A watch outlives a restart of the scheduler: it reconnects and still sees the job's end. */
class WatchReconnectTest {

  static final String V1 = "/scheduler/v1";

  @TempDir Path dir;

  private SchedulerApp.Running start(int port) throws Exception {
    Config config = ConfigFactory.parseMap(Map.of(
            "scheduler.host", "127.0.0.1", "scheduler.port", port,
            "scheduler.data-dir", dir.resolve("data").toString(),
            "scheduler.admin-token", org.compassci.sched.TestServerAccess.ADMIN_TOKEN,
            "scheduler.extract.results-dir", dir.resolve("results").toString()))
        .withFallback(ConfigFactory.load());
    return SchedulerApp.start(config, SchedulerSettings.fromConfig(config))
        .toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  private static void ok(Answer a) {
    assertEquals(200, a.status(), a.body());
  }

  @Test
  void aWatchReconnectsAfterTheServerRestarts() throws Exception {
    SchedulerApp.Running server = start(0);
    int port = server.address().getPort();
    HttpCalls http = new HttpCalls("127.0.0.1", port).withToken(org.compassci.sched.TestServerAccess.ADMIN_TOKEN);
    Answer submitted = http.post(V1 + "/jobs/submit", "{\"suite\":\"hackbench\",\"testbox\":\"dc-8g\"}");
    ok(submitted);
    String id = submitted.json().get(0).path("job_id").asText();
    ok(http.get(V1 + "/jobs/dispatch?hostname=d1&tbox_type=dc&freemem=9000"));
    ok(http.post(V1 + "/jobs/" + id + "/update?job_stage=running", ""));

    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = Cli.commandLine(Map.of(), new ByteArrayInputStream(new byte[0]));
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    CompletableFuture<Integer> watch = CompletableFuture.supplyAsync(
        () -> cl.execute("--server", "http://127.0.0.1:" + port, "watch", id));
    try {
      awaitText(out, id + " running", watch);
      server.stop().toCompletableFuture().get(30, TimeUnit.SECONDS);
      awaitText(err, "reconnecting", watch);

      server = start(port);
      ok(http.post(V1 + "/jobs/" + id + "/update?job_stage=finish&job_health=success", ""));
      ok(http.post(V1 + "/jobs/" + id + "/update?job_data_readiness=norun", ""));
      assertEquals(0, watch.get(60, TimeUnit.SECONDS), out + "\n" + err);
      assertTrue(out.toString().contains(id + " finish health=success"), out.toString());
      assertTrue(out.toString().endsWith(id + " ended in finish: health=success data=norun\n"), out.toString());
      assertEquals(1, out.toString().lines().filter(l -> l.contains(id + " running")).count(),
          "the state sent again on reconnect is not shown twice: " + out);
    } finally {
      server.stop().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  /** Waits (30 s at most) for {@code text} in what the watch wrote; fails at once if it ended. */
  static void awaitText(StringWriter w, String text, CompletableFuture<Integer> watch)
      throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!w.toString().contains(text)) {
      if (System.nanoTime() > end || watch.isDone()) {
        throw new AssertionError("no '" + text + "' in: " + w + (watch.isDone() ? " (watch ended: " + watch.join() + ")" : ""));
      }
      Thread.sleep(20);
    }
  }
}
