package org.compassci.sched.persistence;

/**
 * The store answered, and refused the data itself (SQLSTATE class 22, a value it cannot hold,
 * or 23, a constraint; or a statement larger than MySQL takes in one packet): the same write
 * fails again however often it is sent, unlike a store that is away, full or read-only for a
 * while.
 */
public class StoreRefusedException extends StoreUnavailableException {
  public StoreRefusedException(String message, Throwable cause) {
    super(message, cause);
  }

  /** MySQL's and MariaDB's error for a packet over max_allowed_packet. */
  private static final int ER_NET_PACKET_TOO_LARGE = 1153;

  /** Whether {@code e}, or an exception chained to it, says the data was refused. */
  static boolean refusesData(java.sql.SQLException e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof java.sql.SQLException s) {
        for (java.sql.SQLException n = s; n != null; n = n.getNextException()) {
          String state = n.getSQLState();
          if (state != null && (state.startsWith("22") || state.startsWith("23"))) {
            return true;
          }
          // MySQL's packet limit (max_allowed_packet) says neither: Connector/J refuses before
          // sending (its PacketTooBigException, S1000), the server with error 1153 (08S01)
          if (n.getClass().getSimpleName().equals("PacketTooBigException") || n.getErrorCode() == ER_NET_PACKET_TOO_LARGE) {
            return true;
          }
        }
      }
    }
    return false;
  }
}
