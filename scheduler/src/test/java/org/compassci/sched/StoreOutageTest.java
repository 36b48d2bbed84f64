package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.compassci.sched.config.SchedulerSettings;
import org.compassci.sched.fixtures.HttpCalls;
import org.compassci.sched.fixtures.TcpProxy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real server on the machine's MariaDB, reached through a proxy the test can cut. */
class StoreOutageTest {

  static final String V1 = "/scheduler/v1";

  @TempDir Path dir;

  private static String storedStage(String database, String id) throws Exception {
    try (Connection c = DriverManager.getConnection("jdbc:mysql://127.0.0.1:3306/" + database + "?user=root");
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT stage FROM jobs WHERE id = " + Long.parseLong(id))) {
      return rs.next() ? rs.getString(1) : "";
    }
  }

  @Test
  void aStageChangeMadeWhileTheStoreIsAwayIsWrittenWhenItIsBack() throws Exception {
    String database = "sched_out_" + Long.toUnsignedString(System.nanoTime(), 36);
    try (TcpProxy proxy = new TcpProxy(3306)) {
      Config config = ConfigFactory.parseMap(Map.of(
              "scheduler.host", "127.0.0.1", "scheduler.port", 0, "scheduler.data-dir", dir.toString(),
              "scheduler.store", "mysql", "scheduler.http.ask-timeout", "20s",
              "scheduler.admin-token", TestServer.ADMIN_TOKEN,
              "scheduler.jdbc-url", "jdbc:mysql://127.0.0.1:" + proxy.port() + "/" + database
                  + "?user=root&connectTimeout=1000&socketTimeout=3000"))
          .withFallback(ConfigFactory.load());
      SchedulerApp.Running server = SchedulerApp.start(config, SchedulerSettings.fromConfig(config))
          .toCompletableFuture().get(60, TimeUnit.SECONDS);
      try {
        HttpCalls http = new HttpCalls("127.0.0.1", server.address().getPort()).withToken(TestServer.ADMIN_TOKEN);
        String id = http.post(V1 + "/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"dc-8g\"}")
            .json().get(0).path("job_id").asText();
        HttpCalls.Answer handedOut = http.get(V1 + "/jobs/dispatch?hostname=d1&tbox_type=dc");
        assertEquals(200, handedOut.status());
        // answered once the lifecycle has read its jobs back at the start: cut after that, or
        // the report waits for a load the cut holds up (no 503 then, only the client's timeout)
        assertEquals(200, http.post(V1 + "/jobs/" + id + "/update?job_stage=boot&job_token="
            + handedOut.json().path("job_token").asText(), "").status());

        proxy.cut();
        HttpCalls.Answer update = http.post(V1 + "/jobs/" + id + "/update?job_stage=running", "");
        assertEquals(503, update.status(), update.body());
        assertEquals(503, http.post(V1 + "/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"dc-8g\"}").status());
        assertEquals("running", http.get(V1 + "/jobs/" + id).json().path("job_stage").asText(),
            "reads of active jobs go on from memory");

        proxy.restore();
        assertTrue(http.awaitHealthy(Duration.ofSeconds(30)));
        String stage = "";
        for (int i = 0; i < 100 && !stage.equals("running"); i++) {
          stage = storedStage(database, id);
          Thread.sleep(100);
        }
        assertEquals("running", stage, "the kept stage change reached the store without a restart");
      } finally {
        server.stop().toCompletableFuture().get(30, TimeUnit.SECONDS);
        try (Connection c = DriverManager.getConnection("jdbc:mysql://127.0.0.1:3306/?user=root");
            Statement st = c.createStatement()) {
          st.execute("DROP DATABASE IF EXISTS " + database);
        }
      }
    }
  }
}
