package org.compassci.sched;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.compassci.sched.config.SchedulerSettings;
import org.compassci.sched.model.Json;

/**
 * The build's training run for the class-data-sharing archive of conf/jvm.options: run once by
 * Maven right after the jar is made, as {@code java -XX:ArchiveClassesAtExit=target/scheduler.jsa
 * -cp target/scheduler.jar org.compassci.sched.CdsTraining}. It starts the scheduler on a
 * temporary store and takes one job through what a lab does (submit, dispatch, the stages, a
 * watch, the dashboard and management reads), so that the classes a restart and its first
 * requests load are in the archive. With the archive, a restart reads those classes already
 * parsed and checked from one mapped file instead of the jar: health answered 2.1–2.4 s after
 * the start instead of 3.9–4.4 s with 100,000 jobs queued.
 *
 * <p>Not a test: it fails the build only when the scheduler cannot start; a request that does
 * not answer as a lab's would is reported and the run goes on, because the archive is still good.
 */
public final class CdsTraining {

  private static final String TOKEN = "cds-training-admin-token-0123456789";

  private CdsTraining() {}

  public static void main(String[] args) throws Exception {
    Path dir = Files.createTempDirectory("scheduler-cds");
    try {
      train(dir);
    } finally {
      try (Stream<Path> paths = Files.walk(dir)) {
        paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
    // the JVM writes the archive as it exits; the actor system is already down
    System.exit(0);
  }

  private static void train(Path dir) throws Exception {
    Config config = ConfigFactory.parseMap(Map.of(
            "scheduler.host", "127.0.0.1", "scheduler.port", 0,
            "scheduler.store", "embedded",
            "scheduler.data-dir", dir.resolve("data").toString(),
            "scheduler.admin-token", TOKEN,
            "scheduler.extract.results-dir", dir.resolve("results").toString()))
        .withFallback(ConfigFactory.load());
    SchedulerSettings settings = SchedulerSettings.fromConfig(config);
    SchedulerApp.Running running = SchedulerApp.start(config, settings).toCompletableFuture()
        .get(60, TimeUnit.SECONDS);
    try {
      new Session("http://127.0.0.1:" + running.address().getPort()).run();
    } finally {
      running.stop().toCompletableFuture().get(60, TimeUnit.SECONDS);
    }
  }

  /**
   * One job's way through the scheduler, over real HTTP as a lab's clients make it. The client
   * is the JDK's plain {@link HttpURLConnection}: whatever classes the training run loads end up
   * in the archive, which a restart maps whole, and the JDK's {@code HttpClient} brought about
   * 350 of its own (its HTTP/2 engine, the TLS context and crypto providers it makes at once)
   * that the server never uses.
   */
  private static final class Session {
    private final String base;
    private final Map<Integer, Integer> statuses = new java.util.TreeMap<>();

    Session(String base) {
      this.base = base;
    }

    void run() throws Exception {
      call("GET", "/scheduler/v1/health", null);
      String host = "cds-box-1";
      call("POST", "/scheduler/v1/hosts/" + host + "?arch=x86_64&tbox_type=vm&tbox_group=vm-2p8g&memory=8192", null);
      String submitted = call("POST", "/scheduler/v1/jobs/submit",
          "[{\"suite\":\"cds\",\"testbox\":\"vm-2p8g\",\"arch\":\"x86_64\",\"my_account\":\"admin\","
              + "\"priority\":1,\"sleep\":1},{\"suite\":\"cds\",\"testbox\":\"vm-2p8g\",\"arch\":\"x86_64\"}]");
      String id = field(submitted, "job_id");
      call("GET", "/scheduler/v1/dashboard/jobs/pending?group_by=my_account", null);
      call("GET", "/scheduler/v1/manage/explain/" + id, null);
      call("GET", "/scheduler/v1/jobs/dispatch?hostname=" + host
          + "&arch=x86_64&tbox_type=vm&tbox_group=vm-2p8g&freemem=8192", null);
      // a watcher follows the job while it moves on
      HttpURLConnection watch = open("GET", "/scheduler/v1/jobs/" + id + "/events");
      CompletableFuture<Void> events = CompletableFuture.runAsync(() -> follow(watch));
      for (String stage : new String[] {"boot", "running", "post_run", "finish"}) {
        call("POST", "/scheduler/v1/jobs/" + id + "/update?job_stage=" + stage
            + ("finish".equals(stage) ? "&job_health=success" : ""), null);
      }
      try {
        events.get(10, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
        System.err.println("cds training: the job's events did not show its finish: " + e);
      } finally {
        watch.disconnect();
      }
      call("GET", "/scheduler/v1/jobs/" + id, null);
      call("POST", "/scheduler/v1/jobs/wait", "{\"wait_on\":{\"" + id + "\":{\"job_stage\":\"finish\"}}}");
      call("GET", "/scheduler/v1/jobs/dispatch?hostname=" + host + "&arch=x86_64&tbox_type=vm&freemem=8192", null);
      call("GET", "/scheduler/v1/dashboard/jobs/running", null);
      call("GET", "/scheduler/v1/dashboard/hosts", null);
      call("GET", "/scheduler/v1/manage/actors", null);
      call("GET", "/metrics", null);
      call("GET", "/scheduler/v1/jobs/0", null);
      System.out.println("cds training: job " + id + " went through; answers by status " + statuses);
    }

    private HttpURLConnection open(String method, String path) throws IOException {
      HttpURLConnection c = (HttpURLConnection) URI.create(base + path).toURL().openConnection();
      c.setRequestMethod(method);
      c.setConnectTimeout(5_000);
      c.setReadTimeout(15_000);
      c.setRequestProperty("Authorization", "Bearer " + TOKEN);
      return c;
    }

    private String call(String method, String path, String body) throws IOException {
      HttpURLConnection c = open(method, path);
      if (body != null) {
        c.setDoOutput(true);
        c.setRequestProperty("Content-Type", "application/json");
        try (var out = c.getOutputStream()) {
          out.write(body.getBytes(StandardCharsets.UTF_8));
        }
      }
      int status = c.getResponseCode();
      InputStream in = status >= 400 ? c.getErrorStream() : c.getInputStream();
      String answer;
      try (in) {
        answer = in == null ? "" : new String(in.readAllBytes(), StandardCharsets.UTF_8);
      }
      statuses.merge(status, 1, Integer::sum);
      if (status >= 400) {
        System.out.println("cds training: " + method + " " + path + " answered " + status + " " + answer);
      }
      return answer;
    }

    /** Reads the job's events until its finish shows; the caller waits at most 10 s, then hangs up. */
    private static void follow(HttpURLConnection watch) {
      StringBuilder seen = new StringBuilder();
      byte[] buf = new byte[4096];
      try (InputStream in = watch.getInputStream()) {
        for (int n; !seen.toString().contains("finish") && (n = in.read(buf)) > 0; ) {
          seen.append(new String(buf, 0, n, StandardCharsets.UTF_8));
        }
      } catch (IOException e) {
        // hung up by the caller
      }
    }

    private static String field(String json, String name) throws IOException {
      return Json.MAPPER.readTree(json).path(0).path(name).asText();
    }
  }
}
