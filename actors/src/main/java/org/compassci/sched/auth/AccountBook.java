package org.compassci.sched.auth;

import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.compassci.sched.persistence.Account;

/**
 * The accounts as the HTTP edge reads them, with no actor round trip per request: the accounts
 * actor, which alone changes accounts, publishes a new immutable snapshot after each change, and
 * requests read the latest one. A token is found by its digest (the map's key is the SHA-256 of
 * the token, so a lookup's timing says nothing useful about the token), then confirmed with a
 * constant-time comparison.
 */
public final class AccountBook {

  private record Snapshot(Map<String, Account> byName, Map<String, Account> byDigest) {}

  private volatile Snapshot current = new Snapshot(Map.of(), Map.of());

  /** Replaces every account: called by the accounts actor only. */
  public void publish(Collection<Account> accounts) {
    Map<String, Account> byName = new HashMap<>();
    Map<String, Account> byDigest = new HashMap<>();
    for (Account a : accounts) {
      byName.put(a.name(), a);
      byDigest.put(a.tokenDigest(), a);
    }
    current = new Snapshot(Map.copyOf(byName), Map.copyOf(byDigest));
  }

  /** The account whose token this is. */
  public Optional<Account> byToken(String token) {
    if (token == null || token.isEmpty()) {
      return Optional.empty();
    }
    Account a = current.byDigest().get(AccountTokens.digest(token));
    return a != null && AccountTokens.matches(token, a.tokenDigest()) ? Optional.of(a) : Optional.empty();
  }

  /** The account {@code name} if {@code token} is its token (Compass-CI's my_account + my_token). */
  public Optional<Account> verify(String name, String token) {
    Account a = current.byName().get(name);
    return a != null && AccountTokens.matches(token, a.tokenDigest()) ? Optional.of(a) : Optional.empty();
  }

  public Optional<Account> byName(String name) {
    return Optional.ofNullable(current.byName().get(name));
  }

  /** Every account, in no particular order. */
  public java.util.List<Account> all() {
    return java.util.List.copyOf(current.byName().values());
  }

  public int size() {
    return current.byName().size();
  }
}
