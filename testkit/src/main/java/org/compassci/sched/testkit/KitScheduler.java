package org.compassci.sched.testkit;

import com.typesafe.config.Config;
import java.io.Closeable;
import java.util.concurrent.ThreadFactory;
import org.apache.pekko.actor.Cancellable;
import org.apache.pekko.dispatch.ExecutionContexts;
import org.apache.pekko.event.LoggingAdapter;
import org.apache.pekko.testkit.ExplicitlyTriggeredScheduler;
import scala.concurrent.ExecutionContext;
import scala.concurrent.duration.FiniteDuration;

/**
 * Pekko's manual scheduler (what {@code ManualTime} drives), fit for a kit that starts and stops
 * many times in one JVM. Named in {@code pekko.scheduler.implementation}; {@code
 * ManualTime.get(system)} works on it as on its parent. Two changes:
 * <ul>
 *   <li>{@code timePasses} does not sleep 100 ms first "to give dispatchers time to clear": the
 *       kit lets the actors clear by asking them, so an advance costs what its timers cost;</li>
 *   <li>it closes with its actor system, as Pekko's own scheduler does. An actor system stops its
 *       thread pools a second after their last actor, on a timer: left on manual time, that timer
 *       never fires, and every kit would leave its threads behind (and keep the JVM from
 *       exiting). Once closed, a timer asked for is refused, and Pekko then stops the pool at
 *       once; what was due within that second runs as it closes.</li>
 * </ul>
 */
final class KitScheduler extends ExplicitlyTriggeredScheduler implements Closeable {

  private static final Runnable NOTHING = () -> { };
  /** The parent runs due tasks on the thread that moves time, whatever their executor. */
  private static final ExecutionContext HERE = ExecutionContexts.fromExecutor(Runnable::run);
  /** Past {@code pekko.actor.default-dispatcher.shutdown-timeout} (1 s) of every pool. */
  private static final long CLOSING_SPAN_MS = 5_000;

  private volatile boolean closed;

  KitScheduler(Config config, LoggingAdapter log, ThreadFactory threadFactory) {
    super(config, log, threadFactory);
  }

  @Override
  public void timePasses(FiniteDuration amount) {
    if (amount.toMillis() <= 0) {
      return;
    }
    long runTo = currentTimeMs() + amount.toMillis();
    // the parent leaves its time at the last task it ran; a task due at runTo moves it there,
    // so that timers set from now on count from the end of the span
    super.scheduleOnce(amount, NOTHING, HERE);
    executeTasks(runTo);
  }

  @Override
  public Cancellable scheduleOnce(FiniteDuration delay, Runnable runnable, ExecutionContext executor) {
    refuseWhenClosed();
    return super.scheduleOnce(delay, runnable, executor);
  }

  @Override
  public Cancellable schedule(FiniteDuration initialDelay, FiniteDuration interval, Runnable runnable,
      ExecutionContext executor) {
    refuseWhenClosed();
    return super.schedule(initialDelay, interval, runnable, executor);
  }

  private void refuseWhenClosed() {
    if (closed) {
      // what Pekko's own scheduler throws once closed; a dispatcher then shuts down at once
      throw new IllegalStateException("the kit's scheduler is closed");
    }
  }

  @Override
  public void close() {
    // refused first: a pool whose last actor stops while the due ones run then stops at once
    closed = true;
    timePasses(FiniteDuration.create(CLOSING_SPAN_MS, java.util.concurrent.TimeUnit.MILLISECONDS));
  }
}
