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
    return new TestServer(SchedulerApp.start(config, SchedulerSettings.fromConfig(config))
        .toCompletableFuture().get(30, TimeUnit.SECONDS));
  }

  int port() {
    return running.address().getPort();
  }

  @Override
  public void close() throws Exception {
    running.stop().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }
}
