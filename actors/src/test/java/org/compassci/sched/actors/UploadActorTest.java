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

  UploadActor.Step makeFolder(ActorRef<UploadActor.Command> uploads, String name) {
    TestProbe<UploadActor.Step> reply = testKit.createTestProbe();
    uploads.tell(new UploadActor.MakeFolder(1, FOLDER, List.of("job", "1", name), reply.getRef()));
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

    // a body of unknown length may write all that is left, but sets only its entry aside at
    // first (its bytes as they come: see aBodyInChunksSetsItsBytesAsideAsTheyCome)
    UploadActor.Step chunked = begin(uploads, -1);
    assertEquals(200, chunked.status());
    assertEquals(JOB - 2 * UploadActor.ENTRY_BYTES - 60 * 1024, chunked.remaining());
    UploadActor.Step beside = begin(uploads, 20 * 1024);
    assertEquals(200, beside.status(), beside.message());
    // a folder counts what is set aside too
    UploadActor.Step more = begin(uploads, 2 * 1024);
    assertEquals(200, more.status(), more.message());
    assertEquals(413, makeFolder(uploads, "sub").status(), "64 + 4 + 24 + 6 KiB set aside, and 4 for the folder");
    for (UploadActor.Step s : List.of(chunked, beside, more)) {
      uploads.tell(new UploadActor.Abort(s.staging()));
    }

    UploadActor.Step small = begin(uploads, 1024);
    assertEquals(200, small.status(), "an abort gives its share back: " + small.message());
    assertEquals(201, commit(uploads, "a", first, 60 * 1024).status());
    assertEquals(201, commit(uploads, "b", small, 1024).status());
    assertEquals(413, begin(uploads, 60 * 1024).status(), "what was written counts as before");
    assertEquals(200, begin(uploads, 20 * 1024).status());
  }

  UploadActor.Step grow(ActorRef<UploadActor.Command> uploads, UploadActor.Step begun, long held,
      long needed, long wanted) {
    TestProbe<UploadActor.Step> reply = testKit.createTestProbe();
    uploads.tell(new UploadActor.Grow(1, begun.staging(), held, needed, wanted, reply.getRef()));
    return reply.receiveMessage(Duration.ofSeconds(10));
  }

  /**
   * Bodies in chunks have their bytes set aside as they come: two at once can no longer each
   * stage all the job has left (before, each streamed up to it, and only the commits told them
   * apart), and what one holds counts for a declared upload as a declared one's share does.
   */
  @Test
  void aBodyInChunksSetsItsBytesAsideAsTheyCome() throws Exception {
    ActorRef<UploadActor.Command> uploads = uploads(Duration.ofHours(1));
    UploadActor.Step first = begin(uploads, -1);
    UploadActor.Step second = begin(uploads, -1);
    assertEquals(200, first.status());
    assertEquals(200, second.status());

    // a step ahead where the job has room for it and for what is needed
    UploadActor.Step took = grow(uploads, first, 0, 10 * 1024, 40 * 1024);
    assertEquals(200, took.status(), took.message());
    assertEquals(40 * 1024, took.remaining());
    // 52 KiB left: not enough for 10 and 50 more, so only what it needs, the rest left to others
    UploadActor.Step need = grow(uploads, second, 0, 10 * 1024, 50 * 1024);
    assertEquals(200, need.status(), need.message());
    assertEquals(10 * 1024, need.remaining());
    UploadActor.Step rest = grow(uploads, second, 10 * 1024, 42 * 1024, 42 * 1024);
    assertEquals(200, rest.status(), "all that is left: " + rest.message());

    UploadActor.Step refused = grow(uploads, first, 40 * 1024, 1, 1);
    assertEquals(413, refused.status(), "the job has nothing left to set aside");
    assertTrue(refused.message().contains("set aside"), refused.message());
    assertEquals(413, begin(uploads, 1024).status(), "a declared upload sees the chunks' shares too");

    // the largest upload holds for a body in chunks as it grows
    uploads.tell(new UploadActor.Abort(second.staging()));
    UploadActor.Step tooBig = grow(uploads, first, 40 * 1024, 30 * 1024, 0);
    assertEquals(413, tooBig.status(), "40 + 30 KiB is past the largest upload");
    assertTrue(tooBig.message().contains("largest upload"), tooBig.message());
    assertEquals(200, grow(uploads, first, 40 * 1024, 20 * 1024, 0).status());

    assertEquals(201, commit(uploads, "a", first, 60 * 1024).status(), "its real size replaces its share");
    assertEquals(200, begin(uploads, 30 * 1024).status(), "what is left after it");
  }

  /**
   * The upload actor restarted (its shares forgotten) while a body in chunks came in: its next
   * Grow takes its share back as the upload tells it, instead of failing an upload that was
   * within its limits, and that share counts for the job's other uploads again.
   */
  @Test
  void aBodyInChunksTakesItsShareBackAfterARestart() throws Exception {
    ActorRef<UploadActor.Command> before = uploads(Duration.ofHours(1));
    UploadActor.Step chunked = begin(before, -1);
    assertEquals(200, grow(before, chunked, 0, 40 * 1024, 0).status());
    testKit.stop(before);

    ActorRef<UploadActor.Command> after = uploads(Duration.ofHours(1));
    UploadActor.Step more = grow(after, chunked, 40 * 1024, 10 * 1024, 0);
    assertEquals(200, more.status(), more.message());
    assertEquals(413, begin(after, 50 * 1024).status(), "its 50 KiB count again");
    assertEquals(201, commit(after, "a", chunked, 50 * 1024).status());
  }

  /**
   * A Begin whose asker gave up before the answer came (its ask timed out) is never committed
   * nor aborted: its staging file goes, and its share comes back, once unwritten for staleAfter.
   * A file that is being written stays.
   */
  @Test
  void anUploadNobodyWritesGivesItsShareBack() throws Exception {
    ActorRef<UploadActor.Command> uploads = uploads(Duration.ofMillis(500));
    UploadActor.Step lost = begin(uploads, 60 * 1024);
    UploadActor.Step live = begin(uploads, 20 * 1024);
    assertEquals(200, lost.status());
    assertEquals(200, live.status());
    assertEquals(413, begin(uploads, 60 * 1024).status());

    UploadActor.Step again = null;
    int written = 0;
    for (int i = 0; i < 200 && (again == null || !again.ok() || Files.exists(lost.staging())); i++) {
      // the live upload goes on writing, a byte more each time
      Files.write(live.staging(), new byte[++written]);
      if (again == null || !again.ok()) {
        again = begin(uploads, 60 * 1024);
      }
      Thread.sleep(50);
    }
    assertEquals(200, again.status(), again.message());
    assertFalse(Files.exists(lost.staging()), "the lost upload's staging file is gone");
    assertTrue(Files.exists(live.staging()), "the live one's stays");
    assertEquals(201, commit(uploads, "live", live, 20 * 1024).status());
  }

  /**
   * A commit of a job this actor has not counted (it restarted, or forgot the job among many)
   * counts the job's folder on disk first: the limit does not start again from nothing.
   */
  @Test
  void aCommitOfAJobNotCountedCountsItsFolderFirst() throws Exception {
    ActorRef<UploadActor.Command> first = uploads(Duration.ofHours(1));
    assertEquals(201, commit(first, "a", begin(first, 60 * 1024), 60 * 1024).status());
    testKit.stop(first);

    ActorRef<UploadActor.Command> again = uploads(Duration.ofHours(1));
    Path staging = Files.createTempFile(Files.createDirectories(dir.resolve(".incoming")), "upload-", "");
    UploadActor.Step step = commit(again, "b", new UploadActor.Step(200, "", staging, 60 * 1024), 60 * 1024);
    assertEquals(413, step.status(), "60 KiB are on disk already: " + step.message());
    assertFalse(Files.exists(dir.resolve("job/1/b")));
  }

  /**
   * An upload's real size is checked at its commit against what the job's other uploads under
   * way set aside (here a chunked upload that grew no share of its own): a declared upload keeps
   * what it was promised at its start.
   */
  @Test
  void aChunkedUploadCannotTakeWhatADeclaredOneWasPromised() throws Exception {
    ActorRef<UploadActor.Command> uploads = uploads(Duration.ofHours(1));
    UploadActor.Step declared = begin(uploads, 60 * 1024);
    UploadActor.Step chunked = begin(uploads, -1);
    assertEquals(200, chunked.status());
    UploadActor.Step late = commit(uploads, "chunked", chunked, 40 * 1024);
    assertEquals(413, late.status(), "64 KiB are the declared upload's: " + late.message());
    assertEquals(201, commit(uploads, "declared", declared, 60 * 1024).status());
  }

  /**
   * Staging files left behind (a run that stopped, or another scheduler sharing the results
   * folder) are not cleared at start, where they may be another's live uploads, but once they
   * looked the same at two sweeps.
   */
  @Test
  void aStagingFileNobodyWritesGoesAfterTwoSweeps() throws Exception {
    Path incoming = Files.createDirectories(dir.resolve(".incoming"));
    Path left = Files.write(incoming.resolve("upload-left"), new byte[10]);
    Path live = Files.write(incoming.resolve("upload-live"), new byte[1]);
    uploads(Duration.ofMillis(300));
    assertTrue(Files.exists(left), "nothing is cleared at start");
    for (int i = 0; i < 200 && Files.exists(left); i++) {
      Files.write(live, new byte[i + 2]);
      Thread.sleep(20);
    }
    assertFalse(Files.exists(left), "unchanged at two sweeps");
    assertTrue(Files.exists(live), "written all along");
  }

  /** A staging file deleted under its upload (by hand, or by another scheduler): its share comes back. */
  @Test
  void anUploadWhoseFileIsGoneGivesItsShareBack() throws Exception {
    ActorRef<UploadActor.Command> uploads = uploads(Duration.ofMillis(300));
    UploadActor.Step gone = begin(uploads, 60 * 1024);
    assertEquals(200, gone.status());
    Files.delete(gone.staging());
    UploadActor.Step again = begin(uploads, 60 * 1024);
    for (int i = 0; i < 100 && !again.ok(); i++) {
      Thread.sleep(50);
      again = begin(uploads, 60 * 1024);
    }
    assertEquals(200, again.status(), again.message());
  }
}
