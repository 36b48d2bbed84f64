package org.compassci.sched.persistence;

/**
 * The store answered, and refused the data itself (SQLSTATE class 22, a value it cannot hold,
 * or 23, a constraint): the same write fails again however often it is sent, unlike a store
 * that is away, full or read-only for a while.
 */
public class StoreRefusedException extends StoreUnavailableException {
  public StoreRefusedException(String message, Throwable cause) {
    super(message, cause);
  }

  /** Whether {@code e}, or an exception chained to it, says the data was refused. */
  static boolean refusesData(java.sql.SQLException e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof java.sql.SQLException s) {
        for (java.sql.SQLException n = s; n != null; n = n.getNextException()) {
          String state = n.getSQLState();
          if (state != null && (state.startsWith("22") || state.startsWith("23"))) {
            return true;
          }
        }
      }
    }
    return false;
  }
}
