package org.compassci.sched.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.compassci.sched.actors.LifecycleActor;
import org.compassci.sched.actors.MatcherActor;
import org.compassci.sched.actors.PersistenceActor;
import org.compassci.sched.config.SchedulerSettings;
import org.compassci.sched.model.JobIntake;
import org.compassci.sched.model.Json;
import org.compassci.sched.model.Testbox;
import org.compassci.sched.persistence.JdbcJobStore;
import org.compassci.sched.persistence.ListenPorts;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * In a cluster the matcher serves every node's boxes, and a node that stops its HTTP server tells
 * it so (StopParking). Its polls that reach the matcher after that, sent before the node turned
 * new requests away, are answered "no job" at once: parked, one could be handed a job after the
 * node closed its connections, and that job would wait out its dispatch-ack. Two actor systems
 * over loopback remoting, as two nodes are.
 */
class StoppingNodeTest {

  @TempDir Path dir;

  private static ActorTestKit node(int port) {
    Config config = ConfigFactory.parseString(
        "pekko.actor.provider = remote\n"
            + "pekko.remote.artery.canonical.hostname = 127.0.0.1\n"
            + "pekko.remote.artery.canonical.port = " + port + "\n"
            // the matcher treats a node as stopping for as long as a node's drain may last
            + "pekko.coordinated-shutdown.phases.service-requests-done.timeout = 8s\n")
        .withFallback(ConfigFactory.load());
    return ActorTestKit.create("sched", config);
  }

  private static Testbox box(String host) {
    return new Testbox(host, Set.of("hostname=" + host, "arch=x86_64", "tbox_type=vm", "tbox_type=dc",
        "tbox_group=vm-2p8g"), 65536);
  }

  @Test
  void aPollFromANodeThatStopsServingIsAnsweredNoJobNotParked() throws Exception {
    int[] ports = ListenPorts.reserve(2);
    ActorTestKit home = node(ports[0]);
    ActorTestKit edge = node(ports[1]);
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 4)) {
      ActorRef<PersistenceActor.Command> persistence = home.spawn(PersistenceActor.create(store, 100));
      TestProbe<LifecycleActor.Command> lifecycle = home.createTestProbe();
      ActorRef<MatcherActor.Command> matcher = home.spawn(MatcherActor.create(persistence, lifecycle.getRef(),
          SchedulerSettings.fromConfig(home.system().settings().config()), Clock.systemUTC()), "matcher");
      // the edge reaches the matcher as a node of the cluster does: by its remote address
      ActorRef<MatcherActor.Command> remote = ActorRefResolver.get(edge.system()).resolveActorRef(
          ActorRefResolver.get(home.system()).toSerializationFormat(matcher));

      // the matcher has loaded its queue (a poll that comes before is answered 503 at once)
      TestProbe<MatcherActor.Stats> loaded = home.createTestProbe();
      matcher.tell(new MatcherActor.GetStats(loaded.getRef()));
      loaded.receiveMessage(Duration.ofSeconds(20));

      // a poll from the edge parks on the matcher; the edge stops: the poll is answered
      TestProbe<MatcherActor.DispatchResult> parked = edge.createTestProbe();
      remote.tell(new MatcherActor.Dispatch(box("vm-2p8g--1"), Duration.ofSeconds(30), parked.getRef()));
      TestProbe<Done> stopped = edge.createTestProbe();
      // the matcher's 8 s start after this
      long stoppedAt = System.nanoTime();
      remote.tell(new MatcherActor.StopParking(stopped.getRef()));
      stopped.expectMessage(Duration.ofSeconds(20), Done.getInstance());
      assertInstanceOf(MatcherActor.NoJob.class, parked.receiveMessage(Duration.ofSeconds(20)));

      // a poll from the edge that comes after its StopParking is not parked: answered long
      // before its 30 s wait
      TestProbe<MatcherActor.DispatchResult> late = edge.createTestProbe();
      remote.tell(new MatcherActor.Dispatch(box("vm-2p8g--2"), Duration.ofSeconds(30), late.getRef()));
      assertInstanceOf(MatcherActor.NoJob.class, late.receiveMessage(Duration.ofSeconds(10)));

      // nor handed a job that fits it
      TestProbe<MatcherActor.SubmitResult> submitted = home.createTestProbe();
      matcher.tell(new MatcherActor.Submit(List.of(JobIntake.prepare(Json.parse(
          "{\"suite\":\"s\",\"testbox\":\"vm-2p8g\",\"my_account\":\"alice\"}"))), submitted.getRef()));
      long id = submitted.receiveMessage(Duration.ofSeconds(20)).jobs().get(0).id();
      TestProbe<MatcherActor.DispatchResult> asks = edge.createTestProbe();
      remote.tell(new MatcherActor.Dispatch(box("vm-2p8g--2"), Duration.ZERO, asks.getRef()));
      assertInstanceOf(MatcherActor.NoJob.class, asks.receiveMessage(Duration.ofSeconds(10)));
      Assumptions.assumeTrue(System.nanoTime() - stoppedAt < Duration.ofSeconds(8).toNanos(),
          "the asks above came after the node's drain (8 s): on a machine this slow the test proves nothing");

      // past the longest drain the node is served again: one restarted at the same address
      MatcherActor.DispatchResult r = null;
      for (int i = 0; i < 150 && !(r instanceof MatcherActor.Assigned); i++) {
        Thread.sleep(200);
        remote.tell(new MatcherActor.Dispatch(box("vm-2p8g--2"), Duration.ZERO, asks.getRef()));
        r = asks.receiveMessage(Duration.ofSeconds(10));
      }
      assertEquals(id, assertInstanceOf(MatcherActor.Assigned.class, r).id());
      assertTrue(System.nanoTime() - stoppedAt >= Duration.ofSeconds(8).toNanos(), "not before the drain's end");
    } finally {
      edge.shutdownTestKit();
      home.shutdownTestKit();
    }
  }
}
