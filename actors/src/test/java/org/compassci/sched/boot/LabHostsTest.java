package org.compassci.sched.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LabHostsTest {

  @TempDir Path dir;

  /**
   * A lab file whose box offers more tags than a box may (Testbox.MAX_TAGS) is refused with the
   * reason; it used to be taken, and every boot of that box got a 400. A tag written twice
   * counts once.
   */
  @Test
  void aLabFileWithMoreTagsThanABoxMayOfferIsRefused() throws Exception {
    StringBuilder many = new StringBuilder("tags: [t0=1");
    for (int i = 1; i < org.compassci.sched.model.Testbox.MAX_TAGS; i++) {
      many.append(", t").append(i).append("=1");
    }
    Files.writeString(dir.resolve("at-most"), many + ", t0=1]\n");
    Files.writeString(dir.resolve("too-many"), many + ", one=more]\n");
    LabHosts.Lab lab = LabHosts.read(dir);
    assertEquals(List.of("at-most"), List.copyOf(lab.hosts().keySet()), lab.problems().toString());
    assertEquals(org.compassci.sched.model.Testbox.MAX_TAGS,
        lab.hosts().get("at-most").path("tags").asText().split(",").length);
    assertTrue(lab.problems().stream().anyMatch(p -> p.contains("too-many") && p.contains("at most")),
        lab.problems().toString());
  }

  @Test
  void aLabFolderInCompassCiFormat() throws Exception {
    Files.writeString(dir.resolve("taishan200-2280-2s48p-256g--a66"), """
        mac_addr:
          - 84:46:fe:26:d3:47
          - 84-46-FE-26-D3-48
        arch: aarch64
        memory: 256G
        nr_cpu: 96
        model_name: TaiShan 200
        ipmi_ip: 10.0.0.9
        ipmi_password: hunter2
        """);
    Files.writeString(dir.resolve("vm-host-1"), """
        mac_addr: 52:54:00:12:34:56
        arch: x86_64
        memory: 16
        tbox_group: qemu-boxes
        tags: [gpu, "rack=r1"]
        """);
    Files.writeString(dir.resolve("broken"), "mac_addr: [\n");
    Files.writeString(dir.resolve("badmac"), "mac_addr: 52:54:00\n");
    Files.writeString(dir.resolve(".hidden"), "mac_addr: 52:54:00:00:00:01\n");

    LabHosts.Lab lab = LabHosts.read(dir);
    assertEquals(List.of("taishan200-2280-2s48p-256g--a66", "vm-host-1"), List.copyOf(lab.hosts().keySet()));
    assertEquals(2, lab.problems().size(), lab.problems().toString());
    assertTrue(lab.problems().stream().anyMatch(p -> p.contains("badmac") && p.contains("mac:")), lab.problems().toString());

    ObjectNode t = lab.hosts().get("taishan200-2280-2s48p-256g--a66");
    assertEquals("84:46:fe:26:d3:47", t.path("mac_addr").get(0).asText());
    assertEquals("84:46:fe:26:d3:48", t.path("mac_addr").get(1).asText());
    assertEquals(256 * 1024, t.path("memory").asLong());
    assertEquals(96, t.path("nr_cpu").asInt());
    assertEquals("taishan200-2280-2s48p-256g", t.path("tbox_group").asText());
    assertEquals("hw", t.path("tbox_type").asText());
    assertFalse(t.toString().contains("hunter2"), "BMC credentials stay in the lab file");
    assertFalse(t.has("ipmi_ip"));

    ObjectNode v = lab.hosts().get("vm-host-1");
    assertEquals("52:54:00:12:34:56", v.path("mac_addr").get(0).asText());
    assertEquals(16 * 1024, v.path("memory").asLong());
    assertEquals("qemu-boxes", v.path("tbox_group").asText());
    assertEquals("gpu=true,rack=r1", v.path("tags").asText());
  }

  @Test
  void aHostnameThatCannotBeAFolderNameIsLeftOut() throws Exception {
    Files.writeString(dir.resolve("bad name"), "arch: x86_64\n");
    LabHosts.Lab lab = LabHosts.read(dir);
    assertTrue(lab.hosts().isEmpty());
    assertTrue(lab.problems().get(0).contains("hostname"), lab.problems().toString());
  }

  @Test
  void aMissingFolderIsAProblemNotAFailure() {
    LabHosts.Lab lab = LabHosts.read(dir.resolve("nope"));
    assertTrue(lab.hosts().isEmpty());
    assertEquals(1, lab.problems().size());
  }
}
