package org.compassci.sched.boot;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Optional;
import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Authenticated encryption (AES-256-GCM) under one of the scheduler's keys: a job's secrets at
 * rest, and the package links handed to boxes. A sealed value is {@code base64url(nonce || data ||
 * tag)}; one that was changed, or sealed under another key or for another purpose, does not open.
 * Thread-safe: a cipher is made per call.
 */
public final class Sealer {

  private static final int NONCE = 12;
  private static final int TAG_BITS = 128;
  private static final SecureRandom RANDOM = new SecureRandom();

  private final SecretKeySpec key;

  private Sealer(byte[] key) {
    this.key = new SecretKeySpec(key, "AES");
  }

  /** A sealer for one {@code purpose}, under a key derived from the master key (HMAC-SHA256). */
  public static Sealer derive(byte[] master, String purpose) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(master, "HmacSHA256"));
      return new Sealer(mac.doFinal(purpose.getBytes(StandardCharsets.UTF_8)));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HMAC-SHA256 is part of every JVM", e);
    }
  }

  public String seal(byte[] plain) {
    byte[] nonce = new byte[NONCE];
    RANDOM.nextBytes(nonce);
    try {
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, nonce));
      byte[] sealed = c.doFinal(plain);
      return Base64.getUrlEncoder().withoutPadding().encodeToString(
          ByteBuffer.allocate(NONCE + sealed.length).put(nonce).put(sealed).array());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("AES-GCM is part of every JVM", e);
    }
  }

  /** The sealed bytes, or empty when {@code sealed} is malformed or was not sealed by this sealer. */
  public Optional<byte[]> open(String sealed) {
    byte[] all;
    try {
      all = Base64.getUrlDecoder().decode(sealed);
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
    if (all.length < NONCE + TAG_BITS / 8) {
      return Optional.empty();
    }
    try {
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, all, 0, NONCE));
      return Optional.of(c.doFinal(all, NONCE, all.length - NONCE));
    } catch (GeneralSecurityException e) {
      return Optional.empty();
    }
  }

  /**
   * The master key: {@code configured} (base64 of 32 bytes) when given, else the one kept in
   * {@code file} (created, readable by this user only, on first start). Blocking: call at start-up.
   * Throws IllegalArgumentException saying what is wrong.
   */
  public static byte[] masterKey(Optional<String> configured, Path file) {
    if (configured.isPresent()) {
      byte[] k;
      try {
        k = Base64.getDecoder().decode(configured.get().trim());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("is not base64");
      }
      if (k.length != 32) {
        throw new IllegalArgumentException("must be 32 bytes in base64 (openssl rand -base64 32), not " + k.length);
      }
      return k;
    }
    try {
      if (Files.exists(file)) {
        byte[] k = Base64.getDecoder().decode(Files.readString(file).trim());
        if (k.length != 32) {
          throw new IllegalArgumentException(file + " does not hold a 32-byte key");
        }
        return k;
      }
      Files.createDirectories(file.getParent());
      byte[] k = new byte[32];
      RANDOM.nextBytes(k);
      Path tmp = file.resolveSibling(file.getFileName() + ".new");
      Files.deleteIfExists(tmp);
      Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      Files.writeString(tmp, Base64.getEncoder().encodeToString(k) + "\n", StandardOpenOption.WRITE);
      Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      return k;
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot keep a key in " + file + ": " + e.getMessage());
    } catch (UnsupportedOperationException e) {
      throw new IllegalArgumentException(file + ": the file system cannot make a private file");
    }
  }
}
