package org.compassci.sched.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.compassci.sched.boot.LabHosts;
import org.compassci.sched.model.Json;
import org.compassci.sched.model.Outcome;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The host registry learns boxes by MAC from the lab's folder and from registrations. */
class HostRegistryLabTest {

  static final ActorTestKit testKit = ActorTestKit.create();

  @TempDir Path lab;

  @AfterAll
  static void shutdown() {
    testKit.shutdownTestKit();
  }

  /**
   * Past the count of boxes remembered, the longest silent box that only asked goes; the lab's
   * boxes, those registered by hand and those running a job stay, and so do their MACs.
   */
  @Test
  void manyNamesAskingNeverPushOutTheLabsOwnBoxes() throws Exception {
    Files.writeString(lab.resolve("bm--1"), "mac_addr: 52:54:00:00:01:01\narch: x86_64\nmemory: 8G\n");
    ActorRef<HostRegistryActor.Command> hosts = testKit.spawn(
        HostRegistryActor.create(Duration.ofMinutes(10), Clock.systemUTC(), Optional.of(lab), null, 3));
    TestProbe<HostRegistryActor.LabReloaded> reloaded = testKit.createTestProbe();
    TestProbe<Outcome> probe = testKit.createTestProbe();
    hosts.tell(new HostRegistryActor.ReloadLab(reloaded.getRef()));
    assertEquals(1, reloaded.receiveMessage().hosts());
    hosts.tell(new HostRegistryActor.Register("bm--2", Json.object().put("arch", "x86_64")
        .set("mac_addr", LabHosts.macs(Json.MAPPER.getNodeFactory().textNode("52:54:00:00:01:02"))), probe.getRef()));
    probe.receiveMessage();
    hosts.tell(new HostRegistryActor.Contact(org.compassci.sched.model.Testbox.fromQuery(java.util.Map.of(
        "hostname", "busy--1", "arch", "x86_64", "freemem", "4096"))));
    hosts.tell(new HostRegistryActor.HandedOut("busy--1", 77));
    for (int i = 0; i < 20; i++) {
      hosts.tell(new HostRegistryActor.Contact(org.compassci.sched.model.Testbox.fromQuery(java.util.Map.of(
          "hostname", "vm-2p8g--" + i, "arch", "x86_64", "tbox_type", "vm", "freemem", "8192"))));
    }
    hosts.tell(new HostRegistryActor.FindByMac("52:54:00:00:01:01", probe.getRef()));
    assertEquals("bm--1", probe.receiveMessage().job().path("hostname").asText(), "the lab's box");
    hosts.tell(new HostRegistryActor.FindByMac("52:54:00:00:01:02", probe.getRef()));
    assertEquals("bm--2", probe.receiveMessage().job().path("hostname").asText(), "registered by hand");
    TestProbe<HostRegistryActor.HostsPage> page = testKit.createTestProbe();
    hosts.tell(new HostRegistryActor.ListHosts(0, 100, page.getRef()));
    java.util.List<String> names = new java.util.ArrayList<>();
    page.receiveMessage().hosts().forEach(h -> names.add(h.path("hostname").asText()));
    assertEquals(java.util.List.of("bm--1", "bm--2", "busy--1", "vm-2p8g--19"), names,
        "the kept three, and the one box that asked last");
  }

  @Test
  void macsFromTheFolderAndFromRegistrationsAndReloads() throws Exception {
    Files.writeString(lab.resolve("bm--1"), "mac_addr: 52:54:00:00:00:01\narch: x86_64\nmemory: 8G\n");
    ActorRef<HostRegistryActor.Command> hosts = testKit.spawn(
        HostRegistryActor.create(Duration.ofMinutes(10), Clock.systemUTC(), Optional.of(lab)));
    TestProbe<HostRegistryActor.LabReloaded> reloaded = testKit.createTestProbe();
    TestProbe<Outcome> probe = testKit.createTestProbe();
    hosts.tell(new HostRegistryActor.ReloadLab(reloaded.getRef()));
    assertEquals(1, reloaded.receiveMessage().hosts());
    hosts.tell(new HostRegistryActor.FindByMac("52:54:00:00:00:01", probe.getRef()));
    Outcome found = probe.receiveMessage();
    assertEquals("bm--1", found.job().path("hostname").asText());
    assertEquals(8192, found.job().path("memory").asLong());

    hosts.tell(new HostRegistryActor.Register("bm--2", Json.object().put("arch", "x86_64")
        .set("mac_addr", LabHosts.macs(Json.MAPPER.getNodeFactory().textNode("52-54-00-00-00-02"))), probe.getRef()));
    probe.receiveMessage();
    hosts.tell(new HostRegistryActor.FindByMac("52:54:00:00:00:02", probe.getRef()));
    assertEquals("bm--2", probe.receiveMessage().job().path("hostname").asText());

    // the MAC moves to another file, and the first file goes
    Files.delete(lab.resolve("bm--1"));
    Files.writeString(lab.resolve("bm--3"), "mac_addr: [\"52:54:00:00:00:01\"]\n");
    Files.writeString(lab.resolve("broken"), "mac_addr: [\n");
    hosts.tell(new HostRegistryActor.ReloadLab(reloaded.getRef()));
    HostRegistryActor.LabReloaded r = reloaded.receiveMessage();
    assertEquals(1, r.hosts());
    assertTrue(r.problems().get(0).contains("broken"), r.problems().toString());
    hosts.tell(new HostRegistryActor.FindByMac("52:54:00:00:00:01", probe.getRef()));
    assertEquals("bm--3", probe.receiveMessage().job().path("hostname").asText());
    hosts.tell(new HostRegistryActor.Get("bm--1", probe.getRef()));
    assertEquals(Outcome.Status.NOT_FOUND, probe.receiveMessage().status());
    hosts.tell(new HostRegistryActor.FindByMac("52:54:00:00:00:02", probe.getRef()));
    assertEquals("bm--2", probe.receiveMessage().job().path("hostname").asText(), "a registered box stays");
    hosts.tell(new HostRegistryActor.FindByMac("52:54:00:00:00:09", probe.getRef()));
    assertEquals(Outcome.Status.NOT_FOUND, probe.receiveMessage().status());
  }

  /**
   * A reload that cannot read what it lists changes nothing of it: a box whose file has a typo
   * keeps what it was registered with, and a folder that cannot be listed (here gone) keeps every
   * box. Before, the typo dropped the box, and every iPXE boot of it by MAC got 404.
   */
  @Test
  void whatAReloadCannotReadStaysAsItWas() throws Exception {
    Files.writeString(lab.resolve("bm--7"), "mac_addr: 52:54:00:00:00:07\narch: x86_64\n");
    ActorRef<HostRegistryActor.Command> hosts = labRegistry();
    Files.writeString(lab.resolve("bm--7"), "mac_addr: [52:54:00:00:00:07\n");
    assertTrue(reload(hosts).problems().get(0).contains("bm--7"));
    assertEquals("bm--7", ownerOf(hosts, "52:54:00:00:00:07"), "kept through a typo");

    Files.writeString(lab.resolve("bm--7"), "mac_addr: 52:54:00:00:00:07\narch: x86_64\n");
    reload(hosts);
    try (var left = Files.list(lab)) {
      for (java.nio.file.Path f : left.toList()) {
        Files.delete(f);
      }
    }
    Files.delete(lab);
    assertEquals(0, reload(hosts).hosts());
    assertEquals("bm--7", ownerOf(hosts, "52:54:00:00:00:07"), "kept while the folder is gone");
    Files.createDirectories(lab);
  }

  /**
   * One MAC, one box: a registration that names another box's MAC is refused (409); a MAC the
   * lab's folder takes from a box registered by hand goes back to it when the folder drops it.
   */
  @Test
  void aMacBelongsToOneBox() throws Exception {
    Files.writeString(lab.resolve("bm--1"), "mac_addr: 52:54:00:00:00:11\n");
    ActorRef<HostRegistryActor.Command> hosts = labRegistry();
    TestProbe<Outcome> probe = testKit.createTestProbe();
    hosts.tell(new HostRegistryActor.Register("vm-x", Json.object().put("arch", "x86_64")
        .set("mac_addr", LabHosts.macs(Json.MAPPER.getNodeFactory().textNode("52:54:00:00:00:11"))), probe.getRef()));
    Outcome refused = probe.receiveMessage();
    assertEquals(Outcome.Status.CONFLICT, refused.status());
    assertTrue(refused.message().contains("bm--1"), refused.message());
    assertEquals("bm--1", ownerOf(hosts, "52:54:00:00:00:11"));

    hosts.tell(new HostRegistryActor.Register("bm--3", Json.object()
        .set("mac_addr", LabHosts.macs(Json.MAPPER.getNodeFactory().textNode("52:54:00:00:00:12"))), probe.getRef()));
    assertEquals(Outcome.Status.OK, probe.receiveMessage().status());
    Files.writeString(lab.resolve("bm--4"), "mac_addr: 52:54:00:00:00:12\n");
    reload(hosts);
    assertEquals("bm--4", ownerOf(hosts, "52:54:00:00:00:12"), "the folder wins");
    Files.writeString(lab.resolve("bm--4"), "arch: x86_64\n");
    reload(hosts);
    assertEquals("bm--3", ownerOf(hosts, "52:54:00:00:00:12"), "back to the box that still lists it");
  }

  /** A registry of the lab's folder, read once. */
  private ActorRef<HostRegistryActor.Command> labRegistry() {
    ActorRef<HostRegistryActor.Command> hosts = testKit.spawn(
        HostRegistryActor.create(Duration.ofMinutes(10), Clock.systemUTC(), Optional.of(lab)));
    reload(hosts);
    return hosts;
  }

  private static HostRegistryActor.LabReloaded reload(ActorRef<HostRegistryActor.Command> hosts) {
    TestProbe<HostRegistryActor.LabReloaded> reloaded = testKit.createTestProbe();
    hosts.tell(new HostRegistryActor.ReloadLab(reloaded.getRef()));
    return reloaded.receiveMessage();
  }

  /** The hostname of the box that has {@code mac}; fails when none has. */
  private static String ownerOf(ActorRef<HostRegistryActor.Command> hosts, String mac) {
    TestProbe<Outcome> probe = testKit.createTestProbe();
    hosts.tell(new HostRegistryActor.FindByMac(mac, probe.getRef()));
    Outcome found = probe.receiveMessage();
    assertEquals(Outcome.Status.OK, found.status(), found.message());
    return found.job().path("hostname").asText();
  }
}
