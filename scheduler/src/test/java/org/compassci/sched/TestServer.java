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

  final SchedulerApp.Running running;
  final HttpCalls http;

  private TestServer(SchedulerApp.Running running) {
    this.running = running;
    this.http = new HttpCalls("127.0.0.1", running.address().getPort());
  }

  static TestServer start(Path dir, Map<String, Object> overrides) throws Exception {
    Map<String, Object> base = new HashMap<>(Map.of(
        "scheduler.host", "127.0.0.1", "scheduler.port", 0,
        "scheduler.data-dir", dir.toString(),
        "scheduler.extract.results-dir", dir.resolve("results").toString()));
    Config config = ConfigFactory.parseMap(overrides)
        .withFallback(ConfigFactory.parseMap(base))
        .withFallback(ConfigFactory.load());
    TestServer server = new TestServer(SchedulerApp.start(config, SchedulerSettings.fromConfig(config))
        .toCompletableFuture().get(30, TimeUnit.SECONDS));
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

  int port() {
    return running.address().getPort();
  }

  @Override
  public void close() throws Exception {
    running.stop().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }
}
