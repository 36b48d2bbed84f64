package org.compassci.sched.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.compassci.sched.SchedulerApp;
import org.compassci.sched.config.SchedulerSettings;
import org.compassci.sched.fixtures.HttpCalls;
import org.compassci.sched.fixtures.HttpCalls.Answer;
import org.compassci.sched.fixtures.TcpProxy;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/**
 * A watch whose connection goes silent without closing (a NAT or a proxy that forgot it) opens it
 * again after --idle-timeout and still sees the job's end. It used to wait for good.
 */
class WatchIdleTest {

  static final String V1 = "/scheduler/v1";

  @TempDir Path dir;

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void aSilentConnectionIsOpenedAgain(boolean overSocket) throws Exception {
    Config config = ConfigFactory.parseMap(Map.of(
            "scheduler.host", "127.0.0.1", "scheduler.port", 0,
            "scheduler.data-dir", dir.resolve("data").toString(),
            "scheduler.admin-token", org.compassci.sched.TestServerAccess.ADMIN_TOKEN,
            "scheduler.extract.results-dir", dir.resolve("results").toString()))
        .withFallback(ConfigFactory.load());
    SchedulerApp.Running server = SchedulerApp.start(config, SchedulerSettings.fromConfig(config))
        .toCompletableFuture().get(30, TimeUnit.SECONDS);
    try (TcpProxy proxy = new TcpProxy(server.address().getPort())) {
      HttpCalls http = new HttpCalls("127.0.0.1", server.address().getPort())
          .withToken(org.compassci.sched.TestServerAccess.ADMIN_TOKEN);
      Answer submitted = http.post(V1 + "/jobs/submit", "{\"suite\":\"hackbench\",\"testbox\":\"dc-8g\"}");
      assertEquals(200, submitted.status(), submitted.body());
      String id = submitted.json().get(0).path("job_id").asText();
      assertEquals(200, http.get(V1 + "/jobs/dispatch?hostname=d1&tbox_type=dc&freemem=9000").status());
      assertEquals(200, http.post(V1 + "/jobs/" + id + "/update?job_stage=running", "").status());

      StringWriter out = new StringWriter();
      StringWriter err = new StringWriter();
      CommandLine cl = Cli.commandLine(Map.of(), new ByteArrayInputStream(new byte[0]));
      cl.setOut(new PrintWriter(out, true));
      cl.setErr(new PrintWriter(err, true));
      List<String> args = new ArrayList<>(List.of("--server", "http://127.0.0.1:" + proxy.port(), "watch",
          "--idle-timeout", "2"));
      if (overSocket) {
        args.add("--ws");
      }
      args.add(id);
      CompletableFuture<Integer> watch = CompletableFuture.supplyAsync(() -> cl.execute(args.toArray(String[]::new)));
      WatchReconnectTest.awaitText(out, id + " running", watch);

      // the watch's connection goes silent, open; the job ends meanwhile
      proxy.silenceOpen();
      assertEquals(200, http.post(V1 + "/jobs/" + id + "/update?job_stage=finish&job_health=success", "").status());
      assertEquals(200, http.post(V1 + "/jobs/" + id + "/update?job_data_readiness=norun", "").status());

      int code;
      try {
        code = watch.get(30, TimeUnit.SECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        throw new AssertionError("the watch did not end: " + out + "\n" + err);
      }
      assertEquals(0, code, out + "\n" + err);
      assertTrue(err.toString().contains("nothing from http://127.0.0.1:" + proxy.port() + " for 2 s"), err.toString());
      assertTrue(out.toString().endsWith(id + " ended in finish: health=success data=norun\n"), out.toString());
    } finally {
      server.stop().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }
}
