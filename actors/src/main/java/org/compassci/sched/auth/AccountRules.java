package org.compassci.sched.auth;

import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;
import org.compassci.sched.persistence.Account;

/**
 * What an account must look like, and who may act on a job: plain rules, tested without actors
 * or HTTP.
 */
public final class AccountRules {

  /** The longest account name (accounts.name, and submit_keys.account beside it). */
  public static final int MAX_NAME = 64;

  /** An account name is a job's my_account, which becomes a folder name: one plain name. */
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._+-]{0," + (MAX_NAME - 1) + "}");
  private static final Pattern EMAIL = Pattern.compile("[^@\\s\\p{Cntrl}]{1,128}@[^@\\s\\p{Cntrl}]{1,126}");

  private AccountRules() {}

  /** Why {@code name} cannot be an account's name, if it cannot. */
  public static Optional<String> badName(String name) {
    if (name == null || !NAME.matcher(name).matches()) {
      return Optional.of("name: give 1 to " + MAX_NAME + " letters, digits, '.', '_', '+' or '-', starting with a letter or digit");
    }
    return Optional.empty();
  }

  public static Optional<String> badEmail(String email) {
    if (email == null || email.isEmpty()) {
      return Optional.empty();
    }
    return EMAIL.matcher(email).matches() ? Optional.empty() : Optional.of("email: '" + printable(email) + "' is not an address");
  }

  /** The longest display name: the store's column (a longer one failed the write: a 503, not a 400). */
  public static final int MAX_DISPLAY_NAME = 255;

  public static Optional<String> badDisplayName(String displayName) {
    return displayName == null || displayName.trim().length() <= MAX_DISPLAY_NAME ? Optional.empty()
        : Optional.of("display_name: at most " + MAX_DISPLAY_NAME + " characters");
  }

  /** user or admin, or why not. */
  public static Optional<String> badRole(String role) {
    return Account.USER.equals(role) || Account.ADMIN.equals(role) ? Optional.empty()
        : Optional.of("role: '" + printable(role) + "' is not user or admin");
  }

  /**
   * Whether {@code caller} may submit jobs owned by {@code myAccount}: its own (or none given,
   * which becomes its own), or anyone's for an admin.
   */
  public static boolean maySubmitAs(Caller caller, String myAccount) {
    return !caller.authenticated() || caller.admin() || myAccount.isEmpty() || myAccount.equals(caller.account());
  }

  /** Cancel and terminate: the job's owner (its my_account) or an admin. */
  public static boolean mayEnd(Caller caller, String owner) {
    return !caller.authenticated() || caller.admin() || (!owner.isEmpty() && owner.equals(caller.account()));
  }

  /** Compass-CI's my_email must be the account's when given; case does not count. */
  public static boolean emailMatches(Account account, String given) {
    return given == null || given.isEmpty() || account.email().isEmpty()
        || account.email().toLowerCase(Locale.ROOT).equals(given.trim().toLowerCase(Locale.ROOT));
  }

  /** A value fit for a message: no control characters, not too long. */
  public static String printable(String s) {
    if (s == null) {
      return "";
    }
    String t = s.replaceAll("\\p{Cntrl}", "?");
    return t.length() > 80 ? t.substring(0, 80) + "..." : t;
  }
}
