package org.compassci.sched.match;

import java.util.Set;

/**
 * The queued jobs that need exactly the same of a testbox: the same k=v tags (the signature),
 * the same target machines and the same memory. A testbox fits either all of a group or none
 * of it, so matching looks at groups, never at single jobs. Inside, jobs are ordered per
 * tenant (and priority level), so the best job of each tenant is the first of its set; the
 * tenant holds its lanes, by the group's index.
 */
public final class JobGroup {

  /** What makes two jobs land in one group. */
  record Key(Set<String> tags, Set<String> targets, long memoryMb) {}

  final Key key;
  /** Dense index, reused after the group dies: the bit of this group in bit sets. */
  final int index;
  /** Sorted tags: a box's tags must contain every one. */
  final String[] tags;
  final String arch;
  int size;
  /** Set when the group emptied and left the index; a later job of its kind makes a new one. */
  boolean dead;

  JobGroup(Key key, int index, Interner strings) {
    this.key = key;
    this.index = index;
    this.tags = key.tags().stream().sorted().map(strings::intern).toArray(String[]::new);
    String a = null;
    for (String t : tags) {
      if (t.startsWith("arch=")) {
        a = strings.intern(t.substring(5));
      }
    }
    this.arch = a == null ? "" : a;
  }

  public Set<String> tags() {
    return key.tags();
  }

  public Set<String> targets() {
    return key.targets();
  }

  public long memoryMb() {
    return key.memoryMb();
  }

  public String arch() {
    return arch;
  }

  public int size() {
    return size;
  }

  void add(QueuedJob job) {
    Lane lane = job.tenant.lane(index);
    if (lane == null) {
      lane = new Lane(this);
      job.tenant.setLane(index, lane);
    }
    lane.add(job);
    size++;
  }

  boolean remove(QueuedJob job) {
    Lane lane = job.tenant.lane(index);
    if (lane == null || lane.group != this || !lane.remove(job)) {
      return false;
    }
    if (lane.isEmpty()) {
      job.tenant.setLane(index, null);
    }
    size--;
    return true;
  }

  /** Whether a box with these tags and this hostname fits the group (memory aside). */
  boolean fitsTags(Set<String> boxTags, String hostname) {
    for (String t : tags) {
      if (!boxTags.contains(t)) {
        return false;
      }
    }
    return key.targets().isEmpty() || key.targets().contains(hostname);
  }

  /** The first tag a box lacks, or null: for explaining why a job waits. */
  String missingTag(Set<String> boxTags) {
    for (String t : tags) {
      if (!boxTags.contains(t)) {
        return t;
      }
    }
    return null;
  }
}
