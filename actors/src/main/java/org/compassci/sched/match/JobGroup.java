package org.compassci.sched.match;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The queued jobs that need exactly the same of a testbox: the same k=v tags (the signature),
 * the same target machines and the same memory. A testbox fits either all of a group or none
 * of it, so matching looks at groups, never at single jobs. Inside, jobs are ordered per
 * tenant (and priority level), so the best job of each tenant is the first of its set.
 */
public final class JobGroup {

  /** What makes two jobs land in one group. */
  record Key(Set<String> tags, Set<String> targets, long memoryMb) {}

  final Key key;
  /** Sorted tags: a box's tags must contain every one. */
  final String[] tags;
  final String arch;
  final Map<TenantQueue, TreeSet<QueuedJob>> byTenant = new HashMap<>();
  int size;
  /** Set when the group emptied and left the index; a later job of its kind makes a new one. */
  boolean dead;

  JobGroup(Key key, Interner strings) {
    this.key = key;
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
    byTenant.computeIfAbsent(job.tenant, t -> new TreeSet<>(QueuedJob.ORDER)).add(job);
    size++;
  }

  boolean remove(QueuedJob job) {
    TreeSet<QueuedJob> set = byTenant.get(job.tenant);
    if (set == null || !set.remove(job)) {
      return false;
    }
    if (set.isEmpty()) {
      byTenant.remove(job.tenant);
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

  List<QueuedJob> jobsOf(TenantQueue t) {
    TreeSet<QueuedJob> set = byTenant.get(t);
    return set == null ? List.of() : new ArrayList<>(set);
  }
}
