package org.compassci.sched.match;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Finds the groups whose tags a testbox offers (job requirements ⊆ box tags). An index from
 * each k=v to the tag sets (signatures) that need it gives a box's fitting groups by counting,
 * per signature, how many of its tags the box offers; every group of a fitting signature fits,
 * if it is for any machine or for this one. The answer is cached per box as the indexes of the
 * fitting groups and kept up to date as groups come, so a box that asks again costs nothing
 * here.
 *
 * <p>A group that dies keeps its bit in the cached answers: its index has no jobs, so the
 * matcher passes over it, and a new group that takes the index over sets or clears that bit in
 * every answer. Clearing it at once would cost a write per cached box for every group that
 * empties, which on a draining queue is most of the work.
 */
final class TagIndex {

  /** Most distinct boxes cached; past it the cache starts again (boxes re-ask cheaply). */
  static final int CACHE_MAX = 20_000;

  /**
   * The live groups that need one tag set. A box fits all of them or none (target machines
   * aside), so a box's first ask counts tags per signature, not per group: a lab has a few
   * hundred signatures and thousands of groups (a signature's jobs differ in memory and targets).
   */
  private static final class Signature {
    /** The tag set's size: a box that offers this many of its tags fits it. */
    final int tagCount;
    final List<JobGroup> groups = new ArrayList<>();
    /** {@link #compute}'s tally of this signature's tags a box offers; 0 between calls. */
    int offered;

    Signature(int tagCount) {
      this.tagCount = tagCount;
    }
  }

  private final Map<Set<String>, Signature> signatures = new HashMap<>();
  /** From each k=v to the signatures that need it. */
  private final Map<String, List<Signature>> postings = new HashMap<>();
  /** The signature of no tag at all, which every box fits; null while no group has it. */
  private Signature untagged;
  /**
   * By hostname, which every box's tags carry: its hash is the string's own, where a tag set's
   * is the sum of its members' each time. The entry's tags are checked against the box's.
   */
  private final Map<String, BoxFit> cache = new HashMap<>();
  /** The signatures {@link #compute} counted, to check and reset; empty between calls. */
  private final List<Signature> touched = new ArrayList<>();

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
    Signature sig = signatures.get(g.key.tags());
    if (sig == null) {
      sig = new Signature(g.tags.length);
      signatures.put(g.key.tags(), sig);
      if (g.tags.length == 0) {
        untagged = sig;
      }
      for (String t : g.tags) {
        postings.computeIfAbsent(t, k -> new ArrayList<>()).add(sig);
      }
    }
    sig.groups.add(g);
    // the index may be a dead group's: its bit is set or cleared, never left as it was
    for (BoxFit fit : cache.values()) {
      fit.set(g.index, g.fitsTags(fit.tags, fit.hostname));
    }
  }

  /** The group emptied; its index may go to a new group (see the class comment). */
  void remove(JobGroup g) {
    g.dead = true;
    Signature sig = signatures.get(g.key.tags());
    if (sig == null || !sig.groups.remove(g) || !sig.groups.isEmpty()) {
      return;
    }
    signatures.remove(g.key.tags());
    if (sig == untagged) {
      untagged = null;
    }
    for (String t : g.tags) {
      List<Signature> list = postings.get(t);
      if (list != null) {
        list.remove(sig);
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
    for (String t : boxTags) {
      List<Signature> list = postings.get(t);
      if (list != null) {
        for (Signature sig : list) {
          if (sig.offered++ == 0) {
            touched.add(sig);
          }
        }
      }
    }
    if (untagged != null) {
      fitGroups(fit, untagged, hostname);
    }
    for (Signature sig : touched) {
      if (sig.offered == sig.tagCount) {
        fitGroups(fit, sig, hostname);
      }
      sig.offered = 0;
    }
    touched.clear();
    return fit;
  }

  /** Sets the bits of the signature's groups that the box fits: those for any machine or for it. */
  private static void fitGroups(BoxFit fit, Signature sig, String hostname) {
    for (JobGroup g : sig.groups) {
      if (g.key.targets().isEmpty() || g.key.targets().contains(hostname)) {
        fit.set(g.index, true);
      }
    }
  }

  static String hostnameOf(Set<String> boxTags) {
    for (String t : boxTags) {
      if (t.startsWith("hostname=")) {
        return t.substring(9);
      }
    }
    return "";
  }

  /** Signatures and k=v postings held: none once no group lives (a dead signature is let go). */
  int held() {
    return signatures.size() + postings.size();
  }

  int cachedBoxes() {
    return cache.size();
  }
}
