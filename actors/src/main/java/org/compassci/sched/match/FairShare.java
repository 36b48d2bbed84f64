package org.compassci.sched.match;

import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

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

  private final Map<Key, TenantQueue> tenants = new HashMap<>();
  private final Map<String, Integer> weights;
  private final int defaultWeight;
  /** Every level seen: a level keeps its last served pass while it has no active tenant. */
  private final Map<Integer, Level> levels = new HashMap<>();
  /** The levels with active tenants, highest first. */
  private final NavigableMap<Integer, Level> active = new TreeMap<>(Collections.reverseOrder());

  public FairShare(Map<String, Integer> weights, int defaultWeight) {
    this.weights = Map.copyOf(weights);
    this.defaultWeight = defaultWeight;
  }

  TenantQueue tenant(String name, int level) {
    return tenants.computeIfAbsent(new Key(level, name), k -> new TenantQueue(name,
        levels.computeIfAbsent(level, Level::new), weights.getOrDefault(name, defaultWeight),
        tenants.size()));
  }

  /** Levels with active tenants, highest first. */
  NavigableMap<Integer, Level> active() {
    return active;
  }

  /** A job of {@code t} was queued. */
  void queued(TenantQueue t) {
    if (t.queued++ == 0) {
      Level level = t.at;
      long floor = level.isEmpty() ? level.lastServed : level.tenant(0).pass;
      t.pass = Math.max(t.pass, floor);
      if (level.isEmpty()) {
        active.put(level.value, level);
      }
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
    Level level = t.at;
    level.remove(t);
    level.lastServed = t.pass;
    t.pass += t.stride;
    if (--t.queued > 0) {
      level.add(t);
    } else if (level.isEmpty()) {
      active.remove(level.value);
    }
  }

  /** A hand-out was taken back before the testbox got it: the tenant is not charged for it. */
  void refund(TenantQueue t) {
    boolean wasActive = t.at.remove(t);
    t.pass -= t.stride;
    if (wasActive) {
      t.at.add(t);
    }
  }

  private void deactivate(TenantQueue t) {
    Level level = t.at;
    if (level.remove(t) && level.isEmpty()) {
      active.remove(level.value);
    }
  }
}
