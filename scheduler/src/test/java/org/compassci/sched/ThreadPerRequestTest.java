package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ForkJoinPool;
import org.compassci.sched.fixtures.HttpCalls;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * No thread is started per request. An ask's continuation once ran on CompletableFuture's
 * default executor, which with a common pool of parallelism 1 (any 2-core machine) starts a
 * thread per task: thousands of threads for thousands of requests. The scheduler module's tests
 * run with that parallelism on every machine (see its pom), so this fails wherever the fault is.
 */
class ThreadPerRequestTest {

  private static final String V1 = "/scheduler/v1";
  private static final String JOB = "{\"suite\":\"hackbench\",\"testbox\":\"vm-2p8g\","
      + "\"arch\":\"x86_64\",\"my_account\":\"alice\"}";

  @TempDir Path dir;

  @Test
  void requestsAcrossEveryRouteFamilyStartNoThreads() throws Exception {
    assertEquals(1, ForkJoinPool.getCommonPoolParallelism(),
        "the fault shows only with a common pool of parallelism 1; see the scheduler pom");
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    try (TestServer server = TestServer.start(dir, Map.of())) {
      HttpCalls http = server.http;
      round(http, 0, 50); // pools and connections fill once, before counting
      long before = threads.getTotalStartedThreadCount();
      int requests = round(http, 1, 2_500);
      long half = threads.getTotalStartedThreadCount();
      requests += round(http, 2, 2_500);
      long after = threads.getTotalStartedThreadCount();
      assertTrue(requests >= 5_000, "requests: " + requests);
      // a few pool threads may still start late; a thread per request would be thousands
      assertTrue(after - before < 50, (after - before) + " threads started for " + requests
          + " requests");
      assertTrue(after - half <= Math.max(10, half - before), "thread starts grow with the "
          + "requests: " + (half - before) + " in the first half, " + (after - half)
          + " in the second");
    }
  }

  private static int keys;

  /**
   * Health, submit (with and without an Idempotency-Key, which an actor of its own handles),
   * dispatch, job read, update and the legacy calls, at least {@code count}.
   */
  private static int round(HttpCalls http, int box, int count) {
    int sent = 0;
    while (sent < count) {
      assertEquals(200, http.get(V1 + "/health").status());
      var submitted = http.post(V1 + "/jobs/submit", JOB);
      assertEquals(200, submitted.status(), submitted.body());
      String id = submitted.json().get(0).path("job_id").asText();
      var dispatched = http.get(V1 + "/jobs/dispatch?hostname=vm-2p8g-" + box
          + "&arch=x86_64&tbox_type=vm&freemem=8192");
      assertEquals(200, dispatched.status(), dispatched.body());
      String got = dispatched.json().path("id").asText();
      assertEquals(200, http.get(V1 + "/jobs/" + got).status());
      assertEquals(200, http.post(V1 + "/jobs/" + got + "/update?job_stage=boot", "").status());
      assertEquals(200, http.get("/~lkp/cgi-bin/set-job-stage?job_id=" + got
          + "&job_stage=running").status());
      assertEquals(200, http.get("/~lkp/cgi-bin/lkp-post-run?job_id=" + got).status());
      var keyed = http.send("POST", V1 + "/jobs/submit", JOB, "Content-Type", "application/json",
          "Idempotency-Key", "thread-test-" + (++keys));
      assertEquals(200, keyed.status(), keyed.body());
      var again = http.get(V1 + "/jobs/dispatch?hostname=vm-2p8g-" + box
          + "&arch=x86_64&tbox_type=vm&freemem=8192");
      assertEquals(200, again.status(), again.body());
      sent += 9;
      assertTrue(!id.isEmpty());
    }
    return sent;
  }
}
