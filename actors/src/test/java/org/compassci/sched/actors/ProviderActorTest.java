package org.compassci.sched.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.compassci.sched.boot.JobPackage;
import org.compassci.sched.model.Job;
import org.compassci.sched.model.JobIntake;
import org.compassci.sched.model.Json;
import org.compassci.sched.model.Testbox;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** A provider's socket actor against probes for the matcher, the host registry and the socket. */
class ProviderActorTest {

  static final ActorTestKit testKit = ActorTestKit.create();
  static final Duration WAIT = Duration.ofSeconds(10);

  @AfterAll
  static void shutdown() {
    testKit.shutdownTestKit();
  }

  @org.junit.jupiter.api.extension.RegisterExtension
  final Spawned actors = new Spawned(testKit);

  private final TestProbe<MatcherActor.Command> matcher = testKit.createTestProbe();
  private final TestProbe<HostRegistryActor.Command> hosts = testKit.createTestProbe();
  private final TestProbe<ProviderActor.Outbound> out = testKit.createTestProbe();
  private final org.compassci.sched.model.ConnectionId connection = org.compassci.sched.model.ConnectionId.next();

  private ActorRef<ProviderActor.Command> provider() {
    return provider(Duration.ofMillis(500));
  }

  /**
   * {@code linger}: how long the actor outlives its socket. A test that talks to it after the
   * close gives it seconds: a slow test thread must not find it already gone.
   */
  private ActorRef<ProviderActor.Command> provider(Duration linger) {
    ActorRef<ProviderActor.Command> p = actors.spawn(ProviderActor.create("p1", connection, matcher.getRef(),
        hosts.getRef(), Duration.ofMinutes(10), Duration.ofMinutes(5), linger));
    p.tell(new ProviderActor.Attach(out.getRef()));
    return p;
  }

  /** {@code p} asks, the matcher hands it job {@code id}: the boot-job told to the socket. */
  private ProviderActor.BootJob handOut(ActorRef<ProviderActor.Command> p, long id) {
    p.tell(request(16_384));
    matcher.expectMessageClass(MatcherActor.Dispatch.class, WAIT).replyTo().tell(assigned(id));
    return assertInstanceOf(ProviderActor.BootJob.class, out.receiveMessage(WAIT));
  }

  private static ProviderActor.Request request(long freeMb) {
    Testbox box = Testbox.fromQuery(Map.of("hostname", "p1", "arch", "x86_64", "tbox_type", "vm,dc",
        "freemem", Long.toString(freeMb)));
    return new ProviderActor.Request(box, Json.object().put("arch", "x86_64"), new JobPackage.Endpoint("10.0.2.2", 3000));
  }

  private static MatcherActor.Assigned assigned(long id) {
    Job job = Job.submitted(JobIntake.prepare(Json.parse("{\"suite\":\"s\",\"testbox\":\"vm-2p8g\"}")),
        id, Instant.now(), "/result");
    job.handOut("p1", "tok" + id, Instant.now());
    return new MatcherActor.Assigned(id, job.toRecord(), "tok" + id);
  }

  @Test
  void eachRequestIsAStandingDispatchAndEachHandOutABootJob() {
    ActorRef<ProviderActor.Command> p = provider();
    p.tell(request(16_384));
    MatcherActor.Dispatch d = matcher.expectMessageClass(MatcherActor.Dispatch.class, WAIT);
    assertEquals(16_384, d.box().freeMemMb());
    assertTrue(d.box().tags().contains("tbox_type=vm") && d.box().tags().contains("tbox_type=dc"));
    assertSame(connection, d.connection(), "withdrawn when this connection goes");
    assertEquals(Duration.ofMinutes(10), d.longPoll());
    HostRegistryActor.ProviderState shown = hosts.expectMessageClass(HostRegistryActor.ProviderState.class, WAIT);
    assertTrue(shown.info().path("connected").asBoolean());

    d.replyTo().tell(assigned(7));
    ProviderActor.BootJob boot = assertInstanceOf(ProviderActor.BootJob.class, out.receiveMessage(WAIT));
    assertEquals(7, boot.assigned().id());
    assertEquals("10.0.2.2", boot.at().host(), "its machines reach the scheduler as its services say");

    // a newer request replaces the older one (the matcher answers that one "no job": nothing to send)
    p.tell(request(8_192));
    MatcherActor.Dispatch again = matcher.expectMessageClass(MatcherActor.Dispatch.class, WAIT);
    assertEquals(8_192, again.box().freeMemMb());
    d.replyTo().tell(new MatcherActor.NoJob());
    out.expectNoMessage(Duration.ofMillis(200));
    hosts.expectNoMessage(Duration.ofMillis(50));

    TestProbe<Boolean> sent = testKit.createTestProbe();
    p.tell(new ProviderActor.TerminateJob(7, sent.getRef()));
    assertEquals(7, assertInstanceOf(ProviderActor.Terminate.class, out.receiveMessage(WAIT)).jobId());
    assertTrue(sent.receiveMessage(WAIT));
  }

  @Test
  void aClosedSocketWithdrawsItsRequestAndSendsLateHandOutsBack() {
    ActorRef<ProviderActor.Command> p = provider(Duration.ofSeconds(5));
    p.tell(request(16_384));
    MatcherActor.Dispatch d = matcher.expectMessageClass(MatcherActor.Dispatch.class, WAIT);
    hosts.expectMessageClass(HostRegistryActor.ProviderState.class, WAIT);
    p.tell(new ProviderActor.SocketClosed());
    assertSame(connection, matcher.expectMessageClass(MatcherActor.ClientGone.class, WAIT).connection());
    assertFalse(hosts.expectMessageClass(HostRegistryActor.ProviderState.class, WAIT).info().path("connected").asBoolean());

    // a hand-out that comes now was never sent: back to the queue at once, not after dispatch-ack
    MatcherActor.Assigned late = assigned(9);
    d.replyTo().tell(late);
    MatcherActor.Requeue back = matcher.expectMessageClass(MatcherActor.Requeue.class, WAIT);
    assertEquals(9, back.id());
    assertEquals(late.record().tokenHash(), back.tokenHash());
    assertFalse(back.counts(), "the job never reached a box: its requeue budget is not charged");
    out.expectNoMessage(Duration.ofMillis(100));

    TestProbe<Boolean> sent = testKit.createTestProbe();
    p.tell(new ProviderActor.TerminateJob(9, sent.getRef()));
    assertFalse(sent.receiveMessage(WAIT), "no socket to send it on");
    TestProbe<Object> watcher = testKit.createTestProbe();
    watcher.expectTerminated(p, WAIT);
  }

  @Test
  void whatComesBeforeTheSocketIsUpWaitsForIt() {
    ActorRef<ProviderActor.Command> p = actors.spawn(ProviderActor.create("p1", connection, matcher.getRef(),
        hosts.getRef(), Duration.ofMinutes(10), Duration.ofMinutes(5), Duration.ofMillis(500)));
    p.tell(request(4096));
    p.tell(new ProviderActor.Refuse(0, "freemem: required"));
    matcher.expectNoMessage(Duration.ofMillis(100));
    p.tell(new ProviderActor.Attach(out.getRef()));
    assertEquals(4096, matcher.expectMessageClass(MatcherActor.Dispatch.class, WAIT).box().freeMemMb());
    assertEquals("freemem: required", assertInstanceOf(ProviderActor.Problem.class, out.receiveMessage(WAIT)).message());
  }

  @Test
  void aNewerSocketOfTheSameHostClosesTheOlder() {
    TestProbe<ActorRef<ProviderActor.Command>> started = testKit.createTestProbe();
    ActorRef<ProvidersActor.Command> registry = actors.spawn(ProvidersActor.create(matcher.getRef(),
        hosts.getRef(), Duration.ofMinutes(10), Duration.ofMinutes(10), Duration.ofMillis(200), java.time.Clock.systemUTC()));
    TestProbe<ProviderActor.Outbound> older = testKit.createTestProbe();
    registry.tell(new ProvidersActor.Connect("p1", org.compassci.sched.model.ConnectionId.next(), started.getRef()));
    started.receiveMessage(WAIT).tell(new ProviderActor.Attach(older.getRef()));
    registry.tell(new ProvidersActor.Connect("p1", org.compassci.sched.model.ConnectionId.next(), started.getRef()));
    started.receiveMessage(WAIT).tell(new ProviderActor.Attach(out.getRef()));
    ProviderActor.Close close = assertInstanceOf(ProviderActor.Close.class, older.receiveMessage(WAIT));
    assertEquals(1008, close.code());

    // terminate-job goes to the newer socket only
    TestProbe<Boolean> sent = testKit.createTestProbe();
    registry.tell(new ProvidersActor.TerminateJob(3, "p1", sent.getRef()));
    assertEquals(3, assertInstanceOf(ProviderActor.Terminate.class, out.receiveMessage(WAIT)).jobId());
    assertTrue(sent.receiveMessage(WAIT));
    older.expectNoMessage(Duration.ofMillis(100));
    registry.tell(new ProvidersActor.TerminateJob(3, "nobody", sent.getRef()));
    assertFalse(sent.receiveMessage(WAIT));
  }

  /**
   * The socket's outgoing side ends before its incoming side reports the close (the incoming
   * side waits on reports in flight, or a takeover closed the outgoing one): a hand-out that
   * comes then goes back to the queue at once, not charged, instead of being told to a stream
   * that is gone and waiting out its dispatch-ack.
   */
  @Test
  void aHandOutAfterTheOutgoingSideEndedGoesBackAtOnce() {
    ActorRef<ProviderActor.Command> p = provider(Duration.ofSeconds(5));
    p.tell(request(16_384));
    MatcherActor.Dispatch d = matcher.expectMessageClass(MatcherActor.Dispatch.class, WAIT);
    out.stop();
    assertSame(connection, matcher.expectMessageClass(MatcherActor.ClientGone.class, WAIT).connection());
    d.replyTo().tell(assigned(11));
    MatcherActor.Requeue back = matcher.expectMessageClass(MatcherActor.Requeue.class, WAIT);
    assertEquals(11, back.id());
    assertFalse(back.counts());
  }

  /**
   * At shutdown the socket is closed with 1001 behind the boot-job it was sent; a hand-out that
   * comes after the close was sent goes back to the queue (told to the socket it would wait
   * behind the close and be dropped with it); the shutdown hears once the socket has closed.
   */
  @Test
  void goAwayClosesTheSocketBehindWhatItWasSentAndSendsLaterHandOutsBack() {
    ActorRef<ProviderActor.Command> p = provider(Duration.ofSeconds(5));
    p.tell(request(16_384));
    MatcherActor.Dispatch d = matcher.expectMessageClass(MatcherActor.Dispatch.class, WAIT);
    d.replyTo().tell(assigned(11));
    assertEquals(11, assertInstanceOf(ProviderActor.BootJob.class, out.receiveMessage(WAIT)).assigned().id());
    TestProbe<org.apache.pekko.Done> closed = testKit.createTestProbe();
    p.tell(new ProviderActor.GoAway(closed.getRef()));
    ProviderActor.Close close = assertInstanceOf(ProviderActor.Close.class, out.receiveMessage(WAIT));
    assertEquals(1001, close.code());
    d.replyTo().tell(assigned(12));
    MatcherActor.Requeue back = matcher.expectMessageClass(MatcherActor.Requeue.class, WAIT);
    assertEquals(12, back.id());
    assertFalse(back.counts());
    out.expectNoMessage(Duration.ofMillis(100));
    closed.expectNoMessage(Duration.ofMillis(100));
    // the stream passed the first boot-job on before it ended: it stays the provider's
    p.tell(new ProviderActor.Written(11, "tok11"));
    out.stop();
    p.tell(new ProviderActor.OutboxEnded());
    assertSame(connection, matcher.expectMessageClass(MatcherActor.ClientGone.class, WAIT).connection());
    // what was written leaves with the connection's close: only then is the shutdown told
    closed.expectNoMessage(Duration.ofMillis(200));
    p.tell(new ProviderActor.ConnectionClosed());
    closed.expectMessage(WAIT, org.apache.pekko.Done.getInstance());
    matcher.expectNoMessage(Duration.ofMillis(200));
  }

  /**
   * A socket closed from inside its stream (a bad frame, the idle timeout, an outbox the
   * provider does not read) drops what the stream was told and had not passed on: those
   * boot-jobs go back to the queue once the stream has ended, the ones it passed on do not.
   */
  @Test
  void bootJobsTheStreamNeverPassedOnGoBackWhenItEnds() {
    ActorRef<ProviderActor.Command> p = provider(Duration.ofSeconds(5));
    p.tell(request(16_384));
    MatcherActor.Dispatch d = matcher.expectMessageClass(MatcherActor.Dispatch.class, WAIT);
    d.replyTo().tell(assigned(21));
    d.replyTo().tell(assigned(22));
    d.replyTo().tell(assigned(23));
    for (int i = 0; i < 3; i++) {
      out.expectMessageClass(ProviderActor.BootJob.class, WAIT);
    }
    p.tell(new ProviderActor.Written(21, "tok21"));
    // an older hand-out of job 22 passed on late does not count for this one
    p.tell(new ProviderActor.Written(22, "older"));
    p.tell(new ProviderActor.OutboxEnded());
    java.util.Set<Long> back = new java.util.HashSet<>();
    int gone = 0;
    for (MatcherActor.Command c : matcher.receiveSeveralMessages(3, WAIT)) {
      if (c instanceof MatcherActor.Requeue r) {
        assertFalse(r.counts());
        back.add(r.id());
      } else {
        assertSame(connection, assertInstanceOf(MatcherActor.ClientGone.class, c).connection());
        gone++;
      }
    }
    assertEquals(java.util.Set.of(22L, 23L), back);
    assertEquals(1, gone);
    // the socket's incoming side ends too: nothing is sent back twice
    p.tell(new ProviderActor.SocketClosed());
    matcher.expectNoMessage(Duration.ofMillis(300));
  }

  /**
   * A boot-job the stream dropped for waiting too long goes back to the queue, not counted, and
   * once only: not again when the stream ends, nor for an older hand-out of the same job.
   */
  @Test
  void aBootJobTheStreamDroppedAsStaleGoesBackOnce() {
    ActorRef<ProviderActor.Command> p = provider(Duration.ofSeconds(5));
    ProviderActor.BootJob b = handOut(p, 31);
    // the socket's 5 minutes, from the moment it was told to it
    long left = b.sendBy() - System.nanoTime();
    assertTrue(left > Duration.ofMinutes(4).toNanos() && left <= Duration.ofMinutes(5).toNanos(), Long.toString(left));
    p.tell(new ProviderActor.Unsent(31, "older"));
    matcher.expectNoMessage(Duration.ofMillis(200));
    p.tell(new ProviderActor.Unsent(31, "tok31"));
    MatcherActor.Requeue r = matcher.expectMessageClass(MatcherActor.Requeue.class, WAIT);
    assertEquals(31, r.id());
    assertFalse(r.counts());
    p.tell(new ProviderActor.OutboxEnded());
    assertInstanceOf(MatcherActor.ClientGone.class, matcher.receiveMessage(WAIT));
    matcher.expectNoMessage(Duration.ofMillis(300));
  }

  /** A GoAway before the socket is up closes it once it is, and hears of its connection's end. */
  @Test
  void aGoAwayBeforeTheSocketIsUpClosesItOnceItIs() {
    ActorRef<ProviderActor.Command> p = actors.spawn(ProviderActor.create("p1", connection, matcher.getRef(),
        hosts.getRef(), Duration.ofMinutes(10), Duration.ofMinutes(5), Duration.ofSeconds(5)));
    TestProbe<org.apache.pekko.Done> closed = testKit.createTestProbe();
    p.tell(new ProviderActor.GoAway(closed.getRef()));
    p.tell(new ProviderActor.Attach(out.getRef()));
    assertEquals(1001, assertInstanceOf(ProviderActor.Close.class, out.receiveMessage(WAIT)).code());
    closed.expectNoMessage(Duration.ofMillis(100));
    p.tell(new ProviderActor.ConnectionClosed());
    closed.expectMessage(WAIT, org.apache.pekko.Done.getInstance());
  }

  /** A socket taken over by a newer one sends a later hand-out back, not after its close. */
  @Test
  void aReplacedSocketSendsAHandOutThatComesAfterItsCloseBack() {
    ActorRef<ProviderActor.Command> p = provider(Duration.ofSeconds(5));
    p.tell(request(16_384));
    MatcherActor.Dispatch d = matcher.expectMessageClass(MatcherActor.Dispatch.class, WAIT);
    p.tell(new ProviderActor.Replaced());
    assertEquals(1008, assertInstanceOf(ProviderActor.Close.class, out.receiveMessage(WAIT)).code());
    d.replyTo().tell(assigned(13));
    assertEquals(13, matcher.expectMessageClass(MatcherActor.Requeue.class, WAIT).id());
    out.expectNoMessage(Duration.ofMillis(100));
  }

  /**
   * CloseAll closes every socket, a replaced one still closing too, and answers once all have
   * closed; with none open it answers at once.
   */
  @Test
  void closeAllAnswersOnceEverySocketHasClosed() {
    TestProbe<ActorRef<ProviderActor.Command>> started = testKit.createTestProbe();
    ActorRef<ProvidersActor.Command> registry = actors.spawn(ProvidersActor.create(matcher.getRef(),
        hosts.getRef(), Duration.ofMinutes(10), Duration.ofMinutes(10), Duration.ofSeconds(5), java.time.Clock.systemUTC()));
    TestProbe<org.apache.pekko.Done> done = testKit.createTestProbe();
    actors.spawn(ProvidersActor.create(matcher.getRef(), hosts.getRef(), Duration.ofMinutes(10),
        Duration.ofMinutes(10), Duration.ofSeconds(5), java.time.Clock.systemUTC())).tell(new ProvidersActor.CloseAll(done.getRef()));
    done.expectMessage(WAIT, org.apache.pekko.Done.getInstance());

    TestProbe<ProviderActor.Outbound> older = testKit.createTestProbe();
    TestProbe<ProviderActor.Outbound> other = testKit.createTestProbe();
    var olderConnection = org.compassci.sched.model.ConnectionId.next();
    var newerConnection = org.compassci.sched.model.ConnectionId.next();
    var otherConnection = org.compassci.sched.model.ConnectionId.next();
    registry.tell(new ProvidersActor.Connect("p1", olderConnection, started.getRef()));
    started.receiveMessage(WAIT).tell(new ProviderActor.Attach(older.getRef()));
    registry.tell(new ProvidersActor.Connect("p1", newerConnection, started.getRef()));
    started.receiveMessage(WAIT).tell(new ProviderActor.Attach(out.getRef()));
    registry.tell(new ProvidersActor.Connect("p2", otherConnection, started.getRef()));
    started.receiveMessage(WAIT).tell(new ProviderActor.Attach(other.getRef()));
    assertEquals(1008, assertInstanceOf(ProviderActor.Close.class, older.receiveMessage(WAIT)).code());

    registry.tell(new ProvidersActor.CloseAll(done.getRef()));
    assertEquals(1001, assertInstanceOf(ProviderActor.Close.class, out.receiveMessage(WAIT)).code());
    assertEquals(1001, assertInstanceOf(ProviderActor.Close.class, other.receiveMessage(WAIT)).code());
    out.stop();
    other.stop();
    // the sockets' streams have ended, their connections not yet
    registry.tell(new ProvidersActor.ConnectionClosed(org.compassci.sched.model.ConnectionId.next()));
    done.expectNoMessage(Duration.ofMillis(200));
    registry.tell(new ProvidersActor.ConnectionClosed(newerConnection));
    registry.tell(new ProvidersActor.ConnectionClosed(otherConnection));
    done.expectNoMessage(Duration.ofMillis(200));
    registry.tell(new ProvidersActor.ConnectionClosed(olderConnection));
    done.expectMessage(WAIT, org.apache.pekko.Done.getInstance());

    // a socket that opens after the close began is closed at once
    TestProbe<ProviderActor.Outbound> late = testKit.createTestProbe();
    registry.tell(new ProvidersActor.Connect("p3", org.compassci.sched.model.ConnectionId.next(), started.getRef()));
    started.receiveMessage(WAIT).tell(new ProviderActor.Attach(late.getRef()));
    assertEquals(1001, assertInstanceOf(ProviderActor.Close.class, late.receiveMessage(WAIT)).code());
  }
}
