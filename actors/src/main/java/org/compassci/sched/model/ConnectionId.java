package org.compassci.sched.model;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A client's TCP connection, as the matcher knows it: a long poll parked on it is dropped when
 * the client hangs up. A value, not an object compared by identity, so that in cluster mode it
 * crosses to the matcher's node and the hang-up (sent after it) still names the same connection.
 *
 * @param process this scheduler process, random at its start (unique in a cluster)
 * @param number  the connection's number in that process
 */
public record ConnectionId(String process, long number) {

  private static final String PROCESS = Long.toUnsignedString(new java.security.SecureRandom().nextLong(), 36);
  private static final AtomicLong NEXT = new AtomicLong();

  /** A new connection of this process. */
  public static ConnectionId next() {
    return new ConnectionId(PROCESS, NEXT.incrementAndGet());
  }
}
