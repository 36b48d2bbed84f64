package org.compassci.sched.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.lang.management.ManagementFactory;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.compassci.sched.actors.LifecycleActor;
import org.compassci.sched.actors.MatcherActor;
import org.compassci.sched.actors.PersistenceActor;
import org.compassci.sched.config.SchedulerSettings;
import org.compassci.sched.fixtures.Lab;
import org.compassci.sched.fixtures.MemoryJobStore;
import org.compassci.sched.model.JobIntake;
import org.compassci.sched.model.Json;
import org.compassci.sched.model.Testbox;
import org.compassci.sched.persistence.JobStore;

/**
 * The matcher line of scripts/bench.sh: a generated lab of 100,000 queued jobs of about 1 KB and
 * 1,000 testboxes asking, measured through the matcher actor's messages. The store is in memory
 * so that the figure is the matcher's; the http line measures the whole server.
 */
public final class MatcherBench {

  static final int JOBS = 100_000;
  static final int BOXES = 1_000;
  static final int IN_FLIGHT = Integer.getInteger("bench.inFlight", 8);
  static final int WARMUP = 20_000;
  static final int MEASURED = 60_000;
  /**
   * Whole runs (a fresh system, every job queued, the same asks) before the measured ones, for
   * the JIT. A run measures 60,000 asks in about half a second; with no run before it, the
   * compiler threads took 0.6-0.8 of the 2 cores during it, and with one, still 0.6: the store
   * claims in batches, so the matcher's claim answers and the store's commit reach C2's
   * threshold only late in the second run. After two, C2 is done (0-0.1 cores). The first
   * run's figure is printed too ({@code first_run_matches_per_s}): what a restarted matcher does.
   */
  static final int WARMUP_RUNS = Integer.getInteger("bench.warmupRuns", 2);
  /**
   * Measured runs after the warm-up: the line gives the median run (by matches/s), since a
   * collection in a half-second window moves one run by tens of percent.
   */
  static final int MEASURED_RUNS = Integer.getInteger("bench.measuredRuns", 3);

  private MatcherBench() {}

  public static void main(String[] args) throws Exception {
    long seed = args.length > 0 ? Long.parseLong(args[0]) : 1;
    Lab lab = Lab.generate(seed, JOBS, BOXES);
    List<Testbox> boxes = lab.testboxes();
    int signatures = lab.signatures();
    List<JobIntake.Draft> drafts = new ArrayList<>(JOBS);
    for (ObjectNode job : lab.jobs()) {
      drafts.add(JobIntake.prepare(job));
    }
    lab = null; // the 100,000 JSON trees must not count in the heap figure

    double heapMb = heapOfQueue(drafts);
    List<Result> all = new ArrayList<>();
    int total = WARMUP_RUNS + MEASURED_RUNS;
    for (int i = 0; i < total; i++) {
      // the drafts are copied but for the last run: a submit stamps its ids into them
      all.add(throughput(drafts, boxes, i < total - 1, i < WARMUP_RUNS
          ? "warm-up run " + (i + 1) : "measured run " + (i - WARMUP_RUNS + 1)));
    }
    // the floor under the figure, in the same JVM and with the same lanes: an actor that answers
    // every ask at once, with no job (warm-up runs first, as for the matcher)
    List<Result> echoes = new ArrayList<>();
    for (int i = 0; i < WARMUP_RUNS + MEASURED_RUNS; i++) {
      Result e = echo(boxes, i < WARMUP_RUNS ? "echo warm-up run " + (i + 1)
          : "echo measured run " + (i - WARMUP_RUNS + 1));
      if (i >= WARMUP_RUNS) {
        echoes.add(e);
      }
    }
    Result echo = median(echoes);
    Result first = all.get(0);
    List<Result> runs = new ArrayList<>(all.subList(WARMUP_RUNS, total));
    runs.sort(java.util.Comparator.comparingDouble(Result::perSecond));
    Result r = median(runs);
    Map<String, Object> line = new java.util.LinkedHashMap<>();
    line.put("bench", "matcher");
    line.put("queued", JOBS);
    line.put("boxes", BOXES);
    line.put("signatures", signatures);
    line.put("matches_per_s", Math.round(r.perSecond));
    line.put("p50_us", round1(r.p50us));
    line.put("p99_us", round1(r.p99us));
    line.put("heap_mb", round1(heapMb));
    line.put("handed_out", r.handedOut);
    line.put("in_flight", IN_FLIGHT);
    line.put("runs_matches_per_s", runs.stream().map(x -> Math.round(x.perSecond)).toList());
    line.put("first_run_matches_per_s", Math.round(first.perSecond));
    line.put("first_run_p99_us", round1(first.p99us));
    line.put("warmup_runs", WARMUP_RUNS);
    line.put("echo_per_s", Math.round(echo.perSecond));
    line.put("echo_p99_us", round1(echo.p99us));
    line.put("matcher_vs_echo", Math.round(r.perSecond / echo.perSecond * 1000) / 1000.0);
    System.out.println(Json.MAPPER.writeValueAsString(line));
  }

  record Result(double perSecond, double p50us, double p99us, int handedOut) {}

  /** The run with the median matches/s (the upper one of an even count). */
  static Result median(List<Result> results) {
    List<Result> sorted = new ArrayList<>(results);
    sorted.sort(java.util.Comparator.comparingDouble(Result::perSecond));
    return sorted.get(sorted.size() / 2);
  }

  private static void stop(ActorSystem<?> system) throws Exception {
    system.terminate();
    system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  static double round1(double v) {
    return Math.round(v * 10) / 10.0;
  }

  private static Config config() {
    return ConfigFactory.parseString("pekko.loglevel = WARNING").withFallback(ConfigFactory.load());
  }

  private record Wiring(ActorSystem<Void> system, ActorRef<MatcherActor.Command> matcher) {}

  private static Wiring start(JobStore store) throws Exception {
    Config config = config();
    // as the server runs over a store no other process writes (the embedded one): no resync,
    // which here would read whole tenants again while the submits are still coming in
    SchedulerSettings settings = SchedulerSettings.fromConfig(config).withResyncInterval(Duration.ZERO);
    CompletableFuture<ActorRef<MatcherActor.Command>> ref = new CompletableFuture<>();
    Behavior<Void> guardian = Behaviors.setup(ctx -> {
      var persistence = ctx.spawn(PersistenceActor.create(store, settings.storeBatchMax()), "persistence");
      var lifecycle = ctx.spawn(Behaviors.<LifecycleActor.Command>ignore(), "lifecycle");
      ref.complete(ctx.spawn(MatcherActor.create(persistence, lifecycle, settings, Clock.systemUTC()), "matcher"));
      return Behaviors.empty();
    });
    ActorSystem<Void> system = ActorSystem.create(guardian, "bench", config);
    return new Wiring(system, ref.get(30, TimeUnit.SECONDS));
  }

  private static void submitAll(Wiring w, List<JobIntake.Draft> drafts, boolean copy)
      throws Exception {
    for (int i = 0; i < drafts.size(); i += 1000) {
      List<JobIntake.Draft> batch = new ArrayList<>(drafts.subList(i, Math.min(drafts.size(), i + 1000)));
      if (copy) {
        batch.replaceAll(d -> new JobIntake.Draft(d.doc().deepCopy(), d.requirements(), d.tenant(),
            d.queue(), d.priority()));
      }
      MatcherActor.SubmitResult r = AskPattern.<MatcherActor.Command, MatcherActor.SubmitResult>ask(
          w.matcher(), reply -> new MatcherActor.Submit(batch, reply), Duration.ofMinutes(2),
          w.system().scheduler()).toCompletableFuture().get(2, TimeUnit.MINUTES);
      if (r.error().isPresent()) {
        throw new IllegalStateException("submit failed: " + r.error().get());
      }
    }
  }

  private static long usedAfterGc() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(200);
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  /** The matcher's heap with every job queued minus with none; the store keeps nothing here. */
  private static double heapOfQueue(List<JobIntake.Draft> drafts) throws Exception {
    Wiring w = start(new MemoryJobStore(false));
    try {
      long empty = usedAfterGc();
      // submits stamp ids into the drafts' trees: each batch is copied as it goes, so the
      // originals stay as they were for the next phase and no copy outlives its batch
      submitAll(w, drafts, true);
      long full = usedAfterGc();
      return (full - empty) / (1024.0 * 1024.0);
    } finally {
      stop(w.system());
    }
  }

  /**
   * {@link #IN_FLIGHT} lanes, each with one request out, cycling over the boxes. {@code copy}:
   * the drafts are copied (a submit stamps its ids into them), for a run that is not the last;
   * {@code label} names the run on stderr.
   */
  private static Result throughput(List<JobIntake.Draft> drafts, List<Testbox> boxes, boolean copy,
      String label)
      throws Exception {
    Wiring w = start(new MemoryJobStore(true));
    try {
      submitAll(w, drafts, copy);
      return lanes(w, boxes, label, "measured");
    } finally {
      stop(w.system());
    }
  }

  /**
   * {@link #IN_FLIGHT} lanes asking {@code w}'s matcher until all asks are answered; {@code
   * window} names the measured phase's clock line on stderr ("measured" is what jfr_top.py
   * --windows reads).
   */
  private static Result lanes(Wiring w, List<Testbox> boxes, String label, String window)
      throws Exception {
    int total = WARMUP + MEASURED;
    long[] latencies = new long[total];
    AtomicInteger next = new AtomicInteger();
    AtomicInteger handed = new AtomicInteger();
    AtomicInteger answered = new AtomicInteger();
    CompletableFuture<Long> measuredStart = new CompletableFuture<>();
    CompletableFuture<Long> done = new CompletableFuture<>();
    for (int lane = 0; lane < IN_FLIGHT; lane++) {
      w.system().systemActorOf(lane(w.matcher(), boxes, latencies, next, handed, answered, measuredStart, done),
          "lane-" + lane, org.apache.pekko.actor.typed.Props.empty());
    }
    long start = measuredStart.get(5, TimeUnit.MINUTES);
    java.time.LocalTime from = java.time.LocalTime.now(Clock.systemUTC());
    Map<String, Long> cpuBefore = cpuByThread();
    long processBefore = processCpu();
    long end = done.get(5, TimeUnit.MINUTES);
    long processAfter = processCpu();
    System.err.print("(" + label + ") ");
    reportCpu(cpuBefore, cpuByThread(), processAfter - processBefore, (end - start) / 1e9);
    // the wall clock of the measured phase (UTC, as jfr print shows startTime): a profile's window
    System.err.printf("matcher bench: %s from %s to %s UTC%n", window, from,
        java.time.LocalTime.now(Clock.systemUTC()));
    long[] measured = Arrays.copyOfRange(latencies, WARMUP, total);
    Arrays.sort(measured);
    return new Result(MEASURED / ((end - start) / 1e9),
        measured[measured.length / 2] / 1e3, measured[(int) (measured.length * 0.99)] / 1e3,
        handed.get());
  }

  /**
   * The same lanes and asks as {@link #throughput}, answered at once by an actor that holds no
   * queue: what the actor system's hand-offs alone allow on this machine, the matcher's
   * figure's floor (as the trivial HTTP endpoint is the http line's).
   */
  private static Result echo(List<Testbox> boxes, String label) throws Exception {
    Behavior<MatcherActor.Command> answerer = Behaviors.receive(MatcherActor.Command.class)
        .onMessage(MatcherActor.Dispatch.class, d -> {
          d.replyTo().tell(new MatcherActor.NoJob());
          return Behaviors.same();
        })
        .build();
    CompletableFuture<ActorRef<MatcherActor.Command>> ref = new CompletableFuture<>();
    ActorSystem<Void> system = ActorSystem.create(Behaviors.<Void>setup(ctx -> {
      ref.complete(ctx.spawn(answerer, "echo"));
      return Behaviors.empty();
    }), "bench", config());
    try {
      return lanes(new Wiring(system, ref.get(30, TimeUnit.SECONDS)), boxes, label, "echo's run");
    } finally {
      stop(system);
    }
  }

  /**
   * CPU time so far of each live thread, by name with digits folded (dispatcher-7: dispatcher-#).
   * On Linux from /proc, which also shows the JIT compiler's and the collector's threads (the
   * kernel keeps 15 characters of a name); elsewhere the Java threads only.
   */
  private static Map<String, Long> cpuByThread() {
    Map<String, Long> out = new java.util.TreeMap<>();
    java.io.File[] tasks = new java.io.File("/proc/self/task").listFiles();
    if (tasks != null) {
      long nsPerTick = 10_000_000L; // USER_HZ is 100 on every Linux the bench runs on
      for (java.io.File task : tasks) {
        try {
          String stat = java.nio.file.Files.readString(task.toPath().resolve("stat"));
          String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
          String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
          long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
          out.merge(name.replaceAll("[0-9]+", "#"), ticks * nsPerTick, Long::sum);
        } catch (java.io.IOException | RuntimeException e) {
          // the thread ended meanwhile
        }
      }
      return out;
    }
    java.lang.management.ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    for (java.lang.management.ThreadInfo t : mx.getThreadInfo(mx.getAllThreadIds())) {
      long ns = t == null ? -1 : mx.getThreadCpuTime(t.getThreadId());
      if (ns > 0) {
        out.merge(t.getThreadName().replaceAll("[0-9]+", "#"), ns, Long::sum);
      }
    }
    return out;
  }

  /** The whole process's CPU time so far: with the JIT compiler's and the collector's threads. */
  private static long processCpu() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  /**
   * Where the measured phase's CPU went, on stderr: on 2 cores, whether the matcher's figure is
   * bound by CPU (about 2 cores busy) or by the hand-offs between threads (less); the process's
   * figure beside the Java threads' shows the JIT compiler and the collector.
   */
  private static void reportCpu(Map<String, Long> before, Map<String, Long> after, long processNs,
      double seconds) {
    long total = 0;
    StringBuilder b = new StringBuilder();
    for (Map.Entry<String, Long> e : after.entrySet()) {
      long ns = e.getValue() - before.getOrDefault(e.getKey(), 0L);
      total += ns;
      if (ns > seconds * 1e9 * 0.01) {
        b.append(String.format("  %5.2f cores  %s%n", ns / 1e9 / seconds, e.getKey()));
      }
    }
    System.err.printf("matcher bench: measured %.2f s, process CPU %.2f cores, threads' %.2f:%n%s",
        seconds, processNs / 1e9 / seconds, total / 1e9 / seconds, b);
  }

  private static Behavior<MatcherActor.DispatchResult> lane(ActorRef<MatcherActor.Command> matcher,
      List<Testbox> boxes, long[] latencies, AtomicInteger next, AtomicInteger handed,
      AtomicInteger answered, CompletableFuture<Long> measuredStart, CompletableFuture<Long> done) {
    return Behaviors.setup(ctx -> {
      long[] sent = new long[1];
      int[] slot = new int[1];
      Runnable ask = () -> {
        int n = next.getAndIncrement();
        if (n >= latencies.length) {
          return;
        }
        if (n == WARMUP) {
          measuredStart.complete(System.nanoTime());
        }
        slot[0] = n;
        sent[0] = System.nanoTime();
        matcher.tell(new MatcherActor.Dispatch(boxes.get(n % boxes.size()), Duration.ZERO, ctx.getSelf()));
      };
      ask.run();
      return Behaviors.receive(MatcherActor.DispatchResult.class)
          .onAnyMessage(r -> {
            long now = System.nanoTime();
            latencies[slot[0]] = now - sent[0];
            if (r instanceof MatcherActor.Assigned) {
              handed.incrementAndGet();
            }
            if (answered.incrementAndGet() == latencies.length) {
              done.complete(now);
            }
            ask.run();
            return Behaviors.same();
          })
          .build();
    });
  }
}
