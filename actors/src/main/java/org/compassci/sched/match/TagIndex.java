package org.compassci.sched.match;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Finds the groups whose tags a testbox offers (job requirements ⊆ box tags). An index from
 * each k=v to the groups that need it gives a box's fitting groups by counting, per group, how
 * many of its tags the box offers; the answer is cached per box tag-set and kept up to date as
 * groups appear, so a box that asks again costs in proportion to the groups it fits.
 */
final class TagIndex {

  /** Most distinct box tag-sets cached; past it the cache starts again (boxes re-ask cheaply). */
  static final int CACHE_MAX = 20_000;

  private final Map<String, List<JobGroup>> postings = new HashMap<>();
  /** Groups that need no tag at all: every box fits them. */
  private final List<JobGroup> untagged = new ArrayList<>();
  private final Map<Set<String>, List<JobGroup>> cache = new HashMap<>();
  private long cacheMisses;

  void add(JobGroup g) {
    if (g.tags.length == 0) {
      untagged.add(g);
    }
    for (String t : g.tags) {
      postings.computeIfAbsent(t, k -> new ArrayList<>()).add(g);
    }
    for (Map.Entry<Set<String>, List<JobGroup>> e : cache.entrySet()) {
      if (g.fitsTags(e.getKey(), hostnameOf(e.getKey()))) {
        e.getValue().add(g);
      }
    }
  }

  /** The group emptied: it leaves the postings now and the cached lists when next met. */
  void remove(JobGroup g) {
    g.dead = true;
    if (g.tags.length == 0) {
      untagged.remove(g);
    }
    for (String t : g.tags) {
      List<JobGroup> list = postings.get(t);
      if (list != null) {
        list.remove(g);
        if (list.isEmpty()) {
          postings.remove(t);
        }
      }
    }
  }

  /** The live groups a box with these tags fits; the list is the cache's own, do not keep it. */
  List<JobGroup> fitting(Set<String> boxTags) {
    List<JobGroup> groups = cache.get(boxTags);
    if (groups == null) {
      cacheMisses++;
      if (cache.size() >= CACHE_MAX) {
        cache.clear();
      }
      groups = compute(boxTags);
      cache.put(boxTags, groups);
    } else if (!groups.isEmpty()) {
      groups.removeIf(g -> g.dead);
    }
    return groups;
  }

  private List<JobGroup> compute(Set<String> boxTags) {
    String hostname = hostnameOf(boxTags);
    Map<JobGroup, int[]> counts = new IdentityHashMap<>();
    for (String t : boxTags) {
      List<JobGroup> list = postings.get(t);
      if (list != null) {
        for (JobGroup g : list) {
          counts.computeIfAbsent(g, k -> new int[1])[0]++;
        }
      }
    }
    List<JobGroup> out = new ArrayList<>(untagged);
    for (Map.Entry<JobGroup, int[]> e : counts.entrySet()) {
      JobGroup g = e.getKey();
      if (e.getValue()[0] == g.tags.length
          && (g.key.targets().isEmpty() || g.key.targets().contains(hostname))) {
        out.add(g);
      }
    }
    return out;
  }

  static String hostnameOf(Set<String> boxTags) {
    for (String t : boxTags) {
      if (t.startsWith("hostname=")) {
        return t.substring(9);
      }
    }
    return "";
  }

  int cachedBoxes() {
    return cache.size();
  }

  long cacheMisses() {
    return cacheMisses;
  }
}
