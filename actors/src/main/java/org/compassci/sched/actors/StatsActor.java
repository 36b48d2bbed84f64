package org.compassci.sched.actors;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.distribution.ValueAtPercentile;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.compassci.sched.match.MatchQueue;
import org.compassci.sched.model.Json;

/**
 * The lab's counts and histograms, for /metrics and the dashboard. The matcher and the
 * lifecycle count on their own threads; this actor collects their tallies each interval, so the
 * dispatch path never sends a message for statistics. The registry is this actor's alone.
 */
public final class StatsActor extends AbstractBehavior<StatsActor.Command> {

  public sealed interface Command {}

  /** The Prometheus text exposition of every meter. */
  public record Scrape(ActorRef<String> replyTo) implements Command {}

  /** The same figures as JSON, for the dashboard. */
  public record GetSummary(ActorRef<ObjectNode> replyTo) implements Command {}

  public record GetStats(ActorRef<ActorStats> replyTo) implements Command {}

  private record Collect() implements Command {}

  private record MatcherCounted(MatcherTally tally) implements Command {}

  private record LifecycleCounted(LifecycleActor.Tally tally) implements Command {}

  /** Tenants and machine groups shown one by one; the rest are summed into "(other)". */
  static final int MAX_SERIES = 500;

  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final JvmGcMetrics gc = new JvmGcMetrics();
  /** The supervised actors, by the names they are spawned with. */
  private static final java.util.List<String> ACTORS = java.util.List.of("matcher", "lifecycle",
      "persistence", "extract", "hosts", "watch", "stats", "accounts", "idempotency", "providers", "uploads");

  private final Counter submitted;
  private final Counter dispatched;
  private final Counter answered;
  private final Counter empty;
  private final Timer waited;
  private final MultiGauge pendingByAccount;
  private final MultiGauge pendingByGroup;
  private final MultiGauge running;
  private final Map<String, Counter> ended = new TreeMap<>();
  private final ActorRef<MatcherActor.Command> matcher;
  private final ActorRef<LifecycleActor.Command> lifecycle;
  private final ActorRef<MatcherTally> matcherTally;
  private final ActorRef<LifecycleActor.Tally> lifecycleTally;
  private final Activity activity;
  private long pendingTotal;
  private Map<String, Long> runningByStage = Map.of();

  public static Behavior<Command> create(ActorRef<MatcherActor.Command> matcher,
      ActorRef<LifecycleActor.Command> lifecycle, Duration interval, Clock clock) {
    return create(matcher, lifecycle, new Restarts(), interval, clock);
  }

  /** {@code restarts}: the supervised actors' restart counts, shown as scheduler_actor_restarts. */
  public static Behavior<Command> create(ActorRef<MatcherActor.Command> matcher,
      ActorRef<LifecycleActor.Command> lifecycle, Restarts restarts, Duration interval, Clock clock) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
      timers.startTimerWithFixedDelay("collect", new Collect(), interval);
      return new StatsActor(ctx, matcher, lifecycle, restarts, clock);
    }));
  }

  private StatsActor(ActorContext<Command> ctx, ActorRef<MatcherActor.Command> matcher,
      ActorRef<LifecycleActor.Command> lifecycle, Restarts restarts, Clock clock) {
    super(ctx);
    for (String actor : ACTORS) {
      FunctionCounter.builder("scheduler_actor_restarts", restarts, r -> r.of(actor))
          .tag("actor", actor).description("restarts after an unexpected failure")
          .register(registry);
    }
    this.matcher = matcher;
    this.lifecycle = lifecycle;
    this.activity = new Activity(clock);
    this.matcherTally = ctx.messageAdapter(MatcherTally.class, MatcherCounted::new);
    this.lifecycleTally = ctx.messageAdapter(LifecycleActor.Tally.class, LifecycleCounted::new);
    submitted = Counter.builder("scheduler_jobs_submitted").description("jobs accepted, durable")
        .register(registry);
    dispatched = Counter.builder("scheduler_jobs_dispatched").description("jobs handed to a testbox")
        .register(registry);
    answered = Counter.builder("scheduler_dispatch_requests").tag("result", "job")
        .description("testbox requests for a job").register(registry);
    empty = Counter.builder("scheduler_dispatch_requests").tag("result", "none")
        .description("testbox requests for a job").register(registry);
    waited = Timer.builder("scheduler_job_wait").description("from submit to hand-out")
        .publishPercentiles(0.5, 0.9, 0.99).publishPercentileHistogram()
        .minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofDays(7))
        .register(registry);
    registry.gauge("scheduler_jobs_pending", Tags.empty(), this, s -> s.pendingTotal);
    pendingByAccount = MultiGauge.builder("scheduler_jobs_pending_by_account")
        .description("queued jobs per my_account").register(registry);
    pendingByGroup = MultiGauge.builder("scheduler_jobs_pending_by_group")
        .description("queued jobs per tbox_group").register(registry);
    running = MultiGauge.builder("scheduler_jobs_running")
        .description("jobs out on testboxes, per stage").register(registry);
    new JvmMemoryMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    gc.bindTo(registry);
    collect();
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Collect.class, c -> {
          collect();
          return this;
        })
        .onMessage(MatcherCounted.class, this::onMatcherCounted)
        .onMessage(LifecycleCounted.class, this::onLifecycleCounted)
        .onMessage(Scrape.class, s -> {
          activity.touch();
          s.replyTo().tell(registry.scrape());
          return this;
        })
        .onMessage(GetSummary.class, g -> {
          activity.touch();
          g.replyTo().tell(summary());
          return this;
        })
        .onMessage(GetStats.class, g -> {
          g.replyTo().tell(new ActorStats("stats", Map.of("meters", (long) registry.getMeters().size()),
              activity.messages(), activity.last()));
          return this;
        })
        .onSignal(PostStop.class, s -> {
          gc.close();
          registry.close();
          return this;
        })
        // a restart makes a new registry and GC binder: the old ones' listeners on the JVM's
        // collectors stayed registered, one set more at each restart
        .onSignal(org.apache.pekko.actor.typed.PreRestart.class, s -> {
          gc.close();
          registry.close();
          return this;
        })
        .build();
  }

  private void collect() {
    matcher.tell(new MatcherActor.TakeTally(matcherTally));
    lifecycle.tell(new LifecycleActor.TakeTally(lifecycleTally));
  }

  private Behavior<Command> onMatcherCounted(MatcherCounted m) {
    MatcherTally t = m.tally();
    submitted.increment(t.submitted());
    dispatched.increment(t.dispatched());
    answered.increment(t.requestsAnswered());
    empty.increment(t.requestsEmpty());
    for (long w : t.waitMillis()) {
      waited.record(w, TimeUnit.MILLISECONDS);
    }
    if (t.cancelled() > 0) {
      ended("cancel").increment(t.cancelled());
    }
    pendingTotal = t.pendingByAccount().values().stream().mapToLong(Integer::longValue).sum();
    pendingByAccount.register(rows("my_account", t.pendingByAccount()), true);
    pendingByGroup.register(rows("tbox_group", t.pendingByGroup()), true);
    return this;
  }

  private Behavior<Command> onLifecycleCounted(LifecycleCounted l) {
    l.tally().endedByHealth().forEach((health, n) -> ended(health).increment(n));
    runningByStage = l.tally().running();
    List<MultiGauge.Row<?>> rows = new ArrayList<>();
    runningByStage.forEach((stage, n) -> rows.add(MultiGauge.Row.of(Tags.of("stage", stage), n)));
    running.register(rows, true);
    return this;
  }

  private Counter ended(String health) {
    return ended.computeIfAbsent(health, h -> Counter.builder("scheduler_jobs_finished")
        .tag("health", h).description("jobs that ended, by health").register(registry));
  }

  private static List<MultiGauge.Row<?>> rows(String tag, Map<String, Integer> counts) {
    List<MultiGauge.Row<?>> rows = new ArrayList<>();
    MatchQueue.largest(counts, MAX_SERIES).forEach((name, n) -> rows.add(MultiGauge.Row.of(Tags.of(tag, name), n)));
    return rows;
  }

  private ObjectNode summary() {
    ObjectNode s = Json.object();
    s.put("submitted", (long) submitted.count()).put("dispatched", (long) dispatched.count());
    ObjectNode fin = s.putObject("finished");
    ended.forEach((h, c) -> fin.put(h, (long) c.count()));
    s.putObject("dispatch_requests").put("job", (long) answered.count()).put("none", (long) empty.count());
    ObjectNode wait = s.putObject("wait_seconds").put("count", waited.count())
        .put("mean", round(waited.mean(TimeUnit.SECONDS)));
    for (ValueAtPercentile p : waited.takeSnapshot().percentileValues()) {
      wait.put("p" + Math.round(p.percentile() * 100), round(p.value(TimeUnit.SECONDS)));
    }
    s.put("pending", pendingTotal);
    ObjectNode run = s.putObject("running");
    runningByStage.forEach(run::put);
    return s;
  }

  private static double round(double v) {
    return Math.round(v * 1000) / 1000.0;
  }
}
