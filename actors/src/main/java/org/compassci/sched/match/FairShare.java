package org.compassci.sched.match;

import java.util.HashMap;
import java.util.Map;

/**
 * Weighted fair share between tenants inside one priority level. A tenant that becomes active
 * starts at the smallest pass of the tenants already active at its level (or where the level
 * last served, when none is): it gets no credit for the time it had nothing queued, and it does
 * not wait behind a tenant that has been served a lot.
 */
public final class FairShare {

  private record Key(int level, String tenant) {}

  private final Map<Key, TenantQueue> tenants = new HashMap<>();
  private final Map<String, Integer> weights;
  private final int defaultWeight;
  /** Per level, the pass of the last tenant served: the floor when no tenant is active. */
  private final Map<Integer, Long> lastServed = new HashMap<>();

  public FairShare(Map<String, Integer> weights, int defaultWeight) {
    this.weights = Map.copyOf(weights);
    this.defaultWeight = defaultWeight;
  }

  TenantQueue tenant(String name, int level) {
    return tenants.computeIfAbsent(new Key(level, name),
        k -> new TenantQueue(name, level, weights.getOrDefault(name, defaultWeight)));
  }

  /** A job of {@code t} was queued. */
  void queued(TenantQueue t) {
    if (t.queued++ == 0) {
      t.pass = Math.max(t.pass, floor(t));
    }
  }

  /** A job of {@code t} left the queue without being served (cancelled). */
  void unqueued(TenantQueue t) {
    t.queued--;
  }

  /** A job of {@code t} was handed out. */
  void served(TenantQueue t) {
    t.queued--;
    lastServed.put(t.level, t.pass);
    t.pass += t.stride;
  }

  /** A hand-out was taken back before the testbox got it: the tenant is not charged for it. */
  void refund(TenantQueue t) {
    t.pass -= t.stride;
  }

  private long floor(TenantQueue joining) {
    long min = Long.MAX_VALUE;
    for (TenantQueue t : tenants.values()) {
      if (t != joining && t.level == joining.level && t.queued > 0 && t.pass < min) {
        min = t.pass;
      }
    }
    return min != Long.MAX_VALUE ? min : lastServed.getOrDefault(joining.level, 0L);
  }

  int tenantCount() {
    return tenants.size();
  }
}
