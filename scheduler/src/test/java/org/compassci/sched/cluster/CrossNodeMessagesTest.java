package org.compassci.sched.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializers;
import org.apache.pekko.serialization.jackson.JacksonCborSerializer;
import org.compassci.sched.actors.ActorStats;
import org.compassci.sched.actors.LifecycleActor;
import org.compassci.sched.actors.MatcherActor;
import org.compassci.sched.actors.MatcherTally;
import org.compassci.sched.actors.WatchActor;
import org.compassci.sched.boot.BootRules;
import org.compassci.sched.match.MatchQueue;
import org.compassci.sched.model.JobIntake;
import org.compassci.sched.model.JobUpdate;
import org.compassci.sched.model.Json;
import org.compassci.sched.model.Outcome;
import org.compassci.sched.model.Testbox;
import org.compassci.sched.persistence.JobRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * Every message that crosses nodes in cluster mode goes through the serializer the shipped
 * configuration binds (CBOR through Jackson) and comes back equal; Java serialization is off.
 */
class CrossNodeMessagesTest {

  // the shipped application.conf: its bindings are what is tested
  static final ActorTestKit testKit = ActorTestKit.create("messages", com.typesafe.config.ConfigFactory.load());
  static final Serialization serialization = SerializationExtension.get(testKit.system());

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  @SuppressWarnings("unchecked")
  static <T> T roundTrip(T message) {
    var serializer = serialization.findSerializerFor(message);
    assertEquals(JacksonCborSerializer.class, serializer.getClass(), message.getClass().getName());
    byte[] bytes = serialization.serialize(message).get();
    String manifest = Serializers.manifestFor(serializer, message);
    return (T) serialization.deserialize(bytes, serializer.identifier(), manifest).get();
  }

  static <T> void same(T message) {
    assertEquals(message, roundTrip(message));
  }

  static ObjectNode job() {
    ObjectNode j = Json.object().put("suite", "hackbench").put("id", "26112905413200001").put("nr", 3);
    j.putObject("pp").put("nr_threads", "100%");
    j.putArray("tags").add("arch=aarch64");
    return j;
  }

  @Test
  void matcherRequestsAndAnswers() {
    ActorRef<MatcherActor.SubmitResult> submitted = testKit.<MatcherActor.SubmitResult>createTestProbe().ref();
    JobIntake.Draft draft = JobIntake.prepare(Json.object().put("suite", "a").put("testbox", "vm-2p8g")
        .put("my_account", "alice"));
    same(new MatcherActor.Submit(List.of(draft), submitted));
    same(new MatcherActor.SubmitAs(List.of(draft), 100,
        Optional.of(new MatcherActor.Once("alice", "key-1", "digest")), submitted));
    ActorRef<MatcherActor.DispatchResult> box = testKit.<MatcherActor.DispatchResult>createTestProbe().ref();
    Testbox t = new Testbox("vm-2p8g--1", Set.of("arch=aarch64", "tbox_type=vm"), 16000);
    org.compassci.sched.model.ConnectionId connection = org.compassci.sched.model.ConnectionId.next();
    MatcherActor.Dispatch d = roundTrip(new MatcherActor.Dispatch(t, Duration.ofSeconds(30), connection, 1_234_567L, box));
    assertEquals(1_234_567L, d.answerBy(), "the asker's deadline crosses with the request");
    assertEquals(t, d.box());
    assertEquals(Duration.ofSeconds(30), d.longPoll());
    // the hang-up sent after it names the same connection, whichever node it came through
    assertEquals(connection, d.connection());
    assertEquals(box, d.replyTo());
    same(new MatcherActor.Assigned(7, new JobRecord(7, "dispatch", "unknown", "N/A", "alice", "vm-2p8g",
        1L, "{\"suite\":\"a\"}", "vm-2p8g--1", "abc", 2L), "token"));
    same(new MatcherActor.NoJob());
    same(new MatcherActor.Unavailable("store away"));
    same(new MatcherActor.SubmitResult(List.of(new MatcherActor.Submitted(1, "/result/a")), Optional.empty(),
        Optional.of("over")));
    ActorRef<Outcome> outcome = testKit.<Outcome>createTestProbe().ref();
    same(new MatcherActor.Cancel(1, outcome));
    same(new MatcherActor.Terminate(1, outcome));
    same(Outcome.ok(job()));
    same(Outcome.of(Outcome.Status.CONFLICT, "no"));
    ActorRef<MatcherActor.Requeued> requeued = testKit.<MatcherActor.Requeued>createTestProbe().ref();
    same(new MatcherActor.Requeue(1, "hash", "lost", requeued));
    same(new MatcherActor.Requeued(1, Outcome.ok(job())));
    same(new MatcherActor.GetPending("my_account", testKit.<MatcherActor.Pending>createTestProbe().ref()));
    same(new MatcherActor.Pending(3, Map.of("alice", 3)));
    same(new MatcherActor.Explain(1, List.of(t), testKit.<MatcherActor.Explained>createTestProbe().ref()));
    same(new MatcherActor.Explained(Optional.of(new MatchQueue.Explain(1, Set.of("arch=aarch64"), Set.of(), 512,
        "alice", 3, 10, 1, 2, 5, 4, 3, Map.of("memory", 1)))));
    same(new MatcherActor.Explained(Optional.empty()));
    same(new MatcherActor.Stats(1, 2, 3, 4, 5, 6, Instant.parse("2026-11-29T00:00:00Z")));
    same(new MatcherActor.StopParking(testKit.<org.apache.pekko.Done>createTestProbe().ref()));
    same(new MatcherActor.TakeTally(testKit.<MatcherTally>createTestProbe().ref()));
    same(new MatcherActor.GetStats(testKit.<MatcherActor.Stats>createTestProbe().ref()));
    same(new MatcherActor.ClientGone(org.compassci.sched.model.ConnectionId.next()));
    MatcherTally tally = roundTrip(new MatcherTally(1, 2, 3, 4, 5, new long[] {6, 7}, Map.of("a", 1), Map.of("g", 2)));
    assertArrayEquals(new long[] {6, 7}, tally.waitMillis());
    assertEquals(Map.of("g", 2), tally.pendingByGroup());
  }

  @Test
  void lifecycleAndWatchMessages() {
    ActorRef<Outcome> outcome = testKit.<Outcome>createTestProbe().ref();
    same(new LifecycleActor.Track(new JobRecord(7, "dispatch", "unknown", "N/A", "alice", "g", 1L, "{}")));
    same(new LifecycleActor.Track(List.of(new JobRecord(7, "dispatch", "unknown", "N/A", "alice", "g", 1L, "{}"),
        new JobRecord(8, "dispatch", "unknown", "N/A", "bob", "g", 2L, "{}"))));
    same(new LifecycleActor.Update(7, List.of(new JobUpdate.Param("job_stage", "boot")), JobUpdate.Mode.LEGACY, outcome));
    same(new LifecycleActor.Get(7, outcome));
    same(new LifecycleActor.Terminate(7, outcome));
    same(new LifecycleActor.CancelNotQueued(7, outcome));
    same(new LifecycleActor.FetchPackage(7, "token", "10.0.0.7", outcome));
    same(new LifecycleActor.GetDeadline(7, outcome));
    same(new LifecycleActor.BootedAgain("bm1", List.of(7L, 8L), 1_700_000_000_000L, testKit.<LifecycleActor.GivingBack>createTestProbe().ref()));
    same(new LifecycleActor.GivingBack(2));
    same(new LifecycleActor.CheckUpload(7, null, "10.0.0.7", testKit.<BootRules.Permit>createTestProbe().ref()));
    same(new BootRules.Permit(200, "", "/result/a"));
    TestProbe<WatchActor.Command> watch = testKit.createTestProbe();
    same(new LifecycleActor.Watch(7, true, watch.ref()));
    same(new LifecycleActor.Forget(7, "box", "hash", job()));
    same(new LifecycleActor.Cancelled(7, job()));
    same(new LifecycleActor.TakeTally(testKit.<LifecycleActor.Tally>createTestProbe().ref()));
    same(new LifecycleActor.Tally(Map.of("success", 1L), Map.of("boot", 2L)));
    same(new LifecycleActor.Running(1, Map.of("boot", 1L), List.of(job())));
    same(new LifecycleActor.ListRunning(0, 10, testKit.<LifecycleActor.Running>createTestProbe().ref()));
    same(new LifecycleActor.GetStats(testKit.<ActorStats>createTestProbe().ref()));
    same(new ActorStats("lifecycle", Map.of("active_jobs", 1L), 5, Instant.parse("2026-11-29T00:00:00Z")));
    same(new WatchActor.Changed(7, job()));
    same(new WatchActor.LifecycleStarted());
  }

  @Test
  void hostRegistryMessages() {
    ActorRef<Outcome> outcome = testKit.<Outcome>createTestProbe().ref();
    Testbox t = new Testbox("vm-2p8g--1", Set.of("arch=aarch64"), 16000);
    same(new org.compassci.sched.actors.HostRegistryActor.Register("h1", job(), outcome));
    same(new org.compassci.sched.actors.HostRegistryActor.Get("h1", outcome));
    same(new org.compassci.sched.actors.HostRegistryActor.Contact(t));
    same(new org.compassci.sched.actors.HostRegistryActor.HandedOut("h1", 7));
    same(new org.compassci.sched.actors.HostRegistryActor.HandOuts(List.of(
        new org.compassci.sched.actors.HostRegistryActor.HandedOut("h1", 7),
        new org.compassci.sched.actors.HostRegistryActor.HandedOut("h2", 8))));
    same(new org.compassci.sched.actors.HostRegistryActor.JobEnded("h1", 7));
    same(new org.compassci.sched.actors.HostRegistryActor.ProviderState("h1", job()));
    same(new org.compassci.sched.actors.HostRegistryActor.FindByMac("00-11-22-33-44-55", outcome));
    same(new org.compassci.sched.actors.HostRegistryActor.Boxes(
        testKit.<org.compassci.sched.actors.HostRegistryActor.BoxList>createTestProbe().ref()));
    same(new org.compassci.sched.actors.HostRegistryActor.BoxList(List.of(t)));
    same(new org.compassci.sched.actors.HostRegistryActor.LabReloaded(3, List.of("bad line")));
    same(new org.compassci.sched.actors.HostRegistryActor.HostsPage(1, 1,
        Json.MAPPER.createArrayNode().add(job())));
    same(new org.compassci.sched.actors.HostRegistryActor.ReloadLab(
        testKit.<org.compassci.sched.actors.HostRegistryActor.LabReloaded>createTestProbe().ref()));
  }

  /** A record crossing nodes without the marker would go by Java serialization: it is off. */
  record NotMarked(String x) implements java.io.Serializable {}

  @Test
  void javaSerializationIsOff() {
    assertThrows(Exception.class, () -> serialization.serialize(new NotMarked("x")).get());
  }
}
