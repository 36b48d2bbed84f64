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
  /** The level's shared state: its tenants by pass, its lanes per group. */
  final Level at;
  final int weight;
  final long stride;
  /** Order of creation: breaks ties of pass in {@link Level}'s order (any total order would do). */
  final int seq;
  /** This tenant's bit in its level's per-group tenant sets. */
  final int slot;
  long pass;
  /**
   * Its level's count of hand-outs when this tenant last became active or was served: a tenant
   * that stays active while many hand-outs pass it by (its jobs fit no box that asks) is stale.
   */
  long freshAt;
  /**
   * Active since lately, and no box that takes jobs has weighed it against the tenants it
   * competes with yet (see {@link FairShare#liftFresh}).
   */
  boolean fresh;
  /** Its level's count of hand-outs when it last became active: fresh for a window from there. */
  long activatedAt;
  /** Jobs of this tenant queued at this level, over all groups. */
  int queued;
  /** This tenant's lane in each group, by the group's index; null where it has no jobs. */
  private Lane[] lanes = new Lane[64];

  Lane lane(int groupIndex) {
    return groupIndex < lanes.length ? lanes[groupIndex] : null;
  }

  void setLane(int groupIndex, Lane lane) {
    if (groupIndex >= lanes.length) {
      lanes = java.util.Arrays.copyOf(lanes, Math.max(groupIndex + 1, lanes.length * 2));
    }
    Lane old = lanes[groupIndex];
    lanes[groupIndex] = lane;
    if (old == null && lane != null) {
      at.laneOpened(groupIndex, slot);
    } else if (old != null && lane == null) {
      at.laneClosed(groupIndex, slot);
    }
  }

  TenantQueue(String tenant, Level at, int weight, int seq) {
    this.tenant = tenant;
    this.seq = seq;
    this.level = at.value;
    this.at = at;
    this.weight = weight;
    this.stride = PASS_UNIT / weight;
    this.slot = at.newSlot();
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
