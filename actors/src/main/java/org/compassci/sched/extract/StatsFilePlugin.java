package org.compassci.sched.extract;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import org.compassci.sched.model.Json;

/**
 * The built-in plugin: the job's result folder holds {@code stats.json} (an object) or
 * {@code stats} ({@code key: value} lines, as lkp-tests writes them); numbers stay numbers.
 */
public final class StatsFilePlugin implements ExtractPlugin {

  /**
   * The largest statistics file read: uploads may be 256 MiB, and two such files extracted at
   * once, read whole into the heap, could run it out; lkp-tests' own stats run to some 100 KB.
   */
  public static final long MAX_FILE_BYTES = 4L << 20;

  @Override
  public String name() {
    return "stats-file";
  }

  @Override
  public void extract(ObjectNode job, Path resultDir, ObjectNode stats) throws Exception {
    Path json = resultDir.resolve("stats.json");
    Path lines = resultDir.resolve("stats");
    for (Path f : List.of(json, lines)) {
      long size = Files.isRegularFile(f) ? Files.size(f) : 0;
      if (size > MAX_FILE_BYTES) {
        throw new IllegalArgumentException(f + ": " + size + " bytes, more than the "
            + MAX_FILE_BYTES + " a statistics file may have");
      }
    }
    if (Files.isRegularFile(json)) {
      JsonNode tree = Json.parse(Files.readAllBytes(json));
      if (!tree.isObject()) {
        throw new IllegalArgumentException(json + " is not a JSON object");
      }
      stats.setAll((ObjectNode) tree);
    } else if (Files.isRegularFile(lines)) {
      List<String> all = Files.readAllLines(lines, StandardCharsets.UTF_8);
      for (String line : all) {
        int colon = line.indexOf(':');
        if (line.isBlank() || line.startsWith("#")) {
          continue;
        }
        if (colon <= 0) {
          throw new IllegalArgumentException(lines + ": '" + line + "' is not key: value");
        }
        String key = line.substring(0, colon).trim();
        String value = line.substring(colon + 1).trim();
        try {
          stats.put(key, new java.math.BigDecimal(value));
        } catch (NumberFormatException text) {
          stats.put(key, value);
        }
      }
    } else {
      throw new NoSuchFileException(resultDir + "/stats.json", null, "no stats.json or stats");
    }
  }
}
