package org.compassci.sched;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.compassci.sched.config.SchedulerSettings;
import org.compassci.sched.fixtures.HttpCalls;

/** The real scheduler in this JVM, on a free loopback port, its embedded store in {@code dir}. */
final class TestServer implements AutoCloseable {

  /** The admin account's token in every test server (SCHED_ADMIN_TOKEN), unless a test sets its own. */
  static final String ADMIN_TOKEN = "test-admin-token-7f3a9c2e51d84b06";

  final SchedulerApp.Running running;
  /** Shows the admin's token: tests that are not about who may call use it. */
  final HttpCalls http;
  /** Shows no token at all. */
  final HttpCalls anonymous;

  private TestServer(SchedulerApp.Running running, String adminToken) {
    this.running = running;
    this.anonymous = new HttpCalls("127.0.0.1", running.address().getPort());
    this.http = anonymous.withToken(adminToken);
  }

  static TestServer start(Path dir, Map<String, Object> overrides) throws Exception {
    Map<String, Object> base = new HashMap<>(Map.of(
        "scheduler.host", "127.0.0.1", "scheduler.port", 0,
        "scheduler.data-dir", dir.toString(),
        "scheduler.admin-token", ADMIN_TOKEN,
        "scheduler.extract.results-dir", dir.resolve("results").toString()));
    Config config = ConfigFactory.parseMap(overrides)
        .withFallback(ConfigFactory.parseMap(base))
        .withFallback(ConfigFactory.load());
    SchedulerSettings settings = SchedulerSettings.fromConfig(config);
    TestServer server = new TestServer(SchedulerApp.start(config, settings)
        .toCompletableFuture().get(30, TimeUnit.SECONDS), settings.adminToken().orElse(null));
    // the matcher answers queue counts once its queue is loaded: until then a dispatch gets 503
    server.http.get("/scheduler/v1/dashboard/jobs/pending?group_by=my_account");
    return server;
  }

  /** How many dispatch requests the matcher holds parked now. */
  int parkedTestboxes() {
    for (var actor : http.get("/scheduler/v1/manage/actors").json().path("actors")) {
      if (actor.path("name").asText().equals("matcher")) {
        return actor.path("holds").path("parked_testboxes").asInt();
      }
    }
    throw new IllegalStateException("no matcher in manage/actors");
  }

  /** Waits (at most 10 s) until the matcher holds {@code count} parked requests. */
  void awaitParked(int count) throws InterruptedException {
    int seen = -1;
    for (int i = 0; i < 200 && seen != count; i++) {
      seen = parkedTestboxes();
      if (seen != count) {
        Thread.sleep(50);
      }
    }
    if (seen != count) {
      throw new AssertionError(seen + " requests parked, not " + count);
    }
  }

  /** A new account's token, made through the API by the admin. */
  String addAccount(String name, String role) {
    var a = http.post("/scheduler/v1/accounts", "{\"name\":\"" + name + "\",\"email\":\"" + name
        + "@example.org\",\"role\":\"" + role + "\"}");
    if (a.status() != 201) {
      throw new IllegalStateException("cannot make account " + name + ": " + a.status() + " " + a.body());
    }
    return a.json().path("token").asText();
  }

  /** Removes a folder a server of a whole test class used; what the store still closes is left. */
  static void deleteQuietly(Path dir) {
    try (var paths = java.nio.file.Files.walk(dir)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (java.io.IOException | RuntimeException e) {
      // a temporary folder: the system cleans it up in the end
    }
  }

  int port() {
    return running.address().getPort();
  }

  @Override
  public void close() throws Exception {
    running.stop().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }
}
