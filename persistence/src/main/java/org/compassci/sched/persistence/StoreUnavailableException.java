package org.compassci.sched.persistence;

/** The store could not be reached or refused the operation; the caller may retry later. */
public class StoreUnavailableException extends RuntimeException {
  public StoreUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
