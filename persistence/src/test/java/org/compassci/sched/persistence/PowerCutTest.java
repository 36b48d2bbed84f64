package org.compassci.sched.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Optional;
import org.h2.store.fs.FilePath;
import org.h2.store.fs.FilePathWrapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a power cut leaves of the embedded store: its file as it was when last forced to disk.
 * H2 reaches it through a file system of this test's that copies the file aside at each force;
 * the copy, opened as a store of its own, is what the machine would find after the cut. With
 * {@code store-sync = commit} every commit is there as soon as it returns; with {@code second}
 * it may not be (the periodic sync runs from the store's actor, not here).
 */
class PowerCutTest {

  @TempDir Path dir;

  @BeforeAll
  static void register() {
    FilePath.register(new ForcedOnly());
  }

  @Test
  void aCommitIsOnTheDiskOnceItReturns() throws Exception {
    try (JdbcJobStore store = JdbcJobStore.embeddedAt(ForcedOnly.SCHEME + ":" + dir.resolve("jobs"), 2, true)) {
      store.insert(List.of(JobStoreContract.rec(1, "submit")));
      assertEquals(Optional.of("submit"), afterACut().map(JobRecord::stage), "the submit");
      Claim claim = new Claim(1, "box-1", "hash", 2000);
      assertEquals(1, store.claim(List.of(claim)).size());
      assertEquals(Optional.of("dispatch"), afterACut().map(JobRecord::stage), "the hand-out");
    }
  }

  @Test
  void onceASecondACommitCanBeLost() throws Exception {
    try (JdbcJobStore store = JdbcJobStore.embeddedAt(ForcedOnly.SCHEME + ":" + dir.resolve("jobs"), 2, false)) {
      store.insert(List.of(JobStoreContract.rec(1, "submit")));
      assertTrue(afterACut().isEmpty(), "not forced: the submit is only in the system's cache");
      store.sync();
      assertTrue(afterACut().isPresent(), "forced by the once-a-second sync");
    }
  }

  /** Job 1 as a store opened on the last forced copy of the file finds it. */
  private Optional<JobRecord> afterACut() throws IOException {
    Path forced = dir.resolve("jobs.mv.db" + ForcedOnly.SUFFIX);
    if (!Files.exists(forced)) {
      return Optional.empty();
    }
    Path restarted = Files.createTempDirectory(dir, "after-the-cut");
    Files.copy(forced, restarted.resolve("jobs.mv.db"));
    try (JdbcJobStore store = JdbcJobStore.embedded(restarted, 1)) {
      return store.find(1);
    }
  }

  /** Files as the disk holds them: each is copied aside (SUFFIX) whenever H2 forces it. */
  public static final class ForcedOnly extends FilePathWrapper {
    static final String SCHEME = "forcedonly";
    static final String SUFFIX = ".forced";

    @Override
    public String getScheme() {
      return SCHEME;
    }

    @Override
    public FileChannel open(String mode) throws IOException {
      Path file = Path.of(getBase().toString());
      return new Forced(getBase().open(mode), file);
    }
  }

  private static final class Forced extends FileChannel {
    private final FileChannel base;
    private final Path file;

    Forced(FileChannel base, Path file) {
      this.base = base;
      this.file = file;
    }

    @Override
    public void force(boolean metaData) throws IOException {
      base.force(metaData);
      if (file.getFileName().toString().endsWith(".mv.db")) {
        Files.copy(file, file.resolveSibling(file.getFileName() + ForcedOnly.SUFFIX), StandardCopyOption.REPLACE_EXISTING);
      }
    }

    @Override public int read(ByteBuffer dst) throws IOException { return base.read(dst); }
    @Override public long read(ByteBuffer[] dsts, int offset, int length) throws IOException { return base.read(dsts, offset, length); }
    @Override public int write(ByteBuffer src) throws IOException { return base.write(src); }
    @Override public long write(ByteBuffer[] srcs, int offset, int length) throws IOException { return base.write(srcs, offset, length); }
    @Override public long position() throws IOException { return base.position(); }
    @Override public FileChannel position(long p) throws IOException { base.position(p); return this; }
    @Override public long size() throws IOException { return base.size(); }
    @Override public FileChannel truncate(long size) throws IOException { base.truncate(size); return this; }
    @Override public long transferTo(long position, long count, WritableByteChannel target) throws IOException { return base.transferTo(position, count, target); }
    @Override public long transferFrom(ReadableByteChannel src, long position, long count) throws IOException { return base.transferFrom(src, position, count); }
    @Override public int read(ByteBuffer dst, long position) throws IOException { return base.read(dst, position); }
    @Override public int write(ByteBuffer src, long position) throws IOException { return base.write(src, position); }
    @Override public MappedByteBuffer map(MapMode mode, long position, long size) throws IOException { return base.map(mode, position, size); }
    @Override public FileLock lock(long position, long size, boolean shared) throws IOException { return base.lock(position, size, shared); }
    @Override public FileLock tryLock(long position, long size, boolean shared) throws IOException { return base.tryLock(position, size, shared); }
    @Override protected void implCloseChannel() throws IOException { base.close(); }
  }
}
