package org.compassci.sched.persistence;

import java.util.List;

/**
 * Where accounts live: beside the jobs, in the same database. Implementations block: callers run
 * them on the store dispatcher, never on an actor's thread.
 */
public interface AccountStore {

  /** Every account, by name. */
  List<Account> accounts();

  /** Stores a new account; throws {@link AccountExistsException} when the name is taken. */
  void addAccount(Account account);

  /** Replaces the stored account of that name (a new token digest). */
  void saveAccount(Account account);

  /** Removes the account; false when there was none of that name. */
  boolean removeAccount(String name);
}
