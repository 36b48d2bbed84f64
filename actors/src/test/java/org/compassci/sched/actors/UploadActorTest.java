package org.compassci.sched.actors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a job may still upload counts the uploads under way: their bytes are set aside at Begin,
 * so that uploads at once cannot each stream the job's whole limit to the disk before one of them
 * is refused, and an upload nobody finishes gives its share back.
 */
class UploadActorTest {

  static final ActorTestKit testKit = ActorTestKit.create();
  static final long FILE = 64 * 1024;
  static final long JOB = 100 * 1024;
  static final List<String> FOLDER = List.of("job", "1");

  @AfterAll
  static void shutdown() {
    testKit.shutdownTestKit();
  }

  @org.junit.jupiter.api.extension.RegisterExtension
  final Spawned actors = new Spawned(testKit);

  @TempDir Path dir;

  ActorRef<UploadActor.Command> uploads(Duration staleAfter) {
    return actors.spawn(UploadActor.create(dir, FILE, JOB, java.time.Clock.systemUTC(), staleAfter));
  }

  UploadActor.Step begin(ActorRef<UploadActor.Command> uploads, long declared) {
    TestProbe<UploadActor.Step> reply = testKit.createTestProbe();
    uploads.tell(new UploadActor.Begin(1, FOLDER, declared, reply.getRef()));
    return reply.receiveMessage(Duration.ofSeconds(10));
  }

  UploadActor.Step commit(ActorRef<UploadActor.Command> uploads, String name, UploadActor.Step begun, int size)
      throws Exception {
    Files.write(begun.staging(), new byte[size]);
    TestProbe<UploadActor.Step> reply = testKit.createTestProbe();
    uploads.tell(new UploadActor.Commit(1, List.of("job", "1", name), 2, begun.staging(), size, reply.getRef()));
    return reply.receiveMessage(Duration.ofSeconds(10));
  }

  @Test
  void uploadsUnderWayCountAgainstTheJobsLimitUntilTheyEnd() throws Exception {
    ActorRef<UploadActor.Command> uploads = uploads(Duration.ofHours(1));
    UploadActor.Step first = begin(uploads, 60 * 1024);
    assertEquals(200, first.status(), first.message());
    assertEquals(60 * 1024, first.remaining(), "it may write what it declared");

    UploadActor.Step second = begin(uploads, 60 * 1024);
    assertEquals(413, second.status(), "the first's 60 KiB are set aside: " + second.message());
    assertTrue(second.message().contains("set aside"), second.message());
    UploadActor.Step tooBig = begin(uploads, 70 * 1024);
    assertEquals(413, tooBig.status());
    assertTrue(tooBig.message().contains("largest upload"), tooBig.message());

    // a body of unknown length is given all that is left, and holds it while under way
    UploadActor.Step chunked = begin(uploads, -1);
    assertEquals(200, chunked.status());
    assertEquals(JOB - 2 * UploadActor.ENTRY_BYTES - 60 * 1024, chunked.remaining());
    assertEquals(413, begin(uploads, 1).status(), "nothing is left while the chunked one runs");
    uploads.tell(new UploadActor.Abort(chunked.staging()));

    UploadActor.Step small = begin(uploads, 1024);
    assertEquals(200, small.status(), "an abort gives its share back: " + small.message());
    assertEquals(201, commit(uploads, "a", first, 60 * 1024).status());
    assertEquals(201, commit(uploads, "b", small, 1024).status());
    assertEquals(413, begin(uploads, 60 * 1024).status(), "what was written counts as before");
    assertEquals(200, begin(uploads, 20 * 1024).status());
  }

  /**
   * A Begin whose asker gave up before the answer came (its ask timed out) is never committed
   * nor aborted: its staging file goes, and its share comes back, once unwritten for staleAfter.
   * A file that is being written stays.
   */
  @Test
  void anUploadNobodyWritesGivesItsShareBack() throws Exception {
    ActorRef<UploadActor.Command> uploads = uploads(Duration.ofMillis(600));
    UploadActor.Step lost = begin(uploads, 60 * 1024);
    UploadActor.Step live = begin(uploads, 20 * 1024);
    assertEquals(200, lost.status());
    assertEquals(200, live.status());
    assertEquals(413, begin(uploads, 60 * 1024).status());

    UploadActor.Step again = null;
    for (int i = 0; i < 100; i++) {
      // the live upload goes on writing
      Files.write(live.staging(), new byte[i + 1]);
      again = begin(uploads, 60 * 1024);
      if (again.ok()) {
        break;
      }
      Thread.sleep(50);
    }
    assertEquals(200, again.status(), again.message());
    for (int i = 0; i < 100 && Files.exists(lost.staging()); i++) {
      Thread.sleep(20);
    }
    assertFalse(Files.exists(lost.staging()), "the lost upload's staging file is gone");
    assertTrue(Files.exists(live.staging()), "the live one's stays");
    assertEquals(201, commit(uploads, "live", live, 20 * 1024).status());
  }
}
