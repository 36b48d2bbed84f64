package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.compassci.sched.fixtures.HttpCalls;
import org.compassci.sched.fixtures.HttpCalls.Answer;
import org.compassci.sched.fixtures.TcpProxy;
import org.compassci.sched.persistence.ListenPorts;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Acceptance: a submit whose jobs were committed but whose answer never reached the client, the
 * scheduler then killed with SIGKILL; the client retries with its Idempotency-Key against the
 * restarted scheduler and gets the first answer, and there is exactly one set of jobs.
 */
class RetriedSubmitIT {

  static final String V1 = "/scheduler/v1";
  static final String TOKEN = TestServer.ADMIN_TOKEN;

  @TempDir Path dir;
  private final List<Process> started = new ArrayList<>();

  @AfterEach
  void kill() {
    started.forEach(Process::destroyForcibly);
  }


  private HttpCalls launch(int port, Map<String, String> store, Path log) throws Exception {
    String jar = System.getProperty("scheduler.jar", "target/scheduler.jar");
    ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx384m", "-jar", jar).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().keySet().removeIf(k -> k.startsWith("SCHED_"));
    Map<String, String> env = new HashMap<>(Map.of("SCHED_HOST", "127.0.0.1", "SCHED_PORT", Integer.toString(port),
        "SCHED_DATA_DIR", dir.resolve("data").toString(), "SCHED_ADMIN_TOKEN", TOKEN));
    env.putAll(store);
    pb.environment().putAll(env);
    started.add(pb.start());
    HttpCalls http = new HttpCalls("127.0.0.1", port).withToken(TOKEN);
    assertTrue(http.awaitHealthy(Duration.ofSeconds(60)), "server did not start: " + Files.readString(log));
    assertEquals(200, http.get(V1 + "/manage/actors").status());
    return http;
  }

  private static Answer submit(HttpCalls c, String key) {
    return c.send("POST", V1 + "/jobs/submit",
        "[{\"suite\":\"hackbench\",\"testbox\":\"crash\",\"nr\":1},{\"suite\":\"hackbench\",\"testbox\":\"crash\",\"nr\":2}]",
        "Content-Type", "application/json", "Idempotency-Key", key);
  }

  @ParameterizedTest
  @ValueSource(strings = {"embedded", "mysql"})
  void aRetriedSubmitAfterASigkillBetweenCommitAndAnswerMakesItsJobsOnce(String kind) throws Exception {
    Map<String, String> store = new HashMap<>();
    String database = "sched_retry_" + Long.toUnsignedString(System.nanoTime(), 36);
    if (kind.equals("mysql")) {
      store.put("SCHED_STORE", "mysql");
      store.put("SCHED_JDBC_URL", "jdbc:mysql://127.0.0.1:3306/" + database + "?user=root");
    }
    try {
      int port = ListenPorts.one();
      launch(port, store, dir.resolve("run1.log"));
      try (TcpProxy proxy = new TcpProxy(port)) {
        // the scheduler stores the jobs and answers; the answer is lost on its way
        proxy.dropAnswers(true);
        HttpCalls via = new HttpCalls("127.0.0.1", proxy.port()).withToken(TOKEN);
        assertThrows(UncheckedIOException.class, () -> submit(via, "crash-run-1"));
      }
      started.get(0).destroyForcibly().waitFor(30, TimeUnit.SECONDS); // SIGKILL: no shutdown, no flush

      HttpCalls http = launch(port, store, dir.resolve("run2.log"));
      Answer retried = submit(http, "crash-run-1");
      assertEquals(200, retried.status(), retried.body());
      assertEquals("true", retried.raw().headers().firstValue("Idempotent-Replayed").orElse(""),
          "the first answer, from the store: " + retried.body());
      assertEquals(2, retried.json().size());
      Answer again = submit(http, "crash-run-1");
      assertEquals(retried.body(), again.body());
      assertEquals(2, http.get(V1 + "/dashboard/jobs/pending").json().path("total").asInt(),
          "exactly one set of jobs");
      for (int i = 0; i < 2; i++) {
        String id = retried.json().get(i).path("job_id").asText();
        assertEquals("submit", http.get(V1 + "/jobs/" + id).json().path("job_stage").asText());
      }
      // a new key is a new submit
      assertEquals(200, submit(http, "crash-run-2").status());
      assertEquals(4, http.get(V1 + "/dashboard/jobs/pending").json().path("total").asInt());
    } finally {
      if (kind.equals("mysql")) {
        try (java.sql.Connection c = java.sql.DriverManager.getConnection("jdbc:mysql://127.0.0.1:3306/?user=root");
            java.sql.Statement st = c.createStatement()) {
          st.execute("DROP DATABASE IF EXISTS " + database);
        }
      }
    }
  }
}
