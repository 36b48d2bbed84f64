package org.compassci.sched.bench;

import static org.compassci.sched.fixtures.ProviderFleet.jobs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.compassci.sched.fixtures.HttpCalls;
import org.compassci.sched.fixtures.ProviderFleet;
import org.compassci.sched.fixtures.SocketClient;
import org.compassci.sched.model.Json;

/**
 * Providers over WebSocket against a running server (the jar, on 127.0.0.1).
 *
 * <p>{@code ProvidersBench <port> <server pid> run <providers> <jobs>}: queues the jobs (VMs and
 * containers of 2 to 16 GB) and opens the simulated providers' sockets ({@link ProviderFleet}:
 * 16 to 64 GB each, the JDK's WebSocket); then all ask at once, take the jobs, report boot, running and finish, and ask again. Prints
 * {@code {"bench":"providers","providers":N,"jobs_per_s":…,"handout_p99_ms":…,"heap_mb":…}}:
 * hand-outs per second from the first request to the last boot-job, the 99th percentile of a
 * request's wait for its boot-job, and the server's used heap after a full GC with the providers
 * still connected.
 *
 * <p>{@code ProvidersBench <port> <server pid> sockets <n>}: the heap an idle socket costs, the
 * server's used heap after a full GC before and after opening {@code n} provider sockets (each
 * with its request parked) and {@code n} watcher sockets (each watching one job).
 */
public final class ProvidersBench {

  private ProvidersBench() {}

  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    String pid = args[1];
    if (args[2].equals("sockets")) {
      sockets(port, pid, Integer.parseInt(args[3]));
    } else {
      run(port, pid, Integer.parseInt(args[3]), Integer.parseInt(args[4]));
    }
  }

  /**
   * A client of the server scripts/bench.sh started: it shows the admin's token the script made
   * (BENCH_TOKEN), as a lab's submitters show theirs; submits without one are refused.
   */
  static HttpCalls benchClient(int port) {
    return new HttpCalls("127.0.0.1", port).withToken(System.getenv("BENCH_TOKEN"));
  }

  static void run(int port, String pid, int providers, int jobs) throws Exception {
    HttpCalls http = benchClient(port);
    // warm-up: half as many jobs through a fleet of its own, so that the JIT has compiled the
    // path before anything is measured (the http benchmark warms up the same way)
    int warm = jobs / 2;
    queue(http, warm, 1_000_000);
    try (ProviderFleet warmUp = new ProviderFleet("127.0.0.1", port, providers,
        ProviderFleet.Options.defaults().withHostPrefix("warm")).connect()) {
      if (!ProviderFleet.await(() -> warmUp.finished() >= warm, Duration.ofMinutes(5))) {
        throw new IllegalStateException("the warm-up did not finish: " + warmUp.errors().stream().limit(3).toList());
      }
      awaitRetired(http);
    }
    System.err.printf("bench: warm-up of %d jobs done%n", warm);
    queue(http, jobs, 0);
    double serverCpu0 = cpuSeconds(pid);
    double ownCpu0 = cpuSeconds(Long.toString(ProcessHandle.current().pid()));
    try (ProviderFleet fleet = new ProviderFleet("127.0.0.1", port, providers,
        ProviderFleet.Options.defaults()).connect(false)) {
      // every socket is open before anyone asks: the figures are hand-outs, not handshakes
      System.err.printf("bench: %d sockets open; they ask now%n", providers);
      long t0 = System.nanoTime();
      fleet.askAll();
      boolean done = ProviderFleet.await(() -> fleet.finished() >= jobs, Duration.ofMinutes(5));
      double seconds = (System.nanoTime() - t0) / 1e9;
      // the server may still be writing the last reports: the heap is read once every job retired
      long drainFrom = System.nanoTime();
      awaitRetired(http);
      double drained = (System.nanoTime() - drainFrom) / 1e9;
      double serverCpu = cpuSeconds(pid) - serverCpu0;
      double ownCpu = cpuSeconds(Long.toString(ProcessHandle.current().pid())) - ownCpu0;
      long heap = usedHeapKb(pid);
      histogram(pid, "run-" + providers);
      System.err.printf("bench: %d finished in %.1f s, %d handed out twice, %d errors %s%n", fleet.finished(),
          seconds, fleet.handedTwice().size(), fleet.errors().size(), fleet.errors().stream().limit(3).toList());
      if (!done) {
        throw new IllegalStateException("only " + fleet.finished() + " of " + jobs + " jobs finished in 5 minutes");
      }
      System.out.println(String.format(Locale.ROOT,
          "{\"bench\":\"providers\",\"providers\":%d,\"jobs\":%d,\"jobs_per_s\":%.0f,\"handout_p50_ms\":%.1f,"
              + "\"handout_p99_ms\":%.1f,\"finished_per_s\":%.0f,\"heap_mb\":%.1f,\"handed_twice\":%d,"
              + "\"server_cpu_ms_per_job\":%.2f,\"client_cpu_ms_per_job\":%.2f,\"drain_s\":%.1f}",
          providers, jobs, fleet.handOutsPerSecond(), fleet.latencyMs(0.5), fleet.latencyMs(0.99),
          fleet.finishedPerSecond(), heap / 1024.0, fleet.handedTwice().size(),
          serverCpu * 1000 / jobs, ownCpu * 1000 / jobs, drained));
    }
  }

  private static void queue(HttpCalls http, int jobs, int from) {
    for (int i = 0; i < jobs; i += 500) {
      HttpCalls.Answer a = http.post("/scheduler/v1/jobs/submit", jobs(Math.min(500, jobs - i), from + i));
      if (a.status() != 200) {
        throw new IllegalStateException("submit answered " + a.status() + ": " + a.body());
      }
    }
  }

  /** Waits (at most 2 minutes) until no job is out on a provider: every report written. */
  private static void awaitRetired(HttpCalls http) throws InterruptedException {
    ProviderFleet.await(() -> Json.parse(http.get("/scheduler/v1/dashboard/jobs/running?limit=1").body())
        .path("total").asInt(-1) == 0, Duration.ofMinutes(2));
  }

  static void sockets(int port, String pid, int n) throws Exception {
    HttpCalls http = benchClient(port);
    long before = usedHeapKb(pid);
    // providers that ask for what nothing fits (no job is queued): each request stays parked
    ProviderFleet fleet = new ProviderFleet("127.0.0.1", port, n,
        ProviderFleet.Options.defaults().withHostPrefix("idle")).connect();
    awaitParked(http, n);
    long withProviders = usedHeapKb(pid);
    histogram(pid, "providers");
    fleet.close();
    awaitParked(http, 0);
    long afterProviders = usedHeapKb(pid);

    List<String> ids = new ArrayList<>();
    for (int i = 0; i < n; i += 500) {
      HttpCalls.Answer a = http.post("/scheduler/v1/jobs/submit", jobs(Math.min(500, n - i), i).replace("x86_64", "riscv64"));
      Json.parse(a.body()).forEach(j -> ids.add(j.path("job_id").asText()));
    }
    long beforeWatchers = usedHeapKb(pid);
    List<SocketClient> watchers = new ArrayList<>();
    for (String id : ids) {
      SocketClient c = SocketClient.open(port, "/scheduler/v1/client");
      c.nextJson(Duration.ofSeconds(20));
      c.send("{\"type\":\"watch-job-event\",\"job_id\":\"" + id + "\"}");
      c.nextJson(Duration.ofSeconds(20));
      watchers.add(c);
    }
    long withWatchers = usedHeapKb(pid);
    histogram(pid, "watchers");
    watchers.forEach(SocketClient::close);
    System.out.println(String.format(Locale.ROOT,
        "{\"bench\":\"provider_sockets\",\"sockets\":%d,\"heap_kb_per_socket\":%.1f,\"heap_mb_before\":%.1f,"
            + "\"heap_mb_open\":%.1f,\"heap_mb_after_close\":%.1f}",
        n, (withProviders - before) / (double) n, before / 1024.0, withProviders / 1024.0, afterProviders / 1024.0));
    System.out.println(String.format(Locale.ROOT,
        "{\"bench\":\"watcher_sockets\",\"sockets\":%d,\"heap_kb_per_socket\":%.1f,\"heap_mb_before\":%.1f,"
            + "\"heap_mb_open\":%.1f}",
        n, (withWatchers - beforeWatchers) / (double) n, beforeWatchers / 1024.0, withWatchers / 1024.0));
  }

  /** With PROVIDERS_BENCH_HISTOGRAM=DIR, the server's class histogram into DIR/NAME.histo. */
  private static void histogram(String pid, String name) throws IOException, InterruptedException {
    String dir = System.getenv("PROVIDERS_BENCH_HISTOGRAM");
    if (dir != null) {
      java.nio.file.Files.writeString(java.nio.file.Path.of(dir, name + ".histo"), run("jcmd", pid, "GC.class_histogram"));
    }
  }

  private static void awaitParked(HttpCalls http, int count) throws InterruptedException {
    for (int i = 0; i < 600; i++) {
      if (Json.parse(http.get("/scheduler/v1/manage/matcher").body()).path("parked").asInt() == count) {
        return;
      }
      Thread.sleep(50);
    }
    throw new IllegalStateException("the matcher never held " + count + " parked requests");
  }

  /** User and system CPU time of a process so far, from /proc (Linux). */
  static double cpuSeconds(String pid) throws IOException {
    String stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc", pid, "stat"));
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    // fields 14 and 15 of stat (utime, stime), counted from the state field (3) on
    return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;
  }

  private static final Pattern USED = Pattern.compile("used (\\d+)K");

  /** Used heap after a full collection, read with jcmd from the server process. */
  static long usedHeapKb(String pid) throws IOException, InterruptedException {
    run("jcmd", pid, "GC.run");
    String info = run("jcmd", pid, "GC.heap_info");
    Matcher m = USED.matcher(info);
    if (!m.find()) {
      throw new IllegalStateException("cannot read the heap from: " + info);
    }
    return Long.parseLong(m.group(1));
  }

  /** A command's output, standard error included, once it has ended. */
  static String run(String... command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    p.waitFor();
    return out;
  }
}
