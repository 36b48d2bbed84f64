package org.compassci.sched.persistence;

/**
 * One account as the store keeps it. The token itself is never kept: {@code tokenDigest} is the
 * hex SHA-256 of it, and the clear token exists only in the answer that made it.
 */
public record Account(
    String name,
    String email,
    String displayName,
    String role,
    long createdMillis,
    String tokenDigest) {

  public static final String USER = "user";
  public static final String ADMIN = "admin";

  public boolean admin() {
    return ADMIN.equals(role);
  }

  /** The same account with another token digest (a rotation). */
  public Account withTokenDigest(String digest) {
    return new Account(name, email, displayName, role, createdMillis, digest);
  }

  /** No digest in a log line or a test failure: it is as good as a password hash. */
  @Override
  public String toString() {
    return "Account[" + name + ", " + role + "]";
  }
}
