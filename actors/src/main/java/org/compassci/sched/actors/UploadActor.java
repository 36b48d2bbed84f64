package org.compassci.sched.actors;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.stream.Stream;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.compassci.sched.boot.ResultPaths;
import org.compassci.sched.boot.UploadRefused;

/**
 * Writes uploaded results into the results folder and keeps each job to its size limit. An upload
 * arrives in a staging file ({@code <results>/.incoming/}), then takes its place under the job's
 * result_root with a hard link, which fails when the name exists: a file is whole or absent, and
 * never replaced. The bytes a job has written are counted here, one actor, so two uploads of one
 * job at once cannot both pass the limit. Every file operation runs on the files dispatcher.
 */
public final class UploadActor extends AbstractBehavior<UploadActor.Command> {

  public static final String DISPATCHER = "scheduler.files-dispatcher";

  public sealed interface Command {}

  /**
   * An upload of job {@code jobId} starts: answered with a staging file and the bytes it may write,
   * which are set aside for it until it commits or aborts, or 413 at once when they are not there.
   * {@code jobFolder}: the job's result folder, as parts below the results folder; {@code declared}:
   * the body's length, or -1 when it comes in chunks: such an upload sets only its entry's block
   * aside at first (holding all the job has left would refuse every other upload of the job
   * while it runs), and more as its bytes come ({@link Grow}); its size is checked again when
   * it commits.
   */
  public record Begin(long jobId, List<String> jobFolder, long declared, ActorRef<Step> replyTo) implements Command {}

  /**
   * An upload in chunks of job {@code jobId} at {@code staging}, which holds {@code held} bytes
   * set aside, has received more: at least {@code needed} bytes more, before they reach the
   * disk, and {@code wanted} where the job has room for both (a step ahead, so that it asks once
   * a step, not once a chunk). Answered with the bytes added ({@link Step#remaining}), or 413
   * when not even {@code needed} are left: two uploads in chunks at once can no longer each
   * stage all the job has left.
   */
  public record Grow(long jobId, Path staging, long held, long needed, long wanted, ActorRef<Step> replyTo)
      implements Command {}

  /**
   * The staging file holds {@code size} bytes: put it at {@code file} (parts below the results
   * folder, the job's own folder being the first {@code jobDepth} of them).
   */
  public record Commit(long jobId, List<String> file, int jobDepth, Path staging, long size, ActorRef<Step> replyTo)
      implements Command {}

  /** The upload failed on the way: its staging file goes. */
  public record Abort(Path staging) implements Command {}

  /** WebDAV MKCOL of job {@code jobId}: the folder {@code folder} (parts below the results folder). */
  public record MakeFolder(long jobId, List<String> jobFolder, List<String> folder, ActorRef<Step> replyTo)
      implements Command {}

  /**
   * What each file or folder counts against its job's upload limit beyond its bytes: a block of
   * the disk, which it takes however small. Without it, empty files and folders cost nothing,
   * and one job could use up the results disk's inodes.
   */
  public static final long ENTRY_BYTES = 4096;

  public record GetStats(ActorRef<ActorStats> replyTo) implements Command {}

  /**
   * {@code status}: HTTP status (200, 201, 403, 409, 413, 500); {@code staging} and {@code
   * remaining} after a Begin (what the upload may write), {@code remaining} after a Grow (the
   * bytes added to its share).
   */
  public record Step(int status, String message, Path staging, long remaining) {
    public boolean ok() {
      return status < 300;
    }
  }

  private record Begun(Begin request, long usedOnDisk, Path staging, Throwable failure) implements Command {}

  /** Looks for staging files that nobody is writing: see {@link #onSweep}. */
  private record Sweep() implements Command {}

  /** What each file in the staging folder looked like, looked at between {@code fromNanos} and {@code toNanos}. */
  private record Looked(Map<Path, FileLook> looks, long fromNanos, long toNanos) implements Command {}

  /** A staging file's modification time and size: unchanged from one sweep to the next, nobody writes it. */
  private record FileLook(long modified, long size) {}

  /** The bytes set aside for one upload under way: its size and a block for its entry. */
  private record Reservation(long jobId, long bytes, long sinceNanos) {}

  /** A commit of a job whose uploads were not counted (forgotten, or this actor restarted), now counted. */
  private record CommitCounted(Commit request, long usedOnDisk, Throwable failure) implements Command {}

  /** {@code made}: the job's folders on the way that the write created. */
  private record Written(Commit request, int made, Throwable failure) implements Command {}

  private record FolderCounted(MakeFolder request, long usedOnDisk, Throwable failure) implements Command {}

  /** {@code made}: the job's folders on the way that were created, not the folder asked for. */
  private record FolderMade(MakeFolder request, int made, Step step) implements Command {}

  /** Jobs whose written bytes are remembered; one not remembered is counted again on disk. */
  static final int JOBS_REMEMBERED = 10_000;

  private final Path resultsDir;
  private final Path staging;
  private final long maxFile;
  private final long maxJob;
  private final Executor files;
  private final Activity activity;
  private final Map<Long, Long> used = Bounded.map(JOBS_REMEMBERED, true);
  /**
   * Uploads under way, by staging file: what a job may still write is what it wrote and what its
   * uploads under way may yet write, so a hundred uploads at once cannot each stream the job's
   * whole limit onto the disk before one of them is refused.
   */
  private final Map<Path, Reservation> reserved = new java.util.HashMap<>();
  private final Map<Long, Long> reservedByJob = new java.util.HashMap<>();
  private long written;
  private long refused;
  private final java.time.Duration staleAfter;
  /** The staging folder at the last sweep that counts (see {@link #onLooked}), and when it was done looking. */
  private Map<Path, FileLook> lastLooks = Map.of();
  private long lastLookedNanos;
  /** Staging files being committed: no sweep takes them, however long their commit waits to be counted. */
  private final java.util.Set<Path> committing = new java.util.HashSet<>();

  /**
   * {@code staleAfter}: how long a staging file may go unwritten before its upload counts as gone
   * (its asker gave up before the answer came, so nobody will commit or abort it); above the HTTP
   * server's idle timeout, which ends a live upload that long without a byte.
   */
  public static Behavior<Command> create(Path resultsDir, long maxFileBytes, long maxJobBytes, Clock clock,
      java.time.Duration staleAfter) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
      // twice a period: two looks far enough apart come within about one and a half
      timers.startTimerWithFixedDelay(new Sweep(), staleAfter.dividedBy(2));
      return new UploadActor(ctx, resultsDir, maxFileBytes, maxJobBytes, clock, staleAfter);
    }));
  }

  private UploadActor(ActorContext<Command> ctx, Path resultsDir, long maxFile, long maxJob, Clock clock,
      java.time.Duration staleAfter) {
    super(ctx);
    this.staleAfter = staleAfter;
    // the first sweep's looks are the first to compare with
    this.lastLookedNanos = System.nanoTime() - staleAfter.toNanos();
    this.resultsDir = resultsDir;
    this.staging = resultsDir.resolve(".incoming");
    this.maxFile = maxFile;
    this.maxJob = maxJob;
    this.activity = new Activity(clock);
    this.files = ctx.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig(DISPATCHER));
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Begin.class, this::onBegin)
        .onMessage(Begun.class, this::onBegun)
        .onMessage(Grow.class, this::onGrow)
        .onMessage(Commit.class, this::onCommit)
        .onMessage(Written.class, this::onWritten)
        .onMessage(Abort.class, this::onAbort)
        .onMessage(MakeFolder.class, this::onMakeFolder)
        .onMessage(FolderCounted.class, this::onFolderCounted)
        .onMessage(FolderMade.class, this::onFolderMade)
        .onMessage(Sweep.class, this::onSweep)
        .onMessage(Looked.class, this::onLooked)
        .onMessage(CommitCounted.class, this::onCommitCounted)
        .onMessage(GetStats.class, this::onGetStats)
        .build();
  }

  private Behavior<Command> onBegin(Begin b) {
    activity.touch();
    boolean known = used.containsKey(b.jobId());
    getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> {
      try {
        long onDisk = known ? -1 : sizeOf(b.jobFolder());
        Files.createDirectories(staging);
        return new Begun(b, onDisk, Files.createTempFile(staging, "upload-", "", readable(staging)), null);
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }, files), (begun, failure) -> failure == null ? begun : new Begun(b, -1, null, failure));
    return this;
  }

  /**
   * A stored result is readable as its folders are (rw-r--r--, less the umask): the staging
   * file is linked into place as it is, and a temporary file is otherwise made 0600, which
   * kept the results' web server and tools, running as other users, from reading any of them.
   */
  private static java.nio.file.attribute.FileAttribute<?>[] readable(Path staging) {
    return staging.getFileSystem().supportedFileAttributeViews().contains("posix")
        ? new java.nio.file.attribute.FileAttribute<?>[] {java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
            java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"))}
        : new java.nio.file.attribute.FileAttribute<?>[0];
  }

  private Behavior<Command> onBegun(Begun b) {
    if (b.failure() != null) {
      Throwable f = unwrap(b.failure());
      b.request().replyTo().tell(new Step(f instanceof IOException io ? UploadRefused.writeStatus(io) : 500,
          "cannot stage the upload: " + f.getMessage(), null, 0));
      return this;
    }
    long jobId = b.request().jobId();
    if (b.usedOnDisk() >= 0) {
      used.putIfAbsent(jobId, b.usedOnDisk());
    }
    long underWay = reservedByJob.getOrDefault(jobId, 0L);
    long remaining = Math.max(0, maxJob - used.getOrDefault(jobId, 0L) - underWay - ENTRY_BYTES);
    long allowed = Math.min(maxFile, remaining);
    long declared = b.request().declared();
    if (declared > allowed) {
      refused++;
      deleteLater(b.staging());
      b.request().replyTo().tell(tooLarge(declared > maxFile, jobId, underWay));
      return this;
    }
    long setAside = (declared >= 0 ? declared : 0) + ENTRY_BYTES;
    reserved.put(b.staging(), new Reservation(jobId, setAside, System.nanoTime()));
    reservedByJob.merge(jobId, setAside, Long::sum);
    b.request().replyTo().tell(new Step(200, "", b.staging(), declared >= 0 ? declared : allowed));
    return this;
  }

  private Behavior<Command> onGrow(Grow g) {
    Reservation r = reserved.get(g.staging());
    if (r == null) {
      // this actor restarted since the upload began (the sweep takes no live upload's file):
      // its share is taken back as the upload tells it, and its commit counts the job's folder
      r = new Reservation(g.jobId(), g.held() + ENTRY_BYTES, System.nanoTime());
      reserved.put(g.staging(), r);
      reservedByJob.merge(g.jobId(), r.bytes(), Long::sum);
    }
    long underWay = reservedByJob.getOrDefault(r.jobId(), 0L);
    long forJob = maxJob - used.getOrDefault(r.jobId(), 0L) - underWay;
    long forFile = maxFile + ENTRY_BYTES - r.bytes();
    long room = Math.min(forJob, forFile);
    if (room < g.needed()) {
      refused++;
      g.replyTo().tell(tooLarge(forFile < g.needed(), r.jobId(), underWay));
      return this;
    }
    // a step ahead only where it leaves room for the job's other uploads
    long more = room >= g.needed() + g.wanted() ? Math.max(g.needed(), g.wanted()) : g.needed();
    reserved.put(g.staging(), new Reservation(r.jobId(), r.bytes() + more, r.sinceNanos()));
    reservedByJob.merge(r.jobId(), more, Long::sum);
    g.replyTo().tell(new Step(200, "", g.staging(), more));
    return this;
  }

  /**
   * The 413 of an upload that would pass the largest upload ({@code fileTooLarge}) or its job's
   * limit, with {@code underWay} bytes of the job set aside for its uploads under way.
   */
  private Step tooLarge(boolean fileTooLarge, long jobId, long underWay) {
    return new Step(413, fileTooLarge
        ? "the file is larger than the largest upload (" + maxFile + " bytes)"
        : "job " + jobId + " would pass its upload limit of " + maxJob + " bytes (" + underWay
            + " of them set aside for its uploads under way)", null, 0);
  }

  /** The upload under way at {@code staging} ends: what was set aside for it is free again. */
  private void release(Path staging) {
    Reservation r = reserved.remove(staging);
    if (r != null) {
      reservedByJob.computeIfPresent(r.jobId(), (id, n) -> n - r.bytes() > 0 ? n - r.bytes() : null);
    }
  }

  /**
   * A staging file nobody writes goes, and what was set aside for it with it: an upload whose
   * asker gave up before Begin's answer came (its ask timed out) is never committed or aborted,
   * and a run that stopped (or another scheduler of a cluster sharing the results folder) leaves
   * its files behind. A file that looks the same (time and size) at two sweeps at least
   * {@code staleAfter} apart is nobody's: no live upload is that long without a byte. Nothing is
   * cleared at start, where a scheduler of a cluster would take the live uploads of the others.
   */
  private Behavior<Command> onSweep(Sweep s) {
    getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> {
      long from = System.nanoTime();
      Map<Path, FileLook> looks = new java.util.HashMap<>();
      if (Files.isDirectory(staging, LinkOption.NOFOLLOW_LINKS)) {
        try (Stream<Path> all = Files.list(staging)) {
          all.forEach(p -> {
            try {
              looks.put(p, new FileLook(Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS).toMillis(), Files.size(p)));
            } catch (IOException gone) {
              // committed or aborted meanwhile
            }
          });
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }
      return new Looked(looks, from, System.nanoTime());
    }, files), (looked, failure) -> failure == null ? looked : new Looked(null, 0, 0));
    return this;
  }

  private Behavior<Command> onLooked(Looked l) {
    if (l.looks() == null) {
      return this; // the folder could not be read: next time
    }
    // unchanged from the last looks' end to these looks' start: looks taken too soon after the
    // last (the files' thread was behind, or a listing was slow) prove nothing
    if (l.fromNanos() - lastLookedNanos < staleAfter.toNanos()) {
      return this;
    }
    for (Map.Entry<Path, FileLook> e : l.looks().entrySet()) {
      if (e.getValue().equals(lastLooks.get(e.getKey())) && !committing.contains(e.getKey())) {
        release(e.getKey());
        deleteLater(e.getKey());
      }
    }
    // set aside for a file that is gone: it was deleted under its upload, which cannot commit
    for (Path p : List.copyOf(reserved.keySet())) {
      // (one set aside after the listing began may not be in it yet)
      if (!l.looks().containsKey(p) && reserved.get(p).sinceNanos() < l.fromNanos()) {
        release(p);
      }
    }
    lastLooks = l.looks();
    lastLookedNanos = l.toNanos();
    return this;
  }

  private Behavior<Command> onCommit(Commit c) {
    activity.touch();
    committing.add(c.staging());
    if (!used.containsKey(c.jobId())) {
      // not counted (forgotten among many jobs, or this actor restarted): counted on disk first,
      // or the limit would start again from nothing
      getContext().pipeToSelf(sizeLater(c.file().subList(0, c.jobDepth())),
          (onDisk, failure) -> new CommitCounted(c, failure == null ? onDisk : -1, failure));
      return this;
    }
    return commit(c);
  }

  private Behavior<Command> onCommitCounted(CommitCounted c) {
    if (c.failure() != null) {
      release(c.request().staging());
      committing.remove(c.request().staging());
      refused++;
      deleteLater(c.request().staging());
      c.request().replyTo().tell(new Step(500, "cannot count the job's uploads: " + unwrap(c.failure()).getMessage(), null, 0));
      return this;
    }
    used.putIfAbsent(c.request().jobId(), c.usedOnDisk());
    return commit(c.request());
  }

  private Behavior<Command> commit(Commit c) {
    // its real size counts from here on, in place of what it set aside; and what the job's other
    // uploads under way set aside stays theirs
    release(c.staging());
    long before = used.getOrDefault(c.jobId(), 0L);
    long cost = c.size() + ENTRY_BYTES;
    if (before + reservedByJob.getOrDefault(c.jobId(), 0L) + cost > maxJob) {
      committing.remove(c.staging());
      refused++;
      deleteLater(c.staging());
      c.replyTo().tell(new Step(413, "job " + c.jobId() + " would pass its upload limit of " + maxJob + " bytes", null, 0));
      return this;
    }
    // counted now, so that a second upload of this job sees it; given back if the write fails
    used.put(c.jobId(), before + cost);
    java.util.concurrent.atomic.AtomicInteger made = new java.util.concurrent.atomic.AtomicInteger();
    getContext().pipeToSelf(CompletableFuture.runAsync(() -> place(c, made), files),
        (ok, failure) -> new Written(c, made.get(), failure == null ? null : unwrap(failure)));
    return this;
  }

  private void place(Commit c, java.util.concurrent.atomic.AtomicInteger made) {
    try {
      Path target = ResultPaths.prepare(resultsDir, c.file(), false, made, c.jobDepth());
      try {
        Files.createLink(target, c.staging());
      } catch (FileAlreadyExistsException e) {
        throw new UploadRefused(409, "it exists already: results are never overwritten");
      } catch (UnsupportedOperationException | IOException noLinks) {
        // a file system without hard links: a rename, which the check above guards
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
          throw new UploadRefused(409, "it exists already: results are never overwritten");
        }
        Files.move(c.staging(), target);
      }
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    } finally {
      try {
        Files.deleteIfExists(c.staging());
      } catch (IOException ignored) {
        // the sweep takes it (onSweep)
      }
    }
  }

  private Behavior<Command> onWritten(Written w) {
    Commit c = w.request();
    committing.remove(c.staging());
    // the folders it made on the way count too (they stay, whether the file landed or not): a
    // deep path is no way round the count. Counted after, they may take the job past its limit
    // by a path's depth, and its next upload is refused
    long folders = ENTRY_BYTES * w.made();
    if (w.failure() == null) {
      used.computeIfPresent(c.jobId(), (id, n) -> n + folders);
      written++;
      c.replyTo().tell(new Step(201, "stored", null, 0));
      return this;
    }
    refused++;
    used.computeIfPresent(c.jobId(), (id, n) -> Math.max(0, n - c.size() - ENTRY_BYTES) + folders);
    c.replyTo().tell(w.failure() instanceof UploadRefused r
        ? new Step(r.status(), r.getMessage(), null, 0)
        : new Step(w.failure() instanceof IOException io ? UploadRefused.writeStatus(io) : 500,
            "cannot write the file: " + w.failure().getMessage(), null, 0));
    return this;
  }

  private Behavior<Command> onAbort(Abort a) {
    release(a.staging());
    deleteLater(a.staging());
    return this;
  }

  private Behavior<Command> onMakeFolder(MakeFolder m) {
    activity.touch();
    if (used.containsKey(m.jobId())) {
      return makeFolder(m);
    }
    getContext().pipeToSelf(sizeLater(m.jobFolder()),
        (onDisk, failure) -> new FolderCounted(m, failure == null ? onDisk : -1, failure));
    return this;
  }

  private Behavior<Command> onFolderCounted(FolderCounted f) {
    if (f.failure() != null) {
      f.request().replyTo().tell(new Step(500, "cannot count the job's uploads: " + f.failure().getMessage(), null, 0));
      return this;
    }
    used.putIfAbsent(f.request().jobId(), f.usedOnDisk());
    return makeFolder(f.request());
  }

  /** Counted against the job's limit before it is made, so that two at once see each other. */
  private Behavior<Command> makeFolder(MakeFolder m) {
    long before = used.getOrDefault(m.jobId(), 0L);
    if (before + reservedByJob.getOrDefault(m.jobId(), 0L) + ENTRY_BYTES > maxJob) {
      refused++;
      m.replyTo().tell(new Step(413, "job " + m.jobId() + " would pass its upload limit of " + maxJob
          + " bytes (each file and folder counts " + ENTRY_BYTES + ")", null, 0));
      return this;
    }
    used.put(m.jobId(), before + ENTRY_BYTES);
    java.util.concurrent.atomic.AtomicInteger made = new java.util.concurrent.atomic.AtomicInteger();
    getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> {
      try {
        Path target = ResultPaths.prepare(resultsDir, m.folder(), true, made, m.jobFolder().size());
        // 409 as for a file that exists (API.md's upload row), where WebDAV and nginx say 405:
        // lkp-tests' upload.sh does not read MKCOL's status, so the contract decides
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
          return new Step(409, "the folder exists already", null, 0);
        }
        Files.createDirectory(target);
        return new Step(201, "created", null, 0);
      } catch (FileAlreadyExistsException e) {
        return new Step(409, "the folder exists already", null, 0);
      } catch (IOException e) {
        return new Step(UploadRefused.writeStatus(e), "cannot make the folder: " + e.getMessage(), null, 0);
      } catch (UploadRefused r) {
        return new Step(r.status(), r.getMessage(), null, 0);
      }
    }, files), (step, failure) -> new FolderMade(m, made.get(), failure == null ? step
        : new Step(500, "cannot make the folder: " + failure.getMessage(), null, 0)));
    return this;
  }

  private Behavior<Command> onFolderMade(FolderMade f) {
    // the folders on its way that it made count as well, as for a file's
    long folders = ENTRY_BYTES * f.made();
    if (!f.step().ok()) {
      refused++;
      used.computeIfPresent(f.request().jobId(), (id, n) -> Math.max(0, n - ENTRY_BYTES) + folders);
    } else {
      used.computeIfPresent(f.request().jobId(), (id, n) -> n + folders);
    }
    f.request().replyTo().tell(f.step());
    return this;
  }

  private Behavior<Command> onGetStats(GetStats g) {
    g.replyTo().tell(new ActorStats("uploads", Map.of("jobs_counted", (long) used.size(),
        "files_written", written, "refused", refused,
        "uploads_under_way", (long) reserved.size()), activity.messages(), activity.last()));
    return this;
  }

  private void deleteLater(Path p) {
    if (p != null) {
      CompletableFuture.runAsync(() -> {
        try {
          Files.deleteIfExists(p);
        } catch (IOException ignored) {
          // the sweep takes it (onSweep)
        }
      }, files);
    }
  }

  /** {@link #sizeOf} on the files dispatcher. */
  private CompletableFuture<Long> sizeLater(List<String> jobFolder) {
    return CompletableFuture.supplyAsync(() -> {
      try {
        return sizeOf(jobFolder);
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }, files);
  }

  /**
   * What the job's folder holds now as its limit counts it (0 when it does not exist yet): the
   * bytes of its files and {@link #ENTRY_BYTES} for each file and folder; links are not followed.
   */
  private long sizeOf(List<String> jobFolder) throws IOException {
    Path folder = resultsDir;
    for (String p : jobFolder) {
      folder = folder.resolve(ResultPaths.part(p));
    }
    if (!Files.isDirectory(folder, LinkOption.NOFOLLOW_LINKS)) {
      return 0;
    }
    try (Stream<Path> all = Files.walk(folder)) {
      // each entry below the job's folder as it was counted when it was made: its bytes and a block
      Path top = folder;
      return all.filter(p -> !p.equals(top)).mapToLong(p -> {
        try {
          return ENTRY_BYTES + (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) ? Files.size(p) : 0);
        } catch (IOException e) {
          return ENTRY_BYTES;
        }
      }).sum();
    }
  }

  private static Throwable unwrap(Throwable t) {
    return t instanceof java.util.concurrent.CompletionException && t.getCause() != null ? t.getCause() : t;
  }
}
