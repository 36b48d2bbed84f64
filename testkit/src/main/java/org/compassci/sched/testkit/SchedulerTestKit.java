package org.compassci.sched.testkit;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.stream.Stream;
import org.apache.pekko.actor.testkit.typed.javadsl.ManualTime;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.compassci.sched.SchedulerApp;
import org.compassci.sched.actors.LifecycleActor;
import org.compassci.sched.actors.MatcherActor;
import org.compassci.sched.actors.PersistenceActor;
import org.compassci.sched.actors.WatchActor;
import org.compassci.sched.config.SchedulerSettings;
import org.compassci.sched.http.Gateway;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The real scheduler inside a test: the same wiring as {@code java -jar scheduler.jar} (actors,
 * routes, the embedded store), bound to a free loopback port, its store in a temporary folder
 * that goes away at {@link #shutdown()}. It starts in well under two seconds, so a test can
 * have one of its own.
 *
 * <pre>{@code
 * @RegisterExtension static SchedulerTestKit kit = SchedulerTestKit.create();
 *
 * @Test void aJobRunsToTheEnd() {
 *   long id = kit.client().submitOne("{\"suite\":\"hackbench\",\"testbox\":\"dc-8g\"}");
 *   TestProbe<JobEvent> events = kit.events(id);
 *   SimulatedTestbox box = kit.testbox("d1", 16384, "tbox_type=dc");
 *   box.askForJob().orElseThrow();
 *   box.boot().running().finish("success");
 *   events.fishForMessage(Duration.ofSeconds(10), JobEvent.untilStage("finish"));
 * }
 * }</pre>
 *
 * <p>As a JUnit 5 extension in a static field it lives for the test class; in an instance field,
 * for one test. Made directly ({@code SchedulerTestKit.create()}), the test calls
 * {@link #shutdown()}.
 *
 * <p><b>Time.</b> Unless the builder says {@link Builder#realTime()}, the scheduler runs on
 * manual time: its clock (stage times, deadlines, job ids) and Pekko's scheduler (every timer:
 * timeouts, dispatch-ack, long polls, jobs/wait, heartbeats, the statistics tick) stand still
 * until the test calls {@link #advance(Duration)}. A ten-minute dispatch-ack then takes a few
 * milliseconds. Three consequences:
 * <ul>
 *   <li>the HTTP edge's ask timeout ({@code scheduler.http.ask-timeout}) runs on that time too.
 *       {@code advance} moves in steps of half that timeout (5 s at most) and lets the actors answer what each
 *       step fired before the next, so a parked poll is answered (204) at the end of its wait and
 *       not timed out; an actor that never answers makes its request fail with 503 only once the
 *       test has advanced past the ask timeout;</li>
 *   <li>Pekko HTTP's own idle and request timeouts are network guards, not scheduler behaviour:
 *       under manual time the kit turns them off, or one advance would drop every connection;</li>
 *   <li>what the scheduler does on a timer alone (a {@code /metrics} count, a heartbeat) shows
 *       only after an advance.</li>
 * </ul>
 *
 * <p><b>Isolation.</b> Each kit has its own actor system, port, store folder and clock: two kits
 * in one JVM see nothing of each other, and advancing one moves only its own time.
 *
 * <p><b>Settings.</b> The kit reads the same {@code application.conf} as the jar, then sets the
 * loopback address, a free port, the embedded store in its folder, results under it, no Redis and
 * no admin token (management answers loopback callers). SCHED_* variables of the machine running
 * the tests cannot point it elsewhere. {@link Builder#setting} overrides any key. Auth is open,
 * as the scheduler is today; once accounts exist (issue 13) the kit will keep it open unless the
 * test sets accounts.
 */
public final class SchedulerTestKit implements BeforeAllCallback, AfterAllCallback, AfterEachCallback,
    AutoCloseable {

  /** Longest single step of {@link #advance}; see the class comment on ask timeouts. */
  private static final Duration MAX_STEP = Duration.ofSeconds(5);
  /** Bound on each wait for the actors; generous, as CI machines are shared. */
  private static final Duration SETTLE_TIMEOUT = Duration.ofSeconds(20);

  private static final AtomicInteger PROBES = new AtomicInteger();

  /** Builds a kit with settings of the test's own. */
  public static final class Builder {
    private final Map<String, Object> settings = new LinkedHashMap<>();
    private boolean manualTime = true;
    private Instant startTime;

    private Builder() {}

    /**
     * Sets any key of {@code application.conf}, e.g. {@code setting("scheduler.requeue.max", 1)}
     * or {@code setting("scheduler.fair-share.weights.bisect", 30)}.
     */
    public Builder setting(String key, Object value) {
      settings.put(key, value);
      return this;
    }

    /** Real time instead of manual time: timers fire by themselves and {@link #advance} is refused. */
    public Builder realTime() {
      manualTime = false;
      return this;
    }

    /** Where the manual clock starts; by default, the moment the kit starts. */
    public Builder startTime(Instant t) {
      startTime = t;
      return this;
    }

    /** Starts the scheduler; it is listening and its queue loaded when this returns. */
    public SchedulerTestKit start() {
      return new SchedulerTestKit(this);
    }
  }

  private final boolean manual;
  private final Clock clock;
  private final ManualClock manualClock;
  private final Path root;
  private final SchedulerApp.Running running;
  private final Gateway gateway;
  private final ManualTime manualTime;
  /** Half the ask timeout (at most 5 s): a step cannot fire an answer and its ask's timeout. */
  private final Duration step;
  private final String baseUrl;
  private final HttpClient http;
  private final JobClient client;
  private final Path resultsDir;
  private final List<SimulatedTestbox> testboxes = new java.util.concurrent.CopyOnWriteArrayList<>();
  private String owner;
  private volatile boolean stopped;

  /** A kit with the default settings, on manual time. */
  public static SchedulerTestKit create() {
    return builder().start();
  }

  /** A kit with settings of the test's own, or on real time: {@code builder().setting(k, v).start()}. */
  public static Builder builder() {
    return new Builder();
  }

  private SchedulerTestKit(Builder b) {
    this.manual = b.manualTime;
    this.manualClock = manual ? new ManualClock(b.startTime != null ? b.startTime : Instant.now()) : null;
    this.clock = manual ? manualClock : Clock.systemUTC();
    try {
      this.root = Files.createTempDirectory("scheduler-testkit-");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Config config;
    SchedulerSettings settings;
    try {
      config = config(b);
      settings = SchedulerSettings.fromConfig(config);
    } catch (RuntimeException e) {
      // a setting refused (a bad value given to the builder): no folder is left behind
      deleteRoot();
      throw e;
    }
    this.resultsDir = settings.resultsDir();
    Duration half = settings.askTimeout().dividedBy(2);
    this.step = half.compareTo(MAX_STEP) > 0 ? MAX_STEP
        : half.compareTo(Duration.ofMillis(100)) < 0 ? Duration.ofMillis(100) : half;
    AtomicReference<Gateway> wired = new AtomicReference<>();
    CompletableFuture<SchedulerApp.Running> starting = null;
    try {
      starting = SchedulerApp.start(config, settings, clock, wired::set).toCompletableFuture();
      this.running = starting.get(60, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      stopWhenStarted(starting);
      deleteRoot();
      throw new IllegalStateException("interrupted while the scheduler started", e);
    } catch (ExecutionException | TimeoutException e) {
      // one that comes up after the wait is stopped then: its threads would keep the JVM
      stopWhenStarted(starting);
      deleteRoot();
      throw new IllegalStateException("the scheduler did not start: " + e, e);
    } catch (RuntimeException e) {
      // refused before it started (the start's own checks of the settings)
      deleteRoot();
      throw e;
    }
    this.gateway = wired.get();
    this.manualTime = manual ? ManualTime.get(running.system()) : null;
    this.baseUrl = "http://127.0.0.1:" + running.address().getPort();
    this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    this.client = new JobClient(baseUrl, http);
    // the matcher and the lifecycle answer only once their jobs are loaded from the store
    try {
      settle();
    } catch (RuntimeException e) {
      // nobody holds a kit whose start failed: it is stopped here, or its threads, port and
      // folder would stay for the rest of the JVM
      try {
        shutdown();
      } catch (RuntimeException stop) {
        e.addSuppressed(stop);
      }
      throw e;
    }
  }

  private static void stopWhenStarted(CompletableFuture<SchedulerApp.Running> starting) {
    if (starting != null) {
      starting.thenAccept(r -> r.system().terminate());
    }
  }

  /** The same as {@link #shutdown()}: a kit made by hand fits in a try-with-resources. */
  @Override
  public void close() {
    shutdown();
  }

  private Config config(Builder b) {
    Map<String, Object> kit = new LinkedHashMap<>();
    kit.put("scheduler.host", "127.0.0.1");
    kit.put("scheduler.port", 0);
    kit.put("scheduler.store", "embedded");
    kit.put("scheduler.data-dir", root.resolve("data").toString());
    kit.put("scheduler.extract.results-dir", root.resolve("results").toString());
    kit.put("scheduler.redis-url", "");
    kit.put("scheduler.admin-token", "");
    // a scheduler inside one test JVM, on loopback: anyone may submit, as in a private lab
    // (a test of accounts sets scheduler.auth.mode=tokens through the builder's settings)
    kit.put("scheduler.auth.mode", "open");
    kit.put("scheduler.jdbc-url", "");
    // nor the host's cluster, lab folder or secrets key (SCHED_CLUSTER_SEEDS, SCHED_LAB_HOSTS,
    // SCHED_SECRETS_KEY on a lab's own machine): a standalone scheduler of its own
    kit.put("scheduler.cluster.seed-nodes", "");
    kit.put("scheduler.lab.hosts-dir", "");
    kit.put("scheduler.secrets-key", "");
    // nor its lkp-tests tree (SCHED_LKP_SRC): job files are read as written, on every machine
    kit.put("scheduler.submit.lkp-src", "");
    // the test ends the kit; a JVM exiting with one still open just drops it
    kit.put("pekko.coordinated-shutdown.run-by-jvm-shutdown-hook", "off");
    // TestProbe's default wait, in real time: roomy, as CI machines are shared
    kit.put("pekko.actor.testkit.typed.single-expect-default", "10s");
    Config own = ConfigFactory.parseMap(b.settings);
    if (manual) {
      kit.put("pekko.http.server.idle-timeout", "infinite");
      kit.put("pekko.http.server.request-timeout", "infinite");
      own = own.withFallback(ConfigFactory.parseMap(Map.of("pekko.scheduler.implementation",
          KitScheduler.class.getName())));
    }
    return own.withFallback(ConfigFactory.parseMap(kit)).withFallback(ConfigFactory.load());
  }

  /** {@code http://127.0.0.1:<port>}: the scheduler's address, for the test's own tools. */
  public String baseUrl() {
    return baseUrl;
  }

  /** A client of the scheduler's API for submitting, reading, cancelling and waiting on jobs. */
  public JobClient client() {
    open();
    return client;
  }

  /**
   * A stopped kit says so, rather than leaving its caller to a refused connection: a kit is
   * stopped after the test (an instance field) or the class (a static field) that registered it,
   * so a kit shared past that (a static field of an abstract base class) is gone for the next.
   */
  private void open() {
    if (stopped) {
      throw new IllegalStateException("this SchedulerTestKit was shut down: a kit lives as long as the test"
          + " (instance field) or the test class (static field) that registered it; start one there");
    }
  }

  /**
   * A simulated testbox.
   *
   * @param hostname its name; its {@code tbox_group} is the name without a last {@code --suffix}
   * @param freeMemMb free memory in MB that it reports (a {@code vm-2p8g} job needs 8192)
   * @param tags what it offers: {@code arch=aarch64}, {@code tbox_type=vm,dc} (default {@code hw}),
   *     {@code tbox_group=...}, and any other {@code k=v}
   */
  public SimulatedTestbox testbox(String hostname, long freeMemMb, String... tags) {
    open();
    SimulatedTestbox box = new SimulatedTestbox(client, hostname, freeMemMb, Arrays.asList(tags));
    testboxes.add(box);
    return box;
  }

  /**
   * A simulated bare-metal box, known to the scheduler by its MAC as a lab's hosts/ folder or
   * {@code POST hosts/{hostname}} makes it known: it asks with {@link SimulatedTestbox#bootByMac()}
   * as its firmware would ({@code boot.ipxe/mac/<mac>}), takes the job from the {@code job.cgz}
   * its boot script names, and then reports and uploads like any box.
   *
   * @param hostname its name; its {@code tbox_group} is the name without a last {@code --suffix}
   * @param mac its MAC address, in any spelling
   * @param memoryMb its memory in MB
   * @param tags more {@code k=v} it offers, {@code arch=aarch64} among them (default x86_64)
   */
  public SimulatedTestbox bareMetalBox(String hostname, String mac, long memoryMb, String... tags) {
    open();
    StringBuilder q = new StringBuilder("mac_addr=").append(SimulatedTestbox.enc(mac))
        .append("&memory=").append(memoryMb);
    List<String> more = new ArrayList<>();
    for (String tag : tags) {
      if (tag.startsWith("arch=")) {
        q.append("&arch=").append(SimulatedTestbox.enc(tag.substring(5)));
      } else {
        more.add(tag);
      }
    }
    if (!more.isEmpty()) {
      q.append("&tags=").append(SimulatedTestbox.enc(String.join(",", more)));
    }
    client.send("register " + hostname, client.request("/scheduler/v1/hosts/"
        + SimulatedTestbox.enc(hostname) + "?" + q).POST(java.net.http.HttpRequest.BodyPublishers.noBody()));
    SimulatedTestbox box = new SimulatedTestbox(client, hostname, memoryMb, List.of("tbox_type=hw"), mac);
    testboxes.add(box);
    return box;
  }

  /** A simulated testbox that reports no free memory: any memory need fits it. */
  public SimulatedTestbox testbox(String hostname, String... tags) {
    return testbox(hostname, -1, tags);
  }

  /**
   * A probe that receives every change of these jobs from the scheduler's watch actor, the same
   * feed as their event stream: first each job's state, then one {@link JobEvent.Changed} per
   * change, and {@link JobEvent.Closed} when the job retires (or does not exist). The probe waits
   * in real time ({@code expectMessageClass}, {@code fishForMessage}), default 10 s.
   */
  public TestProbe<JobEvent> events(long... jobIds) {
    open();
    String name = "job-events-" + PROBES.incrementAndGet();
    TestProbe<JobEvent> probe = TestProbe.create(name, running.system());
    ActorRef<WatchActor.Event> feed = running.system().systemActorOf(feed(probe.ref()), name + "-feed",
        Props.empty());
    List<Long> ids = new ArrayList<>();
    for (long id : jobIds) {
      ids.add(id);
    }
    gateway.watch().tell(new WatchActor.Subscribe(ids, feed, null));
    return probe;
  }

  /** Turns the watch actor's stream messages into the kit's public events. */
  private static Behavior<WatchActor.Event> feed(ActorRef<JobEvent> probe) {
    return Behaviors.receive(WatchActor.Event.class)
        .onMessage(WatchActor.JobEvent.class, e -> {
          probe.tell(new JobEvent.Changed(e.id(), e.fields(), e.state()));
          return Behaviors.same();
        })
        .onMessage(WatchActor.Closed.class, c -> {
          probe.tell(new JobEvent.Closed(c.id(), c.error()));
          return Behaviors.same();
        })
        .onMessage(WatchActor.End.class, e -> Behaviors.stopped())
        .build();
  }

  /** How many long polls ({@link SimulatedTestbox#longPoll}) the scheduler holds parked now. */
  public int parkedPolls() {
    CompletableFuture<MatcherActor.Stats> stats = ping(gateway.matcher(), MatcherActor.GetStats::new)
        .toCompletableFuture();
    await(stats);
    return stats.join().parked();
  }

  /**
   * Waits, at most 10 s of real time, until the scheduler holds {@code count} parked polls: a
   * long poll is sent on another thread, so a test that parks boxes and then submits waits here
   * for them to be there first. Fails with an {@link AssertionError} saying how many are.
   */
  public void awaitParked(int count) {
    int seen = parkedPolls();
    for (int i = 0; i < 1000 && seen != count; i++) {
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
      seen = parkedPolls();
    }
    if (seen != count) {
      throw new AssertionError(seen + " polls parked, not " + count);
    }
  }

  /**
   * Moves the kit's time forward by {@code d}: its clock, and every timer due in that span fires
   * in order. Returns once the actors have handled what fired, the store writes included, so the
   * test sees the outcome (a job requeued, a job timed out) with its next call.
   *
   * <p>Time moves in steps (half the ask timeout, 5 s at most), the clock first: a timer due
   * inside a step fires with the clock at the step's end, so a time it writes (a timed-out job's
   * {@code finish_time}) may be up to one step after its deadline. Advance to just before the
   * deadline and then by a second when a test needs the time exact.
   */
  public synchronized void advance(Duration d) {
    open();
    if (!manual) {
      throw new UnsupportedOperationException("this kit runs on real time (Builder.realTime())");
    }
    if (d.isNegative()) {
      throw new IllegalArgumentException("time never goes back: " + d);
    }
    Duration left = d;
    while (!left.isZero()) {
      Duration next = left.compareTo(step) < 0 ? left : step;
      // the clock first: an actor whose timer fires compares its deadline with the clock
      manualClock.advance(next);
      manualTime.timePasses(next);
      // what this step fired is handled before the next step can fire an ask's timeout
      await(ping(gateway.lifecycle(), LifecycleActor.GetStats::new),
          ping(gateway.matcher(), MatcherActor.GetStats::new),
          ping(gateway.watch(), WatchActor.GetStats::new));
      left = left.minus(next);
    }
    settle();
  }

  /** The kit's clock: where its time stands now. */
  public Instant now() {
    return clock.instant();
  }

  /** The clock the scheduler's actors read; manual unless the kit runs on real time. */
  public Clock clock() {
    return clock;
  }

  /** True when time moves only by {@link #advance}. */
  public boolean isManualTime() {
    return manual;
  }

  /** Where the embedded store is (inside the kit's temporary folder). */
  public Path dataDir() {
    return root.resolve("data");
  }

  /** Where the scheduler reads job results ({@code scheduler.extract.results-dir}). */
  public Path resultsDir() {
    return resultsDir;
  }

  /** The scheduler's actor system, for a test that needs Pekko itself. */
  public ActorSystem<Void> system() {
    return running.system();
  }

  /**
   * Stops the scheduler as SIGTERM would (parked polls answered, writes committed), then removes
   * its folder. Called by the JUnit extension; calling it again does nothing.
   */
  public synchronized void shutdown() {
    if (stopped) {
      return;
    }
    stopped = true;
    testboxes.forEach(SimulatedTestbox::disappear);
    CompletableFuture<?> done = running.stop().toCompletableFuture();
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    try {
      // under manual time the shutdown's own waits (draining, phase timeouts) need time to pass
      while (!done.isDone() && System.nanoTime() < end) {
        if (manual) {
          manualTime.timePasses(Duration.ofMillis(100));
        }
        try {
          done.get(10, TimeUnit.MILLISECONDS);
        } catch (TimeoutException notYet) {
          // pump again
        }
      }
      running.system().getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException("the scheduler did not stop: " + e, e);
    } finally {
      deleteRoot();
    }
  }

  /**
   * Waits until the actors have handled what is in their mailboxes and the store has committed
   * what they wrote: twice around the chain a timer starts (lifecycle, matcher, store, matcher,
   * lifecycle, watch), as one turn may start another (a requeue is written, then reported).
   */
  private void settle() {
    for (int round = 0; round < 2; round++) {
      await(ping(gateway.lifecycle(), LifecycleActor.GetStats::new));
      await(ping(gateway.matcher(), MatcherActor.GetStats::new));
      await(ping(gateway.store(), PersistenceActor.Drain::new));
      await(ping(gateway.matcher(), MatcherActor.GetStats::new));
      await(ping(gateway.lifecycle(), LifecycleActor.GetStats::new));
      await(ping(gateway.watch(), WatchActor.GetStats::new));
    }
  }

  /**
   * An ask whose own timeout never decides: pings are out only between steps of an advance, and
   * the real-time bound in {@link #await} ends a wait for an actor that does not answer.
   */
  private <Req, Res> CompletionStage<Res> ping(ActorRef<Req> actor, Function<ActorRef<Res>, Req> message) {
    return AskPattern.ask(actor, message::apply, Duration.ofDays(1), running.system().scheduler());
  }

  private static void await(CompletionStage<?>... pings) {
    CompletableFuture<?>[] all = Stream.of(pings).map(CompletionStage::toCompletableFuture)
        .toArray(CompletableFuture[]::new);
    try {
      CompletableFuture.allOf(all).get(SETTLE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException("the scheduler's actors did not answer within " + SETTLE_TIMEOUT, e);
    }
  }

  private void deleteRoot() {
    try (Stream<Path> files = Files.walk(root)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // a temporary folder left behind is harmless
    }
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    // a static field: the kit belongs to this class (and its @Nested classes) until afterAll
    if (owner == null) {
      owner = context.getUniqueId();
    }
  }

  @Override
  public void afterEach(ExtensionContext context) {
    if (owner == null) {
      shutdown();
    }
  }

  @Override
  public void afterAll(ExtensionContext context) {
    if (context.getUniqueId().equals(owner)) {
      shutdown();
    }
  }
}
