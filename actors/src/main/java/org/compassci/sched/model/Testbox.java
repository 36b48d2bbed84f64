package org.compassci.sched.model;

import java.util.Set;

/**
 * A testbox asking for work: the k=v tags it offers (several values of one key allowed, e.g.
 * tbox_type=vm and tbox_type=dc) and its free memory; {@link #UNKNOWN_MEMORY} when not reported.
 */
public record Testbox(String hostname, Set<String> tags, long freeMemMb) {

  public static final long UNKNOWN_MEMORY = Long.MAX_VALUE;

  public Testbox {
    tags = Set.copyOf(tags);
  }
}
