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

  /**
   * Without each request's address the from-box rule of tokenless uploads took them from anyone
   * (and the loopback rule refused everyone): a configuration that turns it off stops the start.
   */
  @Test
  void aConfigurationWithoutTheRequestsAddressStopsTheStart() {
    ExecutionException e = assertThrows(ExecutionException.class, () -> TestServer.start(
        dir.resolve("no-address"), Map.of("pekko.http.server.remote-address-attribute", "off")));
    assertTrue(e.getCause().getMessage().contains("remote-address-attribute"), e.getCause().toString());
  }
}
