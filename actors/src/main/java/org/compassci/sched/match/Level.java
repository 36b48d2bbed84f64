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
 */
final class Level {

  final int value;
  /** The active tenants (those with jobs queued at this level), by pass, then by age. */
  private TenantQueue[] byPass = new TenantQueue[8];
  private int size;
  /** The pass of the last tenant served: the floor when no tenant is active. */
  long lastServed;
  /** By group index: the tenants of this level with a lane (some jobs) in that group. */
  private int[] lanes = new int[64];

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

  void laneOpened(int groupIndex) {
    if (groupIndex >= lanes.length) {
      lanes = Arrays.copyOf(lanes, Math.max(groupIndex + 1, lanes.length * 2));
    }
    lanes[groupIndex]++;
  }

  void laneClosed(int groupIndex) {
    lanes[groupIndex]--;
  }
}
