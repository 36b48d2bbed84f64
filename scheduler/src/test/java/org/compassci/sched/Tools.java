package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Debian tools a test drives. Missing ones skip the test on a developer's machine; with CI set
 * (.ci/run installs them) they fail it instead.
 */
final class Tools {

  private Tools() {}

  /** The path of each command or file, or the test is skipped (or failed under CI). */
  static List<Path> require(String packages, String... commandsOrFiles) {
    List<Path> found = new ArrayList<>();
    List<String> missing = new ArrayList<>();
    for (String c : commandsOrFiles) {
      Path p = c.startsWith("/") ? Path.of(c) : which(c);
      if (p == null || !Files.exists(p)) {
        missing.add(c);
      } else {
        found.add(p);
      }
    }
    String why = "needs " + String.join(", ", missing) + " (Debian: apt-get install " + packages + ")";
    if (System.getenv("CI") != null) {
      assertTrue(missing.isEmpty(), ".ci/run installs them: " + why);
    }
    assumeTrue(missing.isEmpty(), why);
    return found;
  }

  static Path which(String command) {
    for (String d : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(File.pathSeparator)) {
      Path p = Path.of(d, command);
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    for (String d : new String[] {"/usr/sbin", "/sbin", "/usr/bin", "/bin"}) {
      Path p = Path.of(d, command);
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    return null;
  }

  /** Runs {@code sh -c script} in {@code dir}; its exit code and what it printed (both streams). */
  record Run(int exit, String output) {}

  static Run sh(Path dir, String script, Map<String, String> env, long timeoutSeconds) throws Exception {
    ProcessBuilder pb = new ProcessBuilder("sh", "-c", script).directory(dir.toFile()).redirectErrorStream(true);
    pb.environment().putAll(env);
    Process p = pb.start();
    // read while it runs: a full pipe would stop it
    java.util.concurrent.CompletableFuture<byte[]> out = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
      try {
        return p.getInputStream().readAllBytes();
      } catch (java.io.IOException e) {
        return new byte[0];
      }
    });
    if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
      throw new AssertionError("sh did not finish within " + timeoutSeconds + " s: " + script);
    }
    return new Run(p.exitValue(), new String(out.get(10, TimeUnit.SECONDS), StandardCharsets.UTF_8));
  }

  /**
   * Waits (at most 10 s) until nothing below {@code dir} changes for half a second: the embedded
   * store's pool closes its connections, and H2 its file, after the actor system has stopped.
   */
  /** The job as read once its data is complete, or as last read after 10 s of asking. */
  static com.fasterxml.jackson.databind.JsonNode awaitDataComplete(
      org.compassci.sched.fixtures.HttpCalls http, String id) throws InterruptedException {
    com.fasterxml.jackson.databind.JsonNode job = null;
    for (int i = 0; i < 200; i++) {
      job = http.get("/scheduler/v1/jobs/" + id).json();
      if (job.path("job_data_readiness").asText().equals("complete")) {
        break;
      }
      Thread.sleep(50);
    }
    return job;
  }

  static void awaitQuiet(Path dir) throws Exception {
    Map<String, Long> before = snapshot(dir);
    for (int i = 0; i < 20; i++) {
      Thread.sleep(500);
      Map<String, Long> now = snapshot(dir);
      if (now.equals(before)) {
        return;
      }
      before = now;
    }
  }

  private static Map<String, Long> snapshot(Path dir) throws Exception {
    Map<String, Long> m = new java.util.TreeMap<>();
    try (var all = Files.walk(dir)) {
      all.forEach(p -> {
        try {
          m.put(p.toString(), Files.getLastModifiedTime(p).toMillis() * 31 + Files.size(p));
        } catch (java.io.IOException gone) {
          m.put(p.toString(), -1L);
        }
      });
    }
    return m;
  }
}
