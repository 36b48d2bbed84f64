package org.compassci.sched.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;

/**
 * Account tokens: 256 random bits, shown once when made; the store keeps only their SHA-256, as
 * GitLab keeps personal access tokens. A token is checked by hashing what the caller shows and
 * comparing digests with {@link MessageDigest#isEqual}, which takes the same time wherever the
 * first difference is.
 */
public final class AccountTokens {

  /** Marks a scheduler token in a file or a secret scanner's view. */
  public static final String PREFIX = "sched_";

  private static final SecureRandom RANDOM = new SecureRandom();

  private AccountTokens() {}

  /** A new token: {@code sched_} and 43 characters of base64url, 256 bits of randomness. */
  public static String newToken() {
    byte[] b = new byte[32];
    RANDOM.nextBytes(b);
    return PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  /** The hex SHA-256 of a token: what the store keeps. */
  public static String digest(String token) {
    return HexFormat.of().formatHex(sha256(token));
  }

  /** Whether {@code token} is the one whose digest is {@code digest}, in constant time. */
  public static boolean matches(String token, String digest) {
    if (token == null || digest == null || digest.length() != 64) {
      return false;
    }
    byte[] want;
    try {
      want = HexFormat.of().parseHex(digest);
    } catch (IllegalArgumentException e) {
      return false;
    }
    return MessageDigest.isEqual(sha256(token), want);
  }

  private static byte[] sha256(String token) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JVM", e);
    }
  }
}
