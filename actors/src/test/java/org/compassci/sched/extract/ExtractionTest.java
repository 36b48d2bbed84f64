package org.compassci.sched.extract;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import org.compassci.sched.model.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExtractionTest {

  @TempDir Path results;

  private ObjectNode job(String root) {
    return Json.object().put("id", "7").put("result_root", root);
  }

  @Test
  void theBuiltInPluginIsFoundAndReadsStatsJson() throws Exception {
    Extraction x = new Extraction(Extraction.installed(), results, "/result");
    assertTrue(x.pluginNames().contains("stats-file"));
    Path folder = Files.createDirectories(results.resolve("fio/2026-11-28/g/7"));
    Files.writeString(folder.resolve("stats.json"), "{\"iops\": 52000, \"ok\": true}");
    Extraction.Result r = x.run(job("/result/fio/2026-11-28/g/7"));
    assertTrue(r.ok(), r.error());
    assertEquals(52000, r.stats().path("iops").asInt());
  }

  @Test
  void aMissingOrBrokenFileIsAnErrorNotACrash() throws Exception {
    Extraction x = new Extraction(Extraction.installed(), results, "/result");
    assertFalse(x.run(job("/result/none/7")).ok());
    Path folder = Files.createDirectories(results.resolve("bad/7"));
    Files.writeString(folder.resolve("stats"), "no colon here\n");
    Extraction.Result r = x.run(job("/result/bad/7"));
    assertFalse(r.ok());
    assertTrue(r.error().startsWith("stats-file:"), r.error());
  }

  /** Statistics too large for a job's row, or a file too large to read whole, are an error. */
  @Test
  void statisticsPastTheirLimitsAreAnErrorNotARowTheStoreRefuses() throws Exception {
    Extraction x = new Extraction(Extraction.installed(), results, "/result");
    Path many = Files.createDirectories(results.resolve("many/7"));
    StringBuilder lines = new StringBuilder();
    for (int i = 0; lines.length() <= Extraction.MAX_STATS_BYTES; i++) {
      lines.append("netperf.throughput.").append(i).append(": ").append(i * 7).append('\n');
    }
    Files.writeString(many.resolve("stats"), lines);
    Extraction.Result r = x.run(job("/result/many/7"));
    assertFalse(r.ok());
    assertTrue(r.error().contains("a job keeps"), r.error());

    Path huge = Files.createDirectories(results.resolve("huge/7"));
    try (var out = Files.newOutputStream(huge.resolve("stats.json"))) {
      out.write('{');
      byte[] pad = " ".repeat(1 << 16).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
      for (long n = 0; n <= StatsFilePlugin.MAX_FILE_BYTES; n += pad.length) {
        out.write(pad);
      }
      out.write('}');
    }
    Extraction.Result big = x.run(job("/result/huge/7"));
    assertFalse(big.ok());
    assertTrue(big.error().contains("a statistics file may have"), big.error());
  }

  @Test
  void aResultRootCannotLeaveTheResultsFolder() {
    Extraction x = new Extraction(Extraction.installed(), results, "/result");
    Extraction.Result r = x.run(job("/result/../../etc"));
    assertFalse(r.ok());
    assertTrue(r.error().contains("leaves the results folder"), r.error());
  }

  /**
   * What a job keeps is read back whole at each later read of it: statistics the JSON reader
   * refuses (a number past its 1,000 digits, a name past its 50,000 characters) made every read
   * of the job a 500, and a job still running at a restart was never loaded again.
   */
  @Test
  void statisticsAreKeptOnlyAsTheJobCanBeReadBack() throws Exception {
    Extraction x = new Extraction(Extraction.installed(), results, "/result");
    Path digits = Files.createDirectories(results.resolve("digits/7"));
    String longNumber = "9".repeat(1_001);
    Files.writeString(digits.resolve("stats"), "x: " + longNumber + "\ny: 12.5\n");
    Extraction.Result r = x.run(job("/result/digits/7"));
    assertTrue(r.ok(), r.error());
    assertEquals(longNumber, r.stats().path("x").asText(), "kept as the text it is");
    assertTrue(r.stats().path("y").isNumber());
    assertReadBack(r.stats());

    Path name = Files.createDirectories(results.resolve("name/7"));
    Files.writeString(name.resolve("stats"), "n".repeat(60_000) + ": 1\n");
    Extraction.Result named = x.run(job("/result/name/7"));
    assertFalse(named.ok());
    assertTrue(named.error().contains("cannot be read back"), named.error());
  }

  private static void assertReadBack(ObjectNode stats) {
    org.compassci.sched.model.Job job = org.compassci.sched.model.Job.submitted(
        org.compassci.sched.model.JobIntake.prepare(Json.parse("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}")),
        7, java.time.Instant.now(), "/result");
    job.putStats(stats);
    assertEquals(stats, org.compassci.sched.model.Job.fromRecord(job.toRecord()).view().get("stats"));
  }

  /** A statistics file is read only as a file of the job's own folder, never through a link. */
  @Test
  void aStatisticsFileThatIsALinkIsNotFollowed() throws Exception {
    Extraction x = new Extraction(Extraction.installed(), results, "/result");
    Path secret = Files.writeString(Files.createTempFile("secret", ".yaml"), "password: hunter2\n");
    try {
      Path folder = Files.createDirectories(results.resolve("link/7"));
      Files.createSymbolicLink(folder.resolve("stats"), secret);
      Extraction.Result r = x.run(job("/result/link/7"));
      assertFalse(r.ok(), String.valueOf(r.stats()));
      assertTrue(r.error().contains("link"), r.error());
    } finally {
      Files.delete(secret);
    }
  }
}
