package org.compassci.sched.boot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.compassci.sched.model.Tokens;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SealerTest {

  @TempDir Path dir;

  @Test
  void sealedValuesOpenOnlyUnderTheirOwnKeyAndPurpose() {
    byte[] master = Sealer.masterKey(Optional.empty(), dir.resolve("secrets.key"));
    Sealer links = Sealer.derive(master, "package-links");
    Sealer secrets = Sealer.derive(master, "secrets");
    String s = links.seal("hello".getBytes());
    assertArrayEquals("hello".getBytes(), links.open(s).orElseThrow());
    assertTrue(secrets.open(s).isEmpty(), "another purpose");
    char[] c = s.toCharArray();
    c[20] = c[20] == 'A' ? 'B' : 'A';
    assertTrue(links.open(new String(c)).isEmpty(), "a changed value");
    assertTrue(links.open("not base64 !").isEmpty());
    assertTrue(links.open("").isEmpty());
  }

  @Test
  void theKeyFileIsKeptAndPrivate() throws Exception {
    Path f = dir.resolve("d/secrets.key");
    byte[] a = Sealer.masterKey(Optional.empty(), f);
    assertArrayEquals(a, Sealer.masterKey(Optional.empty(), f));
    assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(f)));
  }

  @Test
  void aPackageLinkCarriesItsHandOut() {
    Sealer links = Sealer.derive(Sealer.masterKey(Optional.empty(), dir.resolve("k")), "package-links");
    String token = Tokens.newToken();
    PackageLink l = new PackageLink(26112900000000101L, token, new JobPackage.Endpoint("10.0.2.2", 3000), true);
    String sealed = l.seal(links);
    assertTrue(sealed.matches("[A-Za-z0-9_-]+"), sealed);
    assertEquals(l, PackageLink.open(links, sealed).orElseThrow());
    assertTrue(PackageLink.open(links, sealed.substring(1)).isEmpty());
    PackageLink guest = new PackageLink(26112900000000101L, token, new JobPackage.Endpoint("10.0.2.2", 3000), false);
    assertEquals(guest, PackageLink.open(links, guest.seal(links)).orElseThrow(), "a link a VM's host fetches");
    // a link made before links told who fetches them (the token's length byte as it was) is bound
    byte[] tok = java.util.HexFormat.of().parseHex(token);
    byte[] host10 = "10.0.2.2".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    String old = links.seal(java.nio.ByteBuffer.allocate(8 + 1 + tok.length + 2 + host10.length)
        .putLong(7).put((byte) tok.length).put(tok).putShort((short) 3000).put(host10).array());
    assertTrue(PackageLink.open(links, old).orElseThrow().bound(), "an old link is the box's own");
    // the longest host a box may name (253 characters) still makes a link that opens
    String host = ("h".repeat(62) + ".").repeat(4) + "h";
    assertEquals(253, JobPackage.Endpoint.of(host, "3000").host().length());
    PackageLink longest = new PackageLink(Long.MAX_VALUE, token, JobPackage.Endpoint.of(host, "65535"), true);
    assertEquals(longest, PackageLink.open(links, longest.seal(links)).orElseThrow());
  }
}
