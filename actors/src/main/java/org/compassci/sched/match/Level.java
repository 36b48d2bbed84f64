package org.compassci.sched.match;

import java.util.Arrays;

/**
 * One priority level: its active tenants by pass, and how many of them have jobs in each group.
 * The counts let the matcher narrow a box's fitting groups to those with jobs at this level
 * once, before it asks the tenants one by one; a level with none of them is passed over whole.
 *
 * <p>The tenants are a sorted array, not a tree: every box that asks walks them from the
 * least pass (often past a score of tenants level on pass), and each hand-out moves one tenant;
 * a walk down an array and a move of a few dozen references cost less than a tree's pointer
 * chasing and its new node per move.
 *
 * <p>Each group also has a bit per tenant of the level with a lane there. A box's walk ORs the
 * bits of the groups it fits and passes over the tenants with none of them: in the matcher
 * bench's lab a walk passed 32 of 42 tenants, and asking each of them about each of the box's
 * groups (17 on average) was most of a take.
 */
final class Level {

  final int value;
  /** The active tenants (those with jobs queued at this level), by pass, then by age. */
  private TenantQueue[] byPass = new TenantQueue[8];
  private int size;
  /** The pass of the last tenant served: the floor when no tenant is active. */
  long lastServed;
  /** The active tenants with {@link TenantQueue#fresh} set: few, and each only for a while. */
  final java.util.List<TenantQueue> fresh = new java.util.ArrayList<>(4);
  /** Hand-outs at this level so far: the clock that {@link TenantQueue#freshAt} is read against. */
  long served;
  /** By group index: the tenants of this level with a lane (some jobs) in that group. */
  private int[] lanes = new int[64];
  /** Tenant slots given out: each tenant of the level has one for good (see {@link #newSlot}). */
  private int slots;
  /** Longs per group in {@link #members}: room for 64 slots each. */
  private int words = 1;
  /** By group index, {@link #words} longs: a bit per tenant slot with a lane in that group. */
  private long[] members = new long[64];
  /** {@link #tenantsIn}'s answer, reused: the matcher asks one box at a time. */
  private long[] found = new long[1];

  Level(int value) {
    this.value = value;
  }

  int size() {
    return size;
  }

  boolean isEmpty() {
    return size == 0;
  }

  /** The active tenant at this place in the order of pass (0: the least served per weight). */
  TenantQueue tenant(int i) {
    return byPass[i];
  }

  /** Adds an active tenant, at the place of its pass (which must not change while it is here). */
  void add(TenantQueue t) {
    int at = search(t);
    if (size == byPass.length) {
      byPass = Arrays.copyOf(byPass, size * 2);
    }
    System.arraycopy(byPass, at, byPass, at + 1, size - at);
    byPass[at] = t;
    size++;
  }

  /** Removes the tenant; false when it is not active here. */
  boolean remove(TenantQueue t) {
    int at = search(t);
    if (at == size || byPass[at] != t) {
      return false;
    }
    System.arraycopy(byPass, at + 1, byPass, at, size - at - 1);
    byPass[--size] = null;
    return true;
  }

  /** The first place whose tenant does not come before {@code t}. */
  private int search(TenantQueue t) {
    int lo = 0;
    int hi = size;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      TenantQueue m = byPass[mid];
      if (m.pass < t.pass || (m.pass == t.pass && m.seq < t.seq)) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  /** Whether some tenant of this level has jobs in the group with this index. */
  boolean hasJobsIn(int groupIndex) {
    return groupIndex < lanes.length && lanes[groupIndex] > 0;
  }

  /**
   * A new tenant's bit. Tenants are never forgotten (their pass must survive a quiet spell), so
   * slots are not reused; a lab with a few hundred accounts has a few longs per group.
   */
  int newSlot() {
    int slot = slots++;
    if (slot >= words * 64) {
      int wider = words * 2;
      long[] m = new long[lanes.length * wider];
      for (int g = 0; g < lanes.length; g++) {
        System.arraycopy(members, g * words, m, g * wider, words);
      }
      members = m;
      words = wider;
      found = new long[wider];
    }
    return slot;
  }

  void laneOpened(int groupIndex, int slot) {
    if (groupIndex >= lanes.length) {
      int capacity = Math.max(groupIndex + 1, lanes.length * 2);
      lanes = Arrays.copyOf(lanes, capacity);
      members = Arrays.copyOf(members, capacity * words);
    }
    lanes[groupIndex]++;
    members[groupIndex * words + (slot >>> 6)] |= 1L << slot;
  }

  void laneClosed(int groupIndex, int slot) {
    lanes[groupIndex]--;
    members[groupIndex * words + (slot >>> 6)] &= ~(1L << slot);
  }

  /**
   * The slots of the tenants with a lane in one of the first {@code n} of {@code groups}; test
   * one with {@link #has}. The array is reused by the next call.
   */
  long[] tenantsIn(int[] groups, int n) {
    if (words == 1) {
      long m = 0;
      for (int k = 0; k < n; k++) {
        m |= members[groups[k]];
      }
      found[0] = m;
      return found;
    }
    Arrays.fill(found, 0L);
    for (int k = 0; k < n; k++) {
      int at = groups[k] * words;
      for (int w = 0; w < words; w++) {
        found[w] |= members[at + w];
      }
    }
    return found;
  }

  static boolean has(long[] tenants, int slot) {
    return (tenants[slot >>> 6] & (1L << slot)) != 0;
  }
}
