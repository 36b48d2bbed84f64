package org.compassci.sched.match;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Finds the groups whose tags a testbox offers (job requirements ⊆ box tags). An index from
 * each k=v to the groups that need it gives a box's fitting groups by counting, per group, how
 * many of its tags the box offers. The answer is cached per box as the indexes of the fitting
 * groups and kept up to date as groups come, so a box that asks again costs nothing here.
 *
 * <p>A group that dies keeps its bit in the cached answers: its index has no jobs, so the
 * matcher passes over it, and a new group that takes the index over sets or clears that bit in
 * every answer. Clearing it at once would cost a write per cached box for every group that
 * empties, which on a draining queue is most of the work.
 */
final class TagIndex {

  /** Most distinct boxes cached; past it the cache starts again (boxes re-ask cheaply). */
  static final int CACHE_MAX = 20_000;

  private final Map<String, List<JobGroup>> postings = new HashMap<>();
  /** Groups that need no tag at all: every box fits them. */
  private final List<JobGroup> untagged = new ArrayList<>();
  /**
   * By hostname, which every box's tags carry: its hash is the string's own, where a tag set's
   * is the sum of its members' each time. The entry's tags are checked against the box's.
   */
  private final Map<String, BoxFit> cache = new HashMap<>();
  /** {@link #compute}'s tally of each group's tags a box offers, by group index; all 0 between calls. */
  private int[] counts = new int[64];
  /** The groups {@link #compute} counted, to check and reset; empty between calls. */
  private final List<JobGroup> touched = new ArrayList<>();

  /** The groups one box tag-set fits: bits of their indexes, and the same as a list. */
  static final class BoxFit {
    final Set<String> tags;
    final String hostname;
    private final BitSet bits = new BitSet();
    private int[] indexes = new int[0];
    private boolean listed = true;

    BoxFit(Set<String> tags, String hostname) {
      this.tags = tags;
      this.hostname = hostname;
    }

    void set(int index, boolean fits) {
      if (bits.get(index) != fits) {
        bits.set(index, fits);
        listed = false;
      }
    }

    /** Whether this answer is for a box with these tags (a box under the same name may change them). */
    boolean isFor(Set<String> boxTags) {
      return tags == boxTags || tags.equals(boxTags);
    }

    /** Indexes of the fitting groups (and of dead groups not yet reused), ascending. */
    int[] indexes() {
      if (!listed) {
        // by hand, into the old array when the count is the same: a new group's index flips a
        // bit in every cached box, and each one's list is rebuilt at its next ask; BitSet.stream()
        // built a stream pipeline and a growing buffer for it each time
        int n = bits.cardinality();
        if (indexes.length != n) {
          indexes = new int[n];
        }
        for (int i = bits.nextSetBit(0), k = 0; i >= 0; i = bits.nextSetBit(i + 1)) {
          indexes[k++] = i;
        }
        listed = true;
      }
      return indexes;
    }
  }

  void add(JobGroup g) {
    if (g.tags.length == 0) {
      untagged.add(g);
    }
    for (String t : g.tags) {
      postings.computeIfAbsent(t, k -> new ArrayList<>()).add(g);
    }
    // the index may be a dead group's: its bit is set or cleared, never left as it was
    for (BoxFit fit : cache.values()) {
      fit.set(g.index, g.fitsTags(fit.tags, fit.hostname));
    }
  }

  /** The group emptied; its index may go to a new group (see the class comment). */
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

  /** The groups a box with these tags fits; the cache's own object, do not keep it. */
  BoxFit fitting(Set<String> boxTags) {
    String hostname = hostnameOf(boxTags);
    BoxFit fit = cache.get(hostname);
    if (fit == null || !fit.isFor(boxTags)) {
      if (fit == null && cache.size() >= CACHE_MAX) {
        cache.clear();
      }
      fit = compute(boxTags, hostname);
      cache.put(hostname, fit);
    }
    return fit;
  }

  /** As {@link #fitting(Set)}, with the box's hostname known. */
  BoxFit fitting(Set<String> boxTags, String hostname) {
    BoxFit fit = cache.get(hostname);
    if (fit != null && fit.isFor(boxTags)) {
      return fit;
    }
    return fitting(boxTags);
  }

  private BoxFit compute(Set<String> boxTags, String hostname) {
    BoxFit fit = new BoxFit(boxTags, hostname);
    // counted by the groups' dense indexes, in arrays kept between calls: a map per box grew
    // and rehashed through thousands of groups on every box's first ask
    for (String t : boxTags) {
      List<JobGroup> list = postings.get(t);
      if (list != null) {
        for (JobGroup g : list) {
          if (g.index >= counts.length) {
            counts = Arrays.copyOf(counts, Math.max(g.index + 1, counts.length * 2));
          }
          if (counts[g.index]++ == 0) {
            touched.add(g);
          }
        }
      }
    }
    for (JobGroup g : untagged) {
      if (g.key.targets().isEmpty() || g.key.targets().contains(hostname)) {
        fit.set(g.index, true);
      }
    }
    for (JobGroup g : touched) {
      if (counts[g.index] == g.tags.length
          && (g.key.targets().isEmpty() || g.key.targets().contains(hostname))) {
        fit.set(g.index, true);
      }
      counts[g.index] = 0;
    }
    touched.clear();
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
