package org.compassci.sched.extract;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
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
   * Twice what a job keeps ({@link Extraction#MAX_STATS_BYTES}), for a stats.json laid out with
   * spaces: a file of 4 MiB in short lines took some 100 MB of heap before it was refused.
   */
  public static final long MAX_FILE_BYTES = 2L * Extraction.MAX_STATS_BYTES;

  /**
   * The longest value read as a number: the JSON reader that reads the job back takes no longer
   * one (Jackson's own limit), and a BigDecimal of millions of digits takes seconds to make.
   */
  static final int MAX_NUMBER_LENGTH = 1_000;

  @Override
  public String name() {
    return "stats-file";
  }

  @Override
  public void extract(ObjectNode job, Path resultDir, ObjectNode stats) throws Exception {
    Path json = resultDir.resolve("stats.json");
    Path lines = resultDir.resolve("stats");
    for (Path f : List.of(json, lines)) {
      if (Files.isSymbolicLink(f)) {
        // a folder may hold what a job left there by other ways than an upload: a link could
        // lead to any file the scheduler may read, which would become the job's statistics
        throw new IllegalArgumentException(f + " is a symbolic link: statistics are read from the job's own files");
      }
    }
    if (Files.isRegularFile(json, LinkOption.NOFOLLOW_LINKS)) {
      JsonNode tree = Json.parse(read(json));
      if (!tree.isObject()) {
        throw new IllegalArgumentException(json + " is not a JSON object");
      }
      stats.setAll((ObjectNode) tree);
    } else if (Files.isRegularFile(lines, LinkOption.NOFOLLOW_LINKS)) {
      List<String> all = new String(read(lines), StandardCharsets.UTF_8).lines().toList();
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
          if (value.length() > MAX_NUMBER_LENGTH) {
            throw new NumberFormatException("kept as text");
          }
          stats.put(key, new java.math.BigDecimal(value));
        } catch (NumberFormatException text) {
          stats.put(key, value);
        }
      }
    } else {
      throw new NoSuchFileException(resultDir + "/stats.json", null, "no stats.json or stats");
    }
  }

  /** The file's bytes, up to the limit: its size as the folder says is not trusted (a file in /proc says 0). */
  private static byte[] read(Path f) throws java.io.IOException {
    try (java.io.InputStream in = Files.newInputStream(f, LinkOption.NOFOLLOW_LINKS)) {
      byte[] bytes = in.readNBytes((int) MAX_FILE_BYTES + 1);
      if (bytes.length > MAX_FILE_BYTES) {
        throw new IllegalArgumentException(f + ": more than the " + MAX_FILE_BYTES
            + " bytes a statistics file may have");
      }
      return bytes;
    }
  }
}
