package org.compassci.sched.boot;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.Optional;

/**
 * The unguessable part of a package URL, one per hand-out: the job's id, its hand-out token and
 * where the box reaches the scheduler, sealed. Nothing is stored for it: the scheduler opens the
 * link, checks the job still holds that token and is in dispatch or boot (or out on its box and
 * never fetched), and builds the package then. A link of an earlier hand-out names a token the
 * job no longer holds, so it never serves another hand-out's package, let alone another job's.
 *
 * <p>{@code bound}: the box that runs the job fetches the package itself (iPXE, grub, a native
 * box), so the address it comes from is the box's, and the job's uploads without its token are
 * taken from there only ({@link org.compassci.sched.model.Job#fetchedFrom}); not for a VM's or
 * container's host (libvirt, a provider), which fetches what its guest runs.
 */
public record PackageLink(long jobId, String token, JobPackage.Endpoint scheduler, boolean bound) {

  /**
   * In the token's length byte, which never needs it (a token is 16 bytes): set for a link a
   * VM's host fetches. A link made before links said so has it clear, and is bound, as every
   * box's fetch was then: its job's uploads without a token are never opened to anyone by it.
   */
  private static final int UNBOUND = 0x80;

  public String seal(Sealer sealer) {
    byte[] host = scheduler.host().getBytes(StandardCharsets.UTF_8);
    byte[] tok = HexFormat.of().parseHex(token);
    ByteBuffer b = ByteBuffer.allocate(8 + 1 + tok.length + 2 + host.length);
    if (tok.length >= UNBOUND) {
      throw new IllegalArgumentException("a hand-out token of " + tok.length + " bytes");
    }
    b.putLong(jobId).put((byte) (tok.length | (bound ? 0 : UNBOUND))).put(tok).putShort((short) scheduler.port()).put(host);
    return sealer.seal(b.array());
  }

  /**
   * The longest link this scheduler makes: the id, the token's length and 16 bytes, the port and
   * a host of 253 characters (JobPackage.Endpoint's longest), sealed with a 12-byte nonce and a
   * 16-byte tag, in base64 without padding (411 characters). Longer is not one of ours, and is
   * not decrypted.
   */
  static final int MAX_SEALED = ((8 + 1 + 16 + 2 + 253 + 12 + 16) * 4 + 2) / 3;

  /** The link inside {@code sealed}, or empty when it is not one this scheduler made. */
  public static Optional<PackageLink> open(Sealer sealer, String sealed) {
    if (sealed.length() > MAX_SEALED) {
      return Optional.empty();
    }
    return sealer.open(sealed).flatMap(bytes -> {
      try {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        long id = b.getLong();
        int length = b.get() & 0xff;
        byte[] tok = new byte[length & ~UNBOUND];
        b.get(tok);
        int port = b.getShort() & 0xffff;
        byte[] host = new byte[b.remaining()];
        b.get(host);
        return Optional.of(new PackageLink(id, HexFormat.of().formatHex(tok),
            new JobPackage.Endpoint(new String(host, StandardCharsets.UTF_8), port), (length & UNBOUND) == 0));
      } catch (RuntimeException e) {
        return Optional.empty();
      }
    });
  }
}
