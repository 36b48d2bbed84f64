package org.compassci.sched;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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

  /** One job's way through the scheduler, over real HTTP as a lab's clients make it. */
  private static final class Session {
    private final String base;
    private final Map<Integer, Integer> statuses = new java.util.TreeMap<>();
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

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
      HttpRequest watch = request("GET", "/scheduler/v1/jobs/" + id + "/events", null);
      var events = client.sendAsync(watch, HttpResponse.BodyHandlers.ofInputStream());
      for (String stage : new String[] {"boot", "running", "post_run", "finish"}) {
        call("POST", "/scheduler/v1/jobs/" + id + "/update?job_stage=" + stage
            + ("finish".equals(stage) ? "&job_health=success" : ""), null);
      }
      follow(events.get(10, TimeUnit.SECONDS).body());
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

    private HttpRequest request(String method, String path, String body) {
      HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path))
          .timeout(Duration.ofSeconds(15))
          .header("Authorization", "Bearer " + TOKEN);
      if (body != null) {
        b.header("Content-Type", "application/json");
      }
      return b.method(method, body == null ? HttpRequest.BodyPublishers.noBody()
          : HttpRequest.BodyPublishers.ofString(body)).build();
    }

    private String call(String method, String path, String body) throws IOException, InterruptedException {
      HttpResponse<String> r = client.send(request(method, path, body), HttpResponse.BodyHandlers.ofString());
      statuses.merge(r.statusCode(), 1, Integer::sum);
      if (r.statusCode() >= 400) {
        System.out.println("cds training: " + method + " " + path + " answered " + r.statusCode() + " " + r.body());
      }
      return r.body();
    }

    /** Reads the job's events until its finish shows, at most 5 s, then hangs up. */
    private static void follow(InputStream in) throws IOException {
      try (in) {
        CompletableFuture.runAsync(() -> {
          StringBuilder seen = new StringBuilder();
          byte[] buf = new byte[4096];
          try {
            for (int n; !seen.toString().contains("finish") && (n = in.read(buf)) > 0; ) {
              seen.append(new String(buf, 0, n, java.nio.charset.StandardCharsets.UTF_8));
            }
          } catch (IOException e) {
            // hung up below
          }
        }).get(5, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException
          | InterruptedException e) {
        System.err.println("cds training: the job's events did not show its finish: " + e);
      }
    }

    private static String field(String json, String name) throws IOException {
      return Json.MAPPER.readTree(json).path(0).path(name).asText();
    }
  }
}
