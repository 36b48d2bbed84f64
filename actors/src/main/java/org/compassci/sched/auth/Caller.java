package org.compassci.sched.auth;

import org.compassci.sched.persistence.Account;

/**
 * Who is asking: an account that showed its token, or, in open mode, anyone ({@link #ANYONE},
 * which may do what an account may; management stays with admins and loopback callers).
 */
public record Caller(String account, boolean admin, boolean authenticated) {

  /** An unauthenticated caller in open mode. */
  public static final Caller ANYONE = new Caller("", false, false);

  public static Caller of(Account a) {
    return new Caller(a.name(), a.admin(), true);
  }
}
