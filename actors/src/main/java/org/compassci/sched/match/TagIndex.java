package org.compassci.sched.match;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Finds the groups whose tags a testbox offers (job requirements ⊆ box tags). An index from
 * each k=v to the groups that need it gives a box's fitting groups by counting, per group, how
 * many of its tags the box offers. The answer is cached per box tag-set as a bit set of group
 * indexes and kept up to date as groups come and go, so a box that asks again costs nothing
 * here, and the matcher can AND it with a tenant's groups.
 */
final class TagIndex {

  /** Most distinct box tag-sets cached; past it the cache starts again (boxes re-ask cheaply). */
  static final int CACHE_MAX = 20_000;

  private final Map<String, List<JobGroup>> postings = new HashMap<>();
  /** Groups that need no tag at all: every box fits them. */
  private final List<JobGroup> untagged = new ArrayList<>();
  private final Map<Set<String>, BoxFit> cache = new HashMap<>();

  /** The groups one box tag-set fits, as bits of their indexes. */
  static final class BoxFit {
    final String hostname;
    final BitSet bits = new BitSet();

    BoxFit(String hostname) {
      this.hostname = hostname;
    }
  }

  void add(JobGroup g) {
    if (g.tags.length == 0) {
      untagged.add(g);
    }
    for (String t : g.tags) {
      postings.computeIfAbsent(t, k -> new ArrayList<>()).add(g);
    }
    for (Map.Entry<Set<String>, BoxFit> e : cache.entrySet()) {
      if (g.fitsTags(e.getKey(), e.getValue().hostname)) {
        e.getValue().bits.set(g.index);
      }
    }
  }

  /** The group emptied: its index may go to a new group, so every trace of it goes now. */
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
    for (BoxFit fit : cache.values()) {
      fit.bits.clear(g.index);
    }
  }

  /** The groups a box with these tags fits; the cache's own object, do not keep it. */
  BoxFit fitting(Set<String> boxTags) {
    BoxFit fit = cache.get(boxTags);
    if (fit == null) {
      if (cache.size() >= CACHE_MAX) {
        cache.clear();
      }
      fit = compute(boxTags);
      cache.put(boxTags, fit);
    }
    return fit;
  }

  private BoxFit compute(Set<String> boxTags) {
    BoxFit fit = new BoxFit(hostnameOf(boxTags));
    Map<JobGroup, int[]> counts = new IdentityHashMap<>();
    for (String t : boxTags) {
      List<JobGroup> list = postings.get(t);
      if (list != null) {
        for (JobGroup g : list) {
          counts.computeIfAbsent(g, k -> new int[1])[0]++;
        }
      }
    }
    for (JobGroup g : untagged) {
      if (g.key.targets().isEmpty() || g.key.targets().contains(fit.hostname)) {
        fit.bits.set(g.index);
      }
    }
    for (Map.Entry<JobGroup, int[]> e : counts.entrySet()) {
      JobGroup g = e.getKey();
      if (e.getValue()[0] == g.tags.length
          && (g.key.targets().isEmpty() || g.key.targets().contains(fit.hostname))) {
        fit.bits.set(g.index);
      }
    }
    return fit;
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
}
