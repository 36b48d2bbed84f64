package org.compassci.sched.persistence;

/** An account of that name is in the store already. */
public final class AccountExistsException extends RuntimeException {
  public AccountExistsException(String name, Throwable cause) {
    super("account " + name + " exists already", cause);
  }
}
