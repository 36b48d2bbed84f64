package org.compassci.sched.actors;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.compassci.sched.extract.Extraction;

/**
 * Extracts the statistics of jobs whose results are uploaded: the plugins read result folders,
 * so they run on a dispatcher of their own and come back with pipeToSelf. An extraction that
 * takes longer than its timeout (a plugin stuck on a hung file system, or looping) is answered
 * as failed, so the job settles incomplete then instead of at its post-run deadline, and the
 * plugin's thread is interrupted; one that ignores that keeps its thread until it returns
 * (counted in {@code running}, its late result dropped).
 */
public final class ExtractActor extends AbstractBehavior<ExtractActor.Command> {

  public static final String DISPATCHER = "scheduler.extract-dispatcher";

  /** The timeout of {@link #create(Extraction, Clock)}: {@code scheduler.extract.timeout}'s default. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(10);

  public sealed interface Command {}

  /** {@code job}: a copy the plugins may read. */
  public record Extract(long id, ObjectNode job, ActorRef<Extracted> replyTo) implements Command {}

  public record Extracted(long id, Extraction.Result result) {}

  public record GetStats(ActorRef<ActorStats> replyTo) implements Command {}

  /** {@code run}: the very run, not its number, which starts again when the actor restarts. */
  private record Finished(Run run, Extraction.Result result) implements Command {}

  /** {@code started}: the run had a thread (it ran too long), or was still waiting for one. */
  private record TimedOut(long run, boolean started) implements Command {}

  /** A thread has taken the run: its time starts now, not while it waited behind others. */
  private record Started(long run) implements Command {}

  /**
   * The thread running one extraction, while it runs: a timeout interrupts it there and only
   * there, never the pool's thread after it has gone on to other work.
   */
  private static final class Worker {
    private Thread thread;
    private boolean cancelled;

    synchronized boolean cancelled() {
      return cancelled;
    }

    /** False when the run was cancelled before a thread took it: then it is not run at all. */
    synchronized boolean start() {
      thread = cancelled ? null : Thread.currentThread();
      return !cancelled;
    }

    synchronized void end() {
      thread = null;
      // an interrupt that came as the plugin returned is not left to the pool's next task
      Thread.interrupted();
    }

    synchronized void cancel() {
      cancelled = true;
      if (thread != null) {
        thread.interrupt();
      }
    }
  }

  private record Run(long number, Extract request, Worker worker) {}

  private final Extraction extraction;
  private final Executor executor;
  private final Activity activity;
  private final TimerScheduler<Command> timers;
  private final Duration timeout;
  /** Runs not yet answered, by number. */
  private final Map<Long, Run> runs = new HashMap<>();
  /** Runs no thread has taken yet, by number. */
  private final java.util.Set<Long> waiting = new java.util.LinkedHashSet<>();
  /** Runs answered as timed out whose thread has not returned yet. */
  private final java.util.Set<Run> overdue = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
  /**
   * Run numbers, made outside the setup a supervisor's restart runs again: the runs of the
   * incarnation before still send their Started and Finished, and a number given again took
   * them for a new run's (a queued run given the run's timeout, or answered for the other).
   */
  private final java.util.concurrent.atomic.AtomicLong nextRun;
  private long done;
  private long failed;
  private long timedOut;

  public static Behavior<Command> create(Extraction extraction, Clock clock) {
    return create(extraction, clock, DEFAULT_TIMEOUT);
  }

  /** {@code timeout}: the longest one job's extraction may take, from the moment a thread takes it. */
  public static Behavior<Command> create(Extraction extraction, Clock clock, Duration timeout) {
    java.util.concurrent.atomic.AtomicLong numbers = new java.util.concurrent.atomic.AtomicLong();
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new ExtractActor(ctx, timers, extraction, clock,
        timeout, numbers)));
  }

  private ExtractActor(ActorContext<Command> ctx, TimerScheduler<Command> timers, Extraction extraction, Clock clock,
      Duration timeout, java.util.concurrent.atomic.AtomicLong numbers) {
    super(ctx);
    this.nextRun = numbers;
    ctx.setLoggerName(ExtractActor.class);
    this.extraction = extraction;
    this.activity = new Activity(clock);
    this.timers = timers;
    this.timeout = timeout;
    this.executor = ctx.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig(DISPATCHER));
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Extract.class, this::onExtract)
        .onMessage(Finished.class, this::onFinished)
        .onMessage(Started.class, st -> {
          waiting.remove(st.run());
          if (runs.containsKey(st.run())) {
            // replaces the wait's timer: from here on it has its timeout to run
            timers.startSingleTimer(st.run(), new TimedOut(st.run(), true), timeout);
          }
          return this;
        })
        .onMessage(TimedOut.class, this::onTimedOut)
        .onMessage(GetStats.class, this::onGetStats)
        .build();
  }

  private Behavior<Command> onExtract(Extract e) {
    activity.touch();
    Worker worker = new Worker();
    Run run = new Run(nextRun.getAndIncrement(), e, worker);
    runs.put(run.number(), run);
    // a run waits for a thread at most this long without any run ending meanwhile: with every
    // thread held by plugins that do not end (a hung file system, an interrupt ignored), the
    // jobs behind them would wait for good. A long queue that moves is not cut short
    waiting.add(run.number());
    timers.startSingleTimer(run.number(), new TimedOut(run.number(), false), queueWait());
    ActorRef<Command> self = getContext().getSelf();
    getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> {
      if (!worker.start()) {
        return new Extraction.Result(null, "not run: cancelled while waiting for a thread");
      }
      self.tell(new Started(run.number()));
      try {
        return extraction.run(e.job());
      } finally {
        worker.end();
      }
    }, executor), (result, failure) -> new Finished(run, failure == null ? result
        : new Extraction.Result(null, "extraction failed: " + failure.getMessage())));
    return this;
  }

  private Behavior<Command> onFinished(Finished f) {
    Run run = f.run();
    // a thread is free again: the queue moves, and the runs still waiting have their wait anew
    waiting.remove(run.number());
    for (long w : waiting) {
      timers.startSingleTimer(w, new TimedOut(w, false), queueWait());
    }
    if (overdue.remove(run)) {
      // answered as timed out already: the job has settled without it
      getContext().getLog().info("an extraction that timed out has ended: {}",
          f.result().ok() ? "its statistics are dropped" : f.result().error());
      return this;
    }
    if (!runs.remove(run.number(), run)) {
      // a run of this actor before it restarted, whose answer is still owed unless it was
      // answered as timed out then
      if (!run.worker().cancelled()) {
        run.request().replyTo().tell(new Extracted(run.request().id(), f.result()));
      }
      return this;
    }
    timers.cancel(run.number());
    if (f.result().ok()) {
      done++;
    } else {
      failed++;
    }
    run.request().replyTo().tell(new Extracted(run.request().id(), f.result()));
    return this;
  }

  private Behavior<Command> onTimedOut(TimedOut t) {
    waiting.remove(t.run());
    Run run = runs.remove(t.run());
    if (run == null) {
      return this;
    }
    timedOut++;
    failed++;
    overdue.add(run);
    run.worker().cancel();
    String why = t.started()
        ? "extraction took longer than " + timeout.toMillis() + " ms (scheduler.extract.timeout)"
        : "extraction waited longer than " + queueWait().toMillis() + " ms for a thread: every extraction"
            + " thread is held by a plugin that has not ended";
    getContext().getLog().warn("job {}: {}; its plugin's thread is interrupted", run.request().id(), why);
    run.request().replyTo().tell(new Extracted(run.request().id(), new Extraction.Result(null, why)));
    return this;
  }

  /** How long a run may wait for a thread while no run ends: twice the timeout. */
  private Duration queueWait() {
    return timeout.multipliedBy(2);
  }

  private Behavior<Command> onGetStats(GetStats g) {
    g.replyTo().tell(new ActorStats("extract", Map.of("running", (long) (runs.size() + overdue.size()),
        "extracted", done, "failed", failed, "timed_out", timedOut), activity.messages(), activity.last()));
    return this;
  }
}
