package org.compassci.sched.persistence;

/**
 * A group commit whose writes are durable but whose claims failed: only from a store whose
 * claims cannot join the writes' transaction (Manticore, where UPDATE is not transactional).
 * The writers may be told their records are stored; the claims are not made.
 */
public final class ClaimsFailedException extends StoreUnavailableException {

  public ClaimsFailedException(String message, Throwable cause) {
    super(message, cause);
  }
}
