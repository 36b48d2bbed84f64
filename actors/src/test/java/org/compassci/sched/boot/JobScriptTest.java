package org.compassci.sched.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.compassci.sched.model.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** job.sh as the box's sh reads it: the script is run by the real /bin/sh. */
class JobScriptTest {

  static final String NASTY = "it's $(touch PWNED) `touch PWNED2` \\\" \"$HOME\" ; x=1\nline2";

  @TempDir Path dir;

  private ObjectNode job() {
    ObjectNode j = (ObjectNode) Json.parse("{\"suite\":\"hackbench\",\"id\":\"26112900000000101\","
        + "\"job_token\":\"abc\",\"result_root\":\"/result/hackbench/2026-11-29/bm/26112900000000101\","
        + "\"#! jobs/hackbench.yaml\":null,\"hw.memory\":\"8G\",\"nr_threads\":8,\"ratio\":0.5,\"os_version\":1.0,\"big\":2.50,"
        + "\"flag\":true,\"PATH\":\"/evil\",\"vars\":\"v\",\"name\":\"n\",\"list\":[\"a\",\"b\"],"
        + "\"services\":{\"LKP_SERVER\":\"10.0.2.2\",\"sched_port\":\"3000\"},"
        + "\"hw\":{\"nr_cpu\":2},"
        + "\"program\":{\"hackbench\":{\"mode\":\"threads\",\"ipc\":\"it's\",\"1st\":1,\"a-b\":\"\",\"if\":\"[ -n \\\"$x\\\" ]\"}},"
        + "\"setup\":{\"cpufreq_governor\":null,\"sysctl\":{\"pre-script\":\"echo pre\",\"sc\":{\"vm.x\":1}}}}");
    j.put("nasty", NASTY);
    return j;
  }

  private String sh(String script, String commands) throws Exception {
    Path f = dir.resolve("job.sh");
    Files.writeString(f, script);
    Process p = new ProcessBuilder("sh", "-c", ". ./job.sh; " + commands)
        .directory(dir.toFile()).redirectErrorStream(true).start();
    assertTrue(p.waitFor(20, TimeUnit.SECONDS), "sh did not finish");
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.exitValue(), out);
    return out;
  }

  @Test
  void exportTopEnvGivesEveryValueExactlyAndRunsNothing() throws Exception {
    String script = JobScript.render(job(), null);
    assertTrue(script.startsWith("#!/bin/sh\n"));
    assertTrue(script.endsWith("\"$@\"\n"));
    String out = sh(script, "export_top_env; printf '%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s\\n' \"$id\" \"$job_token\" "
        + "\"$result_root\" \"$nr_threads\" \"$ratio\" \"$flag\" \"$LKP_SERVER\" \"$nr_cpu\" \"$LKP_SRC\" \"$os_version\" \"$big\"; "
        + "printf '%s' \"$nasty\" > nasty.out; printf '%s' \"$list\" > list.out; echo \"PATH=$PATH\"");
    assertTrue(out.contains("26112900000000101|abc|/result/hackbench/2026-11-29/bm/26112900000000101|8|0.5|true|10.0.2.2|2|/lkp/lkp/src|1.0|2.5"), out);
    assertEquals(NASTY, Files.readString(dir.resolve("nasty.out")));
    assertEquals("a\nb", Files.readString(dir.resolve("list.out")));
    assertFalse(out.contains("PATH=/evil"), "a job cannot set PATH on the box: " + out);
    assertFalse(Files.exists(dir.resolve("PWNED")) || Files.exists(dir.resolve("PWNED2")));
    assertFalse(script.contains("hw.memory"), "not a shell name: job.yaml only");
  }

  @Test
  void readJobVarsGivesAllOrTheNamedOnesAndMayBeCalledTwice() throws Exception {
    String script = JobScript.render(job(), null);
    String all = sh(script, "read_job_vars; read_job_vars; printf '%s|%s|%s|%s\\n' \"$id\" \"$job_token\" \"$vars\" \"$name\"; "
        + "printf '%s' \"$nasty\" > nasty.out");
    assertTrue(all.contains("26112900000000101|abc|v|n"), all);
    assertEquals(NASTY, Files.readString(dir.resolve("nasty.out")));
    String some = sh(script, "read_job_vars id suite; printf '%s|%s|%s\\n' \"$id\" \"$suite\" \"${job_token-unset}\"");
    assertTrue(some.contains("26112900000000101|hackbench|unset"), some);
    String both = sh(script, "export_top_env; read_job_vars; echo \"$job_token\"");
    assertTrue(both.contains("abc"), both);
  }

  @Test
  void runJobIsWrittenFromTheJobsSections() throws Exception {
    String script = JobScript.render(job(), null);
    assertTrue(script.contains("\trun_setup cpufreq_governor\n"), script);
    assertTrue(script.contains("\techo pre\n\tvm_46_x=1 run_setup sysctl\n"), script);
    assertTrue(script.contains("\tif [ -n \"$x\" ]\n\tthen\n\t\tmode=threads ipc='it'\\''s' _49_st=1 a_45_b='' run_program hackbench\n\tfi\n"), script);
    // the script is valid sh: define the helpers it calls and run it
    String out = sh(script, "TMP=.; LKP_SRC=$PWD/lkp; mkdir -p lkp/lib; for f in http job env; do : > lkp/lib/$f.sh; done; "
        + "run_setup() { echo \"setup $*\"; }; run_program() { echo \"program $* mode=$mode ipc=$ipc\"; }; x=1; run_job");
    assertTrue(out.contains("program hackbench mode=threads ipc=it's"), out);
  }

  @Test
  void lkpTestsOwnFunctionsAreUsedWhenTheJobCarriesThem() throws Exception {
    ObjectNode j = job();
    j.set("job2sh", Json.parse("{\"run_job\":[\"run_job()\",\"{\",null,\"\\texport_top_env\",\"\\techo ran $suite\",\"}\"],"
        + "\"extract_stats\":[\"extract_stats()\",\"{\",\"\\techo stats\",\"}\"]}"));
    String script = JobScript.render(j, j.get("job2sh"));
    assertFalse(script.contains("run_program"), script);
    assertTrue(script.contains("run_job()\n{\n\n\texport_top_env\n"), script);
    assertEquals("ran hackbench\n", sh(script, "run_job"));
    assertEquals("stats\n", sh(script, "extract_stats"));
  }
}
