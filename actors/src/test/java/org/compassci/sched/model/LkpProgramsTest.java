package org.compassci.sched.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** lkp-tests' programs found in its tree, and put where job.sh runs them. */
class LkpProgramsTest {

  @TempDir Path dir;

  private Path tree(String... executables) throws Exception {
    Path tree = dir.resolve("lkp");
    for (String f : executables) {
      Path p = tree.resolve(f);
      Files.createDirectories(p.getParent());
      Files.writeString(p, "#!/bin/sh\n");
      p.toFile().setExecutable(true);
    }
    return tree;
  }

  /** The later layout: programs/NAME/ and the script that tells its kind; setup wins, as in lkp-tests. */
  @Test
  void theProgramsLayoutIsReadByTheScriptEachFolderHolds() throws Exception {
    Path tree = tree("programs/hackbench/run", "programs/vmstat/monitor", "programs/boot-time/no-stdout-monitor",
        "programs/sshd/daemon", "programs/cpufreq_governor/setup", "programs/both/setup", "programs/both/run",
        "programs/docs-only/README");
    Files.writeString(tree.resolve("programs/notes.yaml"), "");
    LkpPrograms p = LkpPrograms.scan(tree);
    ObjectNode job = (ObjectNode) Json.parse("{\"suite\":\"s\",\"hackbench\":{\"mode\":\"process\"},"
        + "\"vmstat\":{\"interval\":5},\"boot-time\":null,\"sshd\":{},\"cpufreq_governor\":\"performance\","
        + "\"both\":{},\"docs-only\":{\"x\":1},\"program\":{\"first\":null}}");
    p.place(job);
    assertEquals(List.of("first", "hackbench"), names(job, "program"));
    assertEquals(List.of("vmstat", "boot-time"), names(job, "monitor"));
    assertEquals(List.of("cpufreq_governor", "both"), names(job, "setup"));
    assertEquals(List.of("sshd"), names(job, "daemon"));
    assertEquals("performance", job.path("cpufreq_governor").asText(), "a scalar stays exported");
    assertEquals(1, job.path("docs-only").path("x").asInt(), "no script: not a program");
    assertFalse(job.has("hackbench"));
    assertTrue(LkpPrograms.runsSomething(job));
  }

  /** A job that carries lkp-tests' own functions, lists left by the expansion, and keys job2sh reads itself stay. */
  @Test
  void whatIsNoProgramsToMoveStays() throws Exception {
    LkpPrograms p = LkpPrograms.scan(tree("tests/hackbench", "tests/pp", "monitors/vmstat", "tests/wrapper"));
    ObjectNode withJob2sh = (ObjectNode) Json.parse("{\"hackbench\":{},\"job2sh\":{\"run_job\":[\"x\"]}}");
    assertEquals(withJob2sh.deepCopy(), p.place(withJob2sh));
    ObjectNode job = (ObjectNode) Json.parse("{\"hackbench\":[1,2],\"pp\":{\"hackbench\":{}},\"vmstat\":{},"
        + "\"monitor\":\"not a map\",\"wrapper\":{}}");
    p.place(job);
    assertTrue(job.path("hackbench").isArray(), job.toString());
    assertTrue(job.has("pp") && job.has("vmstat") && job.has("wrapper"), job.toString());
    assertFalse(LkpPrograms.runsSomething(job));
    assertEquals(List.of("vmstat", "wrapper"), LkpPrograms.likelyPrograms(job), "pp is never a program");
  }

  @Test
  void aFolderThatIsNoLkpTestsTreeIsSaidToBe() throws Exception {
    assertThrows(IllegalArgumentException.class, () -> LkpPrograms.scan(dir.resolve("nowhere")));
    Files.createDirectories(dir.resolve("empty"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> LkpPrograms.scan(dir.resolve("empty")));
    assertTrue(e.getMessage().contains("not an lkp-tests tree"), e.getMessage());
  }

  private static List<String> names(ObjectNode job, String section) {
    List<String> out = new java.util.ArrayList<>();
    job.path(section).fieldNames().forEachRemaining(out::add);
    return out;
  }
}
