package org.compassci.sched.testkit;

import com.typesafe.config.Config;
import java.util.concurrent.ThreadFactory;
import org.apache.pekko.dispatch.ExecutionContexts;
import org.apache.pekko.event.LoggingAdapter;
import org.apache.pekko.testkit.ExplicitlyTriggeredScheduler;
import scala.concurrent.duration.FiniteDuration;

/**
 * Pekko's manual scheduler (what {@code ManualTime} drives) without the 100 ms sleep its
 * {@code timePasses} takes first "to give dispatchers time to clear": the kit lets the actors
 * clear by asking them instead, so an advance costs what its timers cost. Named in
 * {@code pekko.scheduler.implementation}; {@code ManualTime.get(system)} works on it as on its
 * parent.
 */
final class KitScheduler extends ExplicitlyTriggeredScheduler {

  private static final Runnable NOTHING = () -> { };
  /** The parent runs due tasks on the thread that moves time, whatever their executor. */
  private static final scala.concurrent.ExecutionContext HERE = ExecutionContexts.fromExecutor(Runnable::run);

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
    scheduleOnce(amount, NOTHING, HERE);
    executeTasks(runTo);
  }
}
