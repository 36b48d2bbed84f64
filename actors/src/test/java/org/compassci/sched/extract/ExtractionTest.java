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
}
