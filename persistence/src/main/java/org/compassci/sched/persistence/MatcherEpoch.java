package org.compassci.sched.persistence;

/**
 * The {@code matcher_epoch} row: the incarnation of the cluster's matcher that may hand jobs
 * out now, the node that took it ({@code host:port} of its cluster address) and when.
 */
public record MatcherEpoch(long epoch, String node, long sinceMillis) {}
