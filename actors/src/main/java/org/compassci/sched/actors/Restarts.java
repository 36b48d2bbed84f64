package org.compassci.sched.actors;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * Supervision of the long-lived actors, and how often each was restarted. An unexpected
 * exception in a handler restarts the actor instead of stopping it for good: the matcher and
 * the lifecycle start again in their loading behaviour and read their jobs back from the store,
 * which is the truth. The counts outlive the restarts, so they live here and not in the actors;
 * the management API and /metrics read them.
 */
public final class Restarts {

  private final Map<String, AtomicLong> starts = new ConcurrentHashMap<>();

  /** {@code behavior}, restarted on any exception; each restart is counted and logged. */
  public <T> Behavior<T> supervise(String name, Behavior<T> behavior) {
    return Behaviors.supervise(Behaviors.<T>setup(ctx -> {
      long n = starts.computeIfAbsent(name, k -> new AtomicLong()).incrementAndGet();
      if (n > 1) {
        ctx.getLog().error("actor {} restarted after a failure (restart {}): its state is read "
            + "again from the store", name, n - 1);
      }
      return behavior;
    })).onFailure(Exception.class, SupervisorStrategy.restart());
  }

  /** How often {@code name} was restarted since the process started. */
  public long of(String name) {
    AtomicLong n = starts.get(name);
    return n == null ? 0 : Math.max(0, n.get() - 1);
  }

  /** Every supervised actor's restarts, by name. */
  public Map<String, Long> all() {
    Map<String, Long> out = new TreeMap<>();
    starts.keySet().forEach(name -> out.put(name, of(name)));
    return out;
  }
}
