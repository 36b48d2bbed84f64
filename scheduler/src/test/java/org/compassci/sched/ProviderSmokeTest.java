package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.compassci.sched.fixtures.ProviderFleet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProviderSmokeTest {
  @TempDir Path dir;

  @Test
  void oneProviderOneJob() throws Exception {
    try (TestServer server = TestServer.start(dir, Map.of())) {
      String id = server.http.post("/scheduler/v1/jobs/submit",
          "{\"suite\":\"s\",\"testbox\":\"vm-2p8g\",\"arch\":\"x86_64\",\"os\":\"openeuler\",\"os_version\":\"22.03\",\"my_account\":\"a\"}")
          .json().get(0).path("job_id").asText();
      try (ProviderFleet fleet = new ProviderFleet("127.0.0.1", server.port(), 1, ProviderFleet.Options.defaults()).connect()) {
        assertTrue(ProviderFleet.await(() -> fleet.finished() == 1, Duration.ofSeconds(10)), fleet.errors().toString());
        System.err.println(fleet.handOuts() + " " + fleet.errors());
        assertTrue(ProviderFleet.await(() -> server.http.get("/scheduler/v1/jobs/" + id).json().path("job_data_readiness").asText().equals("incomplete"), Duration.ofSeconds(10)));
        System.err.println(server.http.get("/scheduler/v1/jobs/" + id).body());
        System.err.println(server.http.get("/scheduler/v1/dashboard/hosts").body());
        System.err.println(server.http.get("/scheduler/v1/dashboard/providers").body());
      }
    }
  }
}
