package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.compassci.sched.fixtures.HttpCalls;
import org.compassci.sched.fixtures.HttpCalls.Answer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A stopping scheduler answers what it holds before it closes its connections. */
class ShutdownTest {

  private static final String V1 = "/scheduler/v1";

  @TempDir Path dir;

  @Test
  void aParkedPollIsAnsweredNoJobAtShutdownNotCutOff() throws Exception {
    TestServer server = TestServer.start(dir, Map.of());
    HttpCalls http = server.http;
    assertEquals(200, http.post(V1 + "/jobs/submit",
        "{\"suite\":\"s\",\"testbox\":\"vm-2p8g\",\"arch\":\"aarch64\"}").status());
    CompletableFuture<Answer> parked = http.getAsync(V1 + "/jobs/dispatch?hostname=r1&arch=riscv64&wait=30");
    server.awaitParked(1);
    long start = System.nanoTime();
    server.close();
    Answer answer = parked.get(10, TimeUnit.SECONDS);
    assertEquals(204, answer.status(), answer.body());
    assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(20));
  }
}
