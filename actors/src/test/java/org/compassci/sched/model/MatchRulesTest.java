package org.compassci.sched.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import org.junit.jupiter.api.Test;

/** The fit rules of DOMAIN.md: job requirements ⊆ box tags, target_machines, memory. */
class MatchRulesTest {

  static Requirements req(String json) {
    return JobIntake.prepare(Json.parse(json)).requirements();
  }

  static Testbox box(String hostname, long freeMb, String... tags) {
    Set<String> all = new java.util.HashSet<>(Set.of(tags));
    all.add("hostname=" + hostname);
    return new Testbox(hostname, all, freeMb);
  }

  @Test
  void aJobFitsWhenEveryTagItNeedsIsOffered() {
    Requirements r = req("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\",\"arch\":\"aarch64\"}");
    assertEquals(Set.of("arch=aarch64", "tbox_type=vm"), r.tags());
    assertTrue(r.fits(box("h1", 16384, "arch=aarch64", "tbox_type=vm", "tbox_type=dc", "tbox_group=h1", "extra=1")));
  }

  @Test
  void aBoxThatLacksAKeyTheJobNeedsGetsNothing() {
    Requirements r = req("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\",\"arch\":\"aarch64\"}");
    assertFalse(r.fits(box("h1", 16384, "tbox_type=vm")), "no arch offered");
    assertFalse(r.fits(box("x1", 16384, "arch=x86_64", "tbox_type=vm", "tbox_type=dc")), "other arch");
  }

  @Test
  void aJobThatLeavesAKeyOutAcceptsAnyValueOfIt() {
    Requirements r = req("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}");
    assertTrue(r.fits(box("a", 9000, "arch=aarch64", "tbox_type=dc")));
    assertTrue(r.fits(box("b", 9000, "arch=x86_64", "tbox_type=dc")));
    assertTrue(r.fits(box("c", 9000, "arch=riscv64", "tbox_type=vm", "tbox_type=dc")));
  }

  @Test
  void extraTagsInBothFormsAreRequirements() {
    Requirements obj = req("{\"suite\":\"s\",\"testbox\":\"dc-8g\",\"tags\":{\"nic\":\"mlx5\",\"disks\":2}}");
    Requirements list = req("{\"suite\":\"s\",\"testbox\":\"dc-8g\",\"tags\":[\"nic=mlx5\",\"disks=2\"]}");
    assertEquals(obj.tags(), list.tags());
    assertTrue(obj.tags().containsAll(Set.of("nic=mlx5", "disks=2")));
    assertFalse(obj.fits(box("a", 9000, "tbox_type=dc", "nic=mlx5")));
    assertTrue(obj.fits(box("a", 9000, "tbox_type=dc", "nic=mlx5", "disks=2")));
  }

  @Test
  void aMachineNameNeedsThatHostAndAGroupNeedsTheGroup() {
    Requirements one = req("{\"suite\":\"s\",\"testbox\":\"taishan200-2280-2s48p-256g--a61\"}");
    assertEquals(Set.of("tbox_type=hw", "tbox_group=taishan200-2280-2s48p-256g",
        "hostname=taishan200-2280-2s48p-256g--a61"), one.tags());
    Requirements group = req("{\"suite\":\"s\",\"testbox\":\"taishan200-2280-2s48p-256g\"}");
    Testbox a62 = box("taishan200-2280-2s48p-256g--a62", 1 << 20, "tbox_type=hw",
        "tbox_group=taishan200-2280-2s48p-256g");
    assertTrue(group.fits(a62));
    assertFalse(one.fits(a62));
  }

  @Test
  void targetMachinesNameTheOnlyHostsAllowed() {
    Requirements r = req("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\",\"target_machines\":[\"h1\",\"h2\"]}");
    assertTrue(r.fits(box("h2", 9000, "tbox_type=vm")));
    assertFalse(r.fits(box("h3", 9000, "tbox_type=vm")));
    Requirements comma = req("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\",\"target_machines\":\"h1,h2\"}");
    assertEquals(r.targetMachines(), comma.targetMachines());
  }

  @Test
  void memoryInEveryUnitAndTheLargestNeedCounts() {
    assertEquals(512, req("{\"suite\":\"s\",\"testbox\":\"hw1\",\"memory\":\"512M\"}").memoryMb());
    assertEquals(8192, req("{\"suite\":\"s\",\"testbox\":\"hw1\",\"memory\":\"8G\"}").memoryMb());
    assertEquals(8192, req("{\"suite\":\"s\",\"testbox\":\"hw1\",\"memory\":8}").memoryMb());
    assertEquals(8192, req("{\"suite\":\"s\",\"testbox\":\"hw1\",\"memory\":\"8\"}").memoryMb());
    assertEquals(1 << 20, req("{\"suite\":\"s\",\"testbox\":\"hw1\",\"memory_minimum\":\"1T\"}").memoryMb());
    assertEquals(1536, req("{\"suite\":\"s\",\"testbox\":\"hw1\",\"need_memory\":\"1.5g\"}").memoryMb());
    assertEquals(4096, req("{\"suite\":\"s\",\"testbox\":\"hw1\",\"hw\":{\"memory\":\"4GB\"}}").memoryMb());
    assertEquals(16384, req("{\"suite\":\"s\",\"testbox\":\"hw1\",\"memory\":\"2G\",\"memory_minimum\":\"16G\"}").memoryMb());
    assertEquals(8192, req("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\"}").memoryMb());
    assertEquals(8192, req("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}").memoryMb());
    assertEquals(32768, req("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\",\"memory\":\"32G\"}").memoryMb());
  }

  @Test
  void memoryFitComparesWithTheBoxFreeMemory() {
    Requirements r = req("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\",\"arch\":\"aarch64\"}");
    assertFalse(r.fits(box("s1", 4096, "arch=aarch64", "tbox_type=vm", "tbox_type=dc")));
    assertTrue(r.fits(box("s2", 8192, "arch=aarch64", "tbox_type=vm")));
    assertTrue(r.fits(box("s3", Testbox.UNKNOWN_MEMORY, "arch=aarch64", "tbox_type=vm")));
  }

  @Test
  void badMemoryIsRefusedWithTheFieldName() {
    InvalidJobException e = assertThrows(InvalidJobException.class,
        () -> req("{\"suite\":\"s\",\"testbox\":\"hw1\",\"memory\":\"lots\"}"));
    assertTrue(e.getMessage().startsWith("memory:"), e.getMessage());
  }
}
