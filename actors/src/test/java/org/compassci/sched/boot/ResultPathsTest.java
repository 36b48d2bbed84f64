package org.compassci.sched.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ResultPathsTest {

  static final String ROOT = "/result/hackbench/2026-11-29/vm-2p8g/42";

  @TempDir Path dir;

  @Test
  void aPathBelowTheResultRootIsTaken() {
    List<String> parts = ResultPaths.parts(ROOT + "/sub/stats%20file.json", false);
    assertEquals(List.of("sub", "stats file.json"), ResultPaths.below(ROOT, parts));
    assertEquals(List.of("dir"), ResultPaths.below(ROOT, ResultPaths.parts(ROOT + "/dir/", true)));
  }

  @Test
  void traversalAbsolutePathsNulAndHiddenSlashesAre403() {
    for (String p : new String[] {ROOT + "/../43/x", ROOT + "/%2e%2e/43/x", ROOT + "//etc/passwd",
        ROOT + "/a%00b", ROOT + "/a%0Ab", ROOT + "/a%2fb", ROOT + "/a%5cb", ROOT + "/./x", ROOT + "/x/", ROOT + "/%zz",
        ROOT + "/%c3%28", "relative/x", ROOT + "/" + "a".repeat(256)}) {
      UploadRefused e = assertThrows(UploadRefused.class,
          () -> ResultPaths.below(ROOT, ResultPaths.parts(p, false)), p);
      assertEquals(403, e.status(), p + ": " + e.getMessage());
    }
  }

  /**
   * A name the file system cannot spell is refused with the others, before anything is staged:
   * here an unpaired surrogate, which no encoding spells; on a JVM without a UTF-8 locale, any
   * name outside ASCII ("中.log"). It used to get through and fail on disk, a 500.
   */
  @Test
  void aNameTheFileSystemCannotSpellIs403() {
    UploadRefused e = assertThrows(UploadRefused.class, () -> ResultPaths.part("stats\uD800.json"));
    assertEquals(403, e.status());
    assertTrue(e.getMessage().contains("cannot hold"), e.getMessage());
  }

  @Test
  void anotherJobsFolderIs403() {
    UploadRefused e = assertThrows(UploadRefused.class, () -> ResultPaths.below(ROOT,
        ResultPaths.parts("/result/hackbench/2026-11-29/vm-2p8g/4/x", false)));
    assertEquals(403, e.status());
    e = assertThrows(UploadRefused.class, () -> ResultPaths.below(ROOT,
        ResultPaths.parts("/result/hackbench/2026-11-29/vm-2p8g/421/x", false)));
    assertEquals(403, e.status());
  }

  @Test
  void onDiskFoldersAreMadeAndLinksAndExistingFilesRefused() throws Exception {
    Path results = dir.resolve("results");
    Path target = ResultPaths.prepare(results, List.of("a", "b", "c.txt"), false);
    assertEquals(results.toRealPath().resolve("a/b/c.txt"), target);
    assertTrue(Files.isDirectory(results.resolve("a/b")));

    Files.writeString(target, "x");
    assertEquals(409, assertThrows(UploadRefused.class,
        () -> ResultPaths.prepare(results, List.of("a", "b", "c.txt"), false)).status());
    assertEquals(409, assertThrows(UploadRefused.class,
        () -> ResultPaths.prepare(results, List.of("a", "b", "c.txt", "d"), false)).status());

    Path outside = Files.createDirectories(dir.resolve("outside"));
    Files.createSymbolicLink(results.resolve("a/link"), outside);
    assertEquals(403, assertThrows(UploadRefused.class,
        () -> ResultPaths.prepare(results, List.of("a", "link", "x"), false)).status());
    Files.createSymbolicLink(results.resolve("a/file-link"), outside.resolve("f"));
    assertEquals(403, assertThrows(UploadRefused.class,
        () -> ResultPaths.prepare(results, List.of("a", "file-link"), false)).status());
    assertTrue(!Files.exists(outside.resolve("x")) && !Files.exists(outside.resolve("f")));
  }

  @Test
  void aJobsFolderIsFoundBelowTheResultsFolder() {
    assertEquals(dir.resolve("hackbench/2026-11-29/vm-2p8g/42"), ResultPaths.folderOf(dir, "/result", ROOT));
    assertEquals(403, assertThrows(UploadRefused.class,
        () -> ResultPaths.folderOf(dir, "/result", "/result/../../../etc/2026-11-29/vm-2p8g/1")).status());
  }
}
