package org.compassci.sched.persistence;

/**
 * A hand-out to make durable: job {@code id} goes to {@code host} if it is still queued.
 * {@code epoch}: in cluster mode, the incarnation of the matcher that makes it (the
 * {@code matcher_epoch} row it took at its start); the claim takes only while that is still the
 * current one, so a matcher that was split off and replaced hands nothing out. 0: not fenced
 * (one standalone process, which no other matcher can replace behind its back).
 */
public record Claim(long id, String host, String tokenHash, long timeMillis, long epoch) {

  /** A hand-out of a standalone scheduler: not fenced. */
  public Claim(long id, String host, String tokenHash, long timeMillis) {
    this(id, host, tokenHash, timeMillis, 0L);
  }
}
