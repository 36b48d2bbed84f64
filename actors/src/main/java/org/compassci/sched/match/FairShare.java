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
 *
 * <p>Tenants that stayed active while {@link #STALE_AFTER} hand-outs at their level went to others
 * are stale: their jobs fit no box that asks lately (a machine down, a group no lab has, a pool
 * far smaller than the others), and their pass stayed where it was. They do not count for that
 * smallest pass: counted, such a tenant would lend its old pass to every tenant that becomes
 * active, and that one would then take every box from the tenants being served until it had
 * caught up with all they were served meanwhile. And a stale tenant, when a box finally takes
 * one of its jobs, first comes up to that floor itself (see {@link #served}).
 *
 * <p>A tenant that becomes active is fresh until a box that takes jobs and fits one of its
 * weighs it against another tenant that box could serve, or for at most {@link #STALE_AFTER}
 * hand-outs at its level: it comes up to the least served of them (see {@link #liftFresh}).
 * Tenants of different pools of boxes are served at different rates, and the least pass of the
 * level may be a tenant of a pool the newcomer never sees.
 */
public final class FairShare {

  private record Key(int level, String tenant) {}

  private final Map<Key, TenantQueue> tenants = new HashMap<>();
  /**
   * Hand-outs at a level that, having all passed an active tenant by, make it stale. A tenant
   * served at all in a lab's mix is served within that many (a pool of one box in a thousand);
   * within one pool of boxes, where tenants take turns by pass, a stale tenant's pass is at the
   * floor already and coming up to it changes nothing.
   */
  public static final long STALE_AFTER = 1_000;

  /**
   * A pass past this moves down, with every pass of its level, by {@link #REBASE_BY}: passes only
   * grow (a tenant that becomes active takes the others'), and a scheduler that runs for months
   * would take one past {@code Long.MAX_VALUE}, where it turns negative and its tenant goes first
   * for good: after about 9 million hand-outs of a tenant of weight 1, 92 million of weight 10.
   */
  static final long REBASE_ABOVE = 1L << 62;
  static final long REBASE_BY = 1L << 61;
  /**
   * Where a pass moved down stops: a tenant that far behind has been inactive for ages (an active
   * one is within a few strides of the others, or stale and lifted when served), and it comes up
   * to the floor when it becomes active again.
   */
  static final long LOWEST_PASS = -(1L << 62);

  private final Map<String, Integer> weights;
  private final int defaultWeight;
  private final long staleAfter;
  /** Every level seen: a level keeps its last served pass while it has no active tenant. */
  private final Map<Integer, Level> levels = new HashMap<>();
  /** The levels with active tenants, highest first. */
  private final NavigableMap<Integer, Level> active = new TreeMap<>(Collections.reverseOrder());

  public FairShare(Map<String, Integer> weights, int defaultWeight) {
    this(weights, defaultWeight, STALE_AFTER);
  }

  FairShare(Map<String, Integer> weights, int defaultWeight, long staleAfter) {
    this.weights = Map.copyOf(weights);
    this.defaultWeight = defaultWeight;
    this.staleAfter = staleAfter;
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
      t.pass = Math.max(t.pass, floor(level));
      t.freshAt = level.served;
      t.fresh = true;
      t.activatedAt = level.served;
      level.fresh.add(t);
      if (level.isEmpty()) {
        active.put(level.value, level);
      }
      level.add(t);
    }
  }

  /**
   * Where a tenant that becomes active starts: the smallest pass of the active tenants that are
   * not stale (they are in order of pass, the stale ones usually first), or where the level last
   * served when every active tenant is stale or none is active.
   */
  private long floor(Level level) {
    for (int i = 0; i < level.size(); i++) {
      TenantQueue other = level.tenant(i);
      if (!stale(level, other)) {
        return other.pass;
      }
    }
    return level.lastServed;
  }

  /** Whether {@code staleAfter} hand-outs at its level went to others since {@code t} last moved. */
  private boolean stale(Level level, TenantQueue t) {
    return level.served - t.freshAt >= staleAfter;
  }

  /** A job of {@code t} left the queue without being served (cancelled). */
  void unqueued(TenantQueue t) {
    if (--t.queued == 0) {
      deactivate(t);
    }
  }

  /** As {@link #served(TenantQueue, long[])}, the box's tenants unknown. */
  void served(TenantQueue t) {
    served(t, null);
  }

  /**
   * A job of {@code t} was handed out to a box for which {@code withJobs} (slots of the level's
   * tenants; null when unknown) have jobs. A stale tenant first comes up to where the others of
   * that box are (or of the level, when the box has none): the credit it kept while no box could
   * serve it is what it missed beside tenants of other boxes, and spent now it would take its
   * boxes from the tenants that want them too, one hand-out each for every one the others had
   * meanwhile.
   */
  void served(TenantQueue t, long[] withJobs) {
    Level level = t.at;
    level.remove(t);
    if (stale(level, t)) {
      TenantQueue local = withJobs == null ? null : leastServed(level, withJobs, null, false);
      t.pass = Math.max(t.pass, local != null ? local.pass : floor(level));
    }
    level.lastServed = t.pass;
    t.pass += t.stride;
    t.freshAt = ++level.served;
    if (t.pass > REBASE_ABOVE) {
      rebase(level);
    }
    if (--t.queued > 0) {
      level.add(t);
    } else {
      settle(t);
      if (level.isEmpty()) {
        active.remove(level.value);
      }
    }
  }

  /**
   * The active tenant of the level with the least pass among those with jobs for the box
   * ({@code withJobs}) that are not stale, other than {@code besides}; with {@code established},
   * not fresh either unless served since it became active (a tenant alone in its pool is never
   * weighed, and it is the one a newcomer there shares the boxes with). Null when none is.
   */
  private TenantQueue leastServed(Level level, long[] withJobs, TenantQueue besides, boolean established) {
    for (int i = 0; i < level.size(); i++) {
      TenantQueue other = level.tenant(i);
      if (other != besides && Level.has(withJobs, other.slot) && !stale(level, other)
          && (!established || !other.fresh || other.freshAt > other.activatedAt)) {
        return other;
      }
    }
    return null;
  }

  /**
   * Moves every pass of the level down by the same amount: their order, and so the share, stays
   * as it was. The active tenants leave the level's order while their passes change.
   */
  private void rebase(Level level) {
    java.util.List<TenantQueue> activeHere = new java.util.ArrayList<>(level.size());
    for (int i = 0; i < level.size(); i++) {
      activeHere.add(level.tenant(i));
    }
    activeHere.forEach(level::remove);
    for (TenantQueue t : tenants.values()) {
      if (t.at == level) {
        t.pass = lower(t.pass);
      }
    }
    level.lastServed = lower(level.lastServed);
    activeHere.forEach(level::add);
  }

  private static long lower(long pass) {
    return Math.max(LOWEST_PASS, pass - REBASE_BY);
  }

  /** A hand-out was taken back before the testbox got it: the tenant is not charged for it. */
  void refund(TenantQueue t) {
    boolean wasActive = t.at.remove(t);
    t.pass -= t.stride;
    if (wasActive) {
      t.at.add(t);
    }
  }

  /**
   * A box that takes jobs weighs the fresh tenants with jobs for it ({@code withJobs}, slots of
   * this level's tenants) against the others it could serve: a fresh one more than one of its
   * own turns below the least pass among them (neither stale nor fresh, unless served since)
   * comes up to one turn below it. A tenant that becomes
   * active starts at the least pass of the whole level, and that may be a tenant of boxes this one
   * never sees: one whose jobs fit only a pool of one box in ten is served, and not stale, but its
   * pass falls behind the large pool's tenants by most of theirs. Started there, a newcomer to the
   * large pool took every box of it from the tenants already served until it had caught up (8,000
   * hand-outs after 10,000); started at the largest pass instead, a newcomer to the small pool would
   * wait as long. One pass per tenant cannot tell the pools apart; the first box that weighs the
   * newcomer against another tenant can. A box where it meets no one (its jobs fit a box too
   * small for the others') leaves it fresh for the next.
   */
  void liftFresh(Level level, long[] withJobs) {
    if (level.fresh.isEmpty()) {
      return;
    }
    // on most asks no fresh tenant has jobs for the box: a look at each fresh one, no walk
    java.util.List<TenantQueue> weighed = null;
    for (java.util.Iterator<TenantQueue> it = level.fresh.iterator(); it.hasNext(); ) {
      TenantQueue t = it.next();
      if (level.served - t.activatedAt >= staleAfter) {
        t.fresh = false;
        it.remove();
      } else if (Level.has(withJobs, t.slot)) {
        if (weighed == null) {
          weighed = new java.util.ArrayList<>(2);
        }
        weighed.add(t);
      }
    }
    if (weighed == null) {
      return;
    }
    // every floor before any lift: the order of the fresh ones does not matter
    long[] floors = new long[weighed.size()];
    for (int k = 0; k < floors.length; k++) {
      TenantQueue t = weighed.get(k);
      TenantQueue other = leastServed(level, withJobs, t, true);
      // one of its own turns behind: the other may have been served since on a tie with this
      // very tenant (the older job first), and lifted level with it this one would lose the next
      // tie too (a user's one job behind a bot's batch waited two turns). No pass comes near
      // Long.MIN_VALUE (LOWEST_PASS), which marks no one to weigh it against
      floors[k] = other == null ? Long.MIN_VALUE : other.pass - t.stride;
    }
    for (int k = 0; k < floors.length; k++) {
      TenantQueue t = weighed.get(k);
      long floor = floors[k];
      if (floor == Long.MIN_VALUE) {
        // no one to weigh it against here: it stays fresh for the next box
        continue;
      }
      if (t.pass < floor) {
        level.remove(t);
        t.pass = floor;
        level.add(t);
      }
      // weighed once: lifted again at every box, it would tie with the least served of them
      // each time and, the older jobs first on a tie, never get ahead of it
      settle(t);
    }
  }

  /** The tenant has been weighed (or is no longer active): no longer fresh. */
  private static void settle(TenantQueue t) {
    if (t.fresh) {
      t.fresh = false;
      t.at.fresh.remove(t);
    }
  }

  private void deactivate(TenantQueue t) {
    Level level = t.at;
    settle(t);
    if (level.remove(t) && level.isEmpty()) {
      active.remove(level.value);
    }
  }
}
