package org.compassci.sched.match;

import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.NavigableMap;
import java.util.NavigableSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Weighted fair share between tenants inside one priority level. The active tenants of each
 * level (those with jobs queued) are kept in order of pass, least served per weight first, so
 * the matcher asks them in that order and usually stops at the first. A tenant that becomes
 * active starts at the smallest pass of the tenants already active at its level (or where the
 * level last served, when none is): it gets no credit for the time it had nothing queued, and
 * it does not wait behind a tenant that has been served a lot.
 */
public final class FairShare {

  private record Key(int level, String tenant) {}

  /** Ties of pass are broken by name only to keep the set's order total. */
  private static final Comparator<TenantQueue> BY_PASS =
      Comparator.comparingLong((TenantQueue t) -> t.pass).thenComparing(t -> t.tenant);

  private final Map<Key, TenantQueue> tenants = new HashMap<>();
  private final Map<String, Integer> weights;
  private final int defaultWeight;
  /** Per level, highest first: the active tenants by pass. */
  private final NavigableMap<Integer, NavigableSet<TenantQueue>> active =
      new TreeMap<>(Collections.reverseOrder());
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

  /** Levels with active tenants, highest first, each with its tenants by pass. */
  NavigableMap<Integer, NavigableSet<TenantQueue>> active() {
    return active;
  }

  /** A job of {@code t} was queued. */
  void queued(TenantQueue t) {
    if (t.queued++ == 0) {
      NavigableSet<TenantQueue> level = active.computeIfAbsent(t.level, l -> new TreeSet<>(BY_PASS));
      long floor = level.isEmpty() ? lastServed.getOrDefault(t.level, 0L) : level.first().pass;
      t.pass = Math.max(t.pass, floor);
      level.add(t);
    }
  }

  /** A job of {@code t} left the queue without being served (cancelled). */
  void unqueued(TenantQueue t) {
    if (--t.queued == 0) {
      deactivate(t);
    }
  }

  /** A job of {@code t} was handed out. */
  void served(TenantQueue t) {
    NavigableSet<TenantQueue> level = active.get(t.level);
    level.remove(t);
    lastServed.put(t.level, t.pass);
    t.pass += t.stride;
    if (--t.queued > 0) {
      level.add(t);
    } else if (level.isEmpty()) {
      active.remove(t.level);
    }
  }

  /** A hand-out was taken back before the testbox got it: the tenant is not charged for it. */
  void refund(TenantQueue t) {
    NavigableSet<TenantQueue> level = active.get(t.level);
    boolean wasActive = level != null && level.remove(t);
    t.pass -= t.stride;
    if (wasActive) {
      level.add(t);
    }
  }

  private void deactivate(TenantQueue t) {
    NavigableSet<TenantQueue> level = active.get(t.level);
    if (level != null) {
      level.remove(t);
      if (level.isEmpty()) {
        active.remove(t.level);
      }
    }
  }
}
