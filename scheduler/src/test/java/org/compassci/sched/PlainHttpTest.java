package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The server speaks plain HTTP and carries no TLS session under Pekko's server layer
 * (HttpServer.plainBytes): a setting that would read one stops the start with its name.
 */
class PlainHttpTest {

  @TempDir Path dir;

  @Test
  void aSettingThatReadsTheTlsSessionStopsTheStart() {
    for (String setting : new String[] {"tls-session-info-header", "ssl-session-attribute"}) {
      ExecutionException e = assertThrows(ExecutionException.class, () -> TestServer.start(
          dir.resolve(setting), Map.of("pekko.http.server.parsing." + setting, "on")));
      assertTrue(e.getCause().getMessage().contains(setting), e.getCause().toString());
    }
  }
}
