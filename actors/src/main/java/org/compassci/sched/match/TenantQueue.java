package org.compassci.sched.match;

/**
 * One tenant at one priority level, with its fair-share account. {@code pass} grows by
 * {@code stride} (inversely proportional to the weight) each time the tenant is served, so the
 * tenant with the smallest pass has had the least service per weight (stride scheduling).
 */
public final class TenantQueue {

  /** 10^12 / weight keeps every stride exact enough for weights up to a million. */
  static final long PASS_UNIT = 1_000_000_000_000L;

  final String tenant;
  final int level;
  final int weight;
  final long stride;
  long pass;
  /** Jobs of this tenant queued at this level, over all groups. */
  int queued;
  /** Indexes of the groups where this tenant has jobs at this level, to AND with a box's. */
  final java.util.BitSet groupBits = new java.util.BitSet();
  /** This tenant's lane in each group, by the group's index. */
  Lane[] lanes = new Lane[64];

  Lane lane(int groupIndex) {
    return groupIndex < lanes.length ? lanes[groupIndex] : null;
  }

  void setLane(int groupIndex, Lane lane) {
    if (groupIndex >= lanes.length) {
      lanes = java.util.Arrays.copyOf(lanes, Math.max(groupIndex + 1, lanes.length * 2));
    }
    lanes[groupIndex] = lane;
    if (lane == null) {
      groupBits.clear(groupIndex);
    } else {
      groupBits.set(groupIndex);
    }
  }

  TenantQueue(String tenant, int level, int weight) {
    this.tenant = tenant;
    this.level = level;
    this.weight = weight;
    this.stride = PASS_UNIT / weight;
  }

  public String tenant() {
    return tenant;
  }

  public int level() {
    return level;
  }

  public int weight() {
    return weight;
  }

  public long pass() {
    return pass;
  }

  public int queued() {
    return queued;
  }
}
