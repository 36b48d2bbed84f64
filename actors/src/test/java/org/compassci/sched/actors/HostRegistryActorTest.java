package org.compassci.sched.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.compassci.sched.model.Json;
import org.compassci.sched.model.Outcome;
import org.compassci.sched.model.Testbox;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

class HostRegistryActorTest {

  static final ActorTestKit testKit = ActorTestKit.create();

  @AfterAll
  static void shutdown() {
    testKit.shutdownTestKit();
  }

  @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir;

  /** What explain counts against: the boxes seen within offline-after, not every box that ever asked. */
  @Test
  void explainCountsOnlyTheBoxesSeenLately() {
    StillClock clock = new StillClock(java.time.Instant.parse("2026-11-30T00:00:00Z"));
    ActorRef<HostRegistryActor.Command> hosts = testKit.spawn(HostRegistryActor.create(Duration.ofMinutes(10), clock));
    hosts.tell(new HostRegistryActor.Contact(Testbox.fromQuery(Map.of("hostname", "old--1", "freemem", "8192"))));
    TestProbe<HostRegistryActor.BoxList> boxes = testKit.createTestProbe();
    hosts.tell(new HostRegistryActor.Boxes(boxes.getRef()));
    assertEquals(1, boxes.receiveMessage().boxes().size());
    clock.advance(Duration.ofDays(30));
    hosts.tell(new HostRegistryActor.Contact(Testbox.fromQuery(Map.of("hostname", "new--1", "freemem", "8192"))));
    hosts.tell(new HostRegistryActor.Boxes(boxes.getRef()));
    assertEquals(List.of("new--1"), boxes.receiveMessage().boxes().stream().map(Testbox::hostname).toList());
  }

  /**
   * A box registered by hand (its MAC to boot from, its memory) is known again after a restart,
   * as last registered; a registration the store cannot keep changes nothing and says so.
   */
  @Test
  void registrationsAreDurableAndReadBackAtAStart() {
    TestProbe<Outcome> probe = testKit.createTestProbe();
    try (org.compassci.sched.persistence.JdbcJobStore store = org.compassci.sched.persistence.JdbcJobStore.embedded(dir, 2)) {
      ActorRef<HostRegistryActor.Command> hosts = testKit.spawn(HostRegistryActor.create(Duration.ofSeconds(60),
          Clock.systemUTC(), java.util.Optional.empty(), store));
      hosts.tell(new HostRegistryActor.Register("bm1", Json.object().put("arch", "aarch64"), probe.getRef()));
      hosts.tell(new HostRegistryActor.Register("bm1", Json.object().put("arch", "x86_64").put("memory", 16384)
          .set("mac_addr", Json.MAPPER.createArrayNode().add("52-54-00-12-34-56")), probe.getRef()));
      assertEquals("aarch64", probe.receiveMessage().job().path("arch").asText());
      assertEquals("x86_64", probe.receiveMessage().job().path("arch").asText(), "in the order asked");
      testKit.stop(hosts);

      ActorRef<HostRegistryActor.Command> again = testKit.spawn(HostRegistryActor.create(Duration.ofSeconds(60),
          Clock.systemUTC(), java.util.Optional.empty(), store));
      Outcome found = null;
      for (long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
          (found == null || found.status() != Outcome.Status.OK) && System.nanoTime() < end; ) {
        // read back just after the start
        again.tell(new HostRegistryActor.FindByMac("52-54-00-12-34-56", probe.getRef()));
        found = probe.receiveMessage();
        if (found.status() != Outcome.Status.OK) {
          sleep(50);
        }
      }
      assertEquals(Outcome.Status.OK, found.status(), found.message());
      assertEquals("bm1", found.job().path("hostname").asText());
      assertEquals(16384, found.job().path("memory").asLong());
      assertTrue(found.job().path("last_contact").isNull(), "known, but not seen since the start");

      store.close();
      again.tell(new HostRegistryActor.Register("bm2", Json.object().put("arch", "x86_64"), probe.getRef()));
      Outcome refused = probe.receiveMessage();
      assertEquals(Outcome.Status.UNAVAILABLE, refused.status());
      assertTrue(refused.message().contains("bm2"), refused.message());
      again.tell(new HostRegistryActor.Get("bm2", probe.getRef()));
      assertEquals(Outcome.Status.NOT_FOUND, probe.receiveMessage().status(), "nothing changed");
    }
  }

  /**
   * A registration stored before a box's tags were checked as they are now, with a tag naming
   * another box ({@code hostname=bm9}): read back without that tag, the others kept, so the box
   * boots as itself. It used to come back whole, and every boot of the box got a 400.
   */
  @Test
  void aStoredRegistrationWithATagNowRefusedComesBackWithoutIt() {
    TestProbe<Outcome> probe = testKit.createTestProbe();
    try (org.compassci.sched.persistence.JdbcJobStore store = org.compassci.sched.persistence.JdbcJobStore.embedded(dir, 2)) {
      // as earlier versions saved them, unchecked
      store.saveHost(new org.compassci.sched.persistence.RegisteredHost("bm3",
          "{\"arch\":\"x86_64\",\"tags\":\"hostname=bm9, nic=mlx5,tbox_group=other,long="
              + "x".repeat(Testbox.MAX_TAG_LENGTH) + "\"}", 0));
      StringBuilder many = new StringBuilder("t0=1");
      for (int i = 1; i < Testbox.MAX_TAGS + 5; i++) {
        many.append(",t").append(i).append("=1");
      }
      store.saveHost(new org.compassci.sched.persistence.RegisteredHost("bm4",
          "{\"arch\":\"x86_64\",\"tags\":\"" + many + "\"}", 0));
      ActorRef<HostRegistryActor.Command> hosts = testKit.spawn(HostRegistryActor.create(Duration.ofSeconds(60),
          Clock.systemUTC(), java.util.Optional.empty(), store));
      Outcome found = null;
      for (long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
          (found == null || found.status() != Outcome.Status.OK) && System.nanoTime() < end; ) {
        hosts.tell(new HostRegistryActor.Get("bm3", probe.getRef()));
        found = probe.receiveMessage();
        if (found.status() != Outcome.Status.OK) {
          sleep(50);
        }
      }
      assertEquals(Outcome.Status.OK, found.status(), found.message());
      assertEquals("nic=mlx5", found.job().path("tags").asText());
      assertEquals("x86_64", found.job().path("arch").asText());
      hosts.tell(new HostRegistryActor.Get("bm4", probe.getRef()));
      Outcome many4 = probe.receiveMessage();
      assertEquals(Outcome.Status.OK, many4.status(), many4.message());
      assertEquals(Testbox.MAX_TAGS, many4.job().path("tags").asText().split(",").length, "the first ones kept");
      // and each boots as a box may: its registration makes a valid dispatch
      Testbox.fromQuery(java.util.Map.of("hostname", "bm3", "tags", found.job().path("tags").asText()));
      Testbox.fromQuery(java.util.Map.of("hostname", "bm4", "tags", many4.job().path("tags").asText()));
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Test
  void registrationContactAndOfflineAfterSilence() throws InterruptedException {
    ActorRef<HostRegistryActor.Command> hosts =
        testKit.spawn(HostRegistryActor.create(Duration.ofSeconds(2), Clock.systemUTC()));
    TestProbe<Outcome> probe = testKit.createTestProbe();
    hosts.tell(new HostRegistryActor.Register("h1", Json.object().put("arch", "aarch64").put("memory", 16384), probe.getRef()));
    assertEquals("aarch64", probe.receiveMessage().job().path("arch").asText());

    hosts.tell(new HostRegistryActor.Contact(Testbox.fromQuery(Map.of("hostname", "h1", "freemem", "8000"))));
    hosts.tell(new HostRegistryActor.HandedOut("h1", 42));
    hosts.tell(new HostRegistryActor.Get("h1", probe.getRef()));
    var h1 = probe.receiveMessage().job();
    assertEquals(8000, h1.path("free_memory_mb").asLong());
    assertEquals("42", h1.path("current_job").asText());
    assertTrue(h1.path("online").asBoolean());

    // the hand-outs of one commit come in one message (a provider runs several jobs at once)
    hosts.tell(new HostRegistryActor.HandOuts(List.of(new HostRegistryActor.HandedOut("h1", 43),
        new HostRegistryActor.HandedOut("h1", 44))));
    hosts.tell(new HostRegistryActor.Get("h1", probe.getRef()));
    var held = probe.receiveMessage().job();
    assertEquals("44", held.path("current_job").asText());
    assertEquals("[\"42\",\"43\",\"44\"]", held.path("jobs").toString());

    hosts.tell(new HostRegistryActor.Get("nobody", probe.getRef()));
    assertEquals(Outcome.Status.NOT_FOUND, probe.receiveMessage().status());

    Thread.sleep(2500);
    TestProbe<HostRegistryActor.HostsPage> list = testKit.createTestProbe();
    hosts.tell(new HostRegistryActor.ListHosts(list.getRef()));
    HostRegistryActor.HostsPage all = list.receiveMessage();
    assertEquals(1, all.hosts().size());
    assertEquals(0, all.online());
    assertFalse(all.hosts().get(0).path("online").asBoolean(), "silent past offline-after");

    for (int i = 0; i < 5; i++) {
      hosts.tell(new HostRegistryActor.Contact(Testbox.fromQuery(Map.of("hostname", "p" + i))));
    }
    hosts.tell(new HostRegistryActor.ListHosts(2, 2, list.getRef()));
    // by hostname: h1, p0, p1, p2, p3, p4
    HostRegistryActor.HostsPage page = list.receiveMessage();
    assertEquals(6, page.total());
    assertEquals(5, page.online());
    assertEquals(2, page.hosts().size());
    assertEquals("p1", page.hosts().get(0).path("hostname").asText());
    assertEquals("p2", page.hosts().get(1).path("hostname").asText());
  }
}
