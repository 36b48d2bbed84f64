package org.compassci.sched.extract;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.ServiceLoader;
import java.util.stream.Collectors;
import java.util.stream.StreamSupport;
import org.compassci.sched.model.Json;

/** Runs every plugin over one job; plain Java, called on the extract dispatcher. */
public final class Extraction {

  /** The stats found, or the first plugin's error; never both. */
  public record Result(ObjectNode stats, String error) {
    public boolean ok() {
      return error == null;
    }
  }

  private final List<ExtractPlugin> plugins;
  private final Path resultsDir;
  private final String resultsRoot;

  public Extraction(List<ExtractPlugin> plugins, Path resultsDir, String resultsRoot) {
    this.plugins = plugins.stream().sorted(Comparator.comparing(ExtractPlugin::name)).collect(Collectors.toList());
    this.resultsDir = resultsDir;
    this.resultsRoot = resultsRoot;
  }

  /** The plugins on the class path, the built-in one included. */
  public static List<ExtractPlugin> installed() {
    return StreamSupport.stream(ServiceLoader.load(ExtractPlugin.class).spliterator(), false)
        .collect(Collectors.toList());
  }

  public List<String> pluginNames() {
    return plugins.stream().map(ExtractPlugin::name).collect(Collectors.toList());
  }

  /** Where the job's results are on this machine: the results folder plus its result_root. */
  Path folderOf(ObjectNode job) {
    String root = job.path("result_root").asText("");
    String relative = root.startsWith(resultsRoot) ? root.substring(resultsRoot.length()) : root;
    Path folder = resultsDir.resolve(relative.replaceFirst("^/+", "")).normalize();
    if (!folder.startsWith(resultsDir)) {
      throw new IllegalArgumentException("result_root " + root + " leaves the results folder");
    }
    // resolved on disk too: a symbolic link inside the results folder must not lead out of it
    try {
      if (java.nio.file.Files.exists(folder) && !folder.toRealPath().startsWith(resultsDir.toRealPath())) {
        throw new IllegalArgumentException("result_root " + root + " leads out of the results folder");
      }
    } catch (java.io.IOException e) {
      throw new IllegalArgumentException("result_root " + root + " cannot be resolved: " + e.getMessage());
    }
    return folder;
  }

  /**
   * The most statistics a job keeps, as JSON: they go into its stored row, and a row past the
   * database's packet size (MySQL's max_allowed_packet) failed its commit, and with it every
   * write batched with it, again each time the kept writes were replayed.
   */
  public static final int MAX_STATS_BYTES = 1 << 20;

  public Result run(ObjectNode job) {
    ObjectNode stats = Json.object();
    for (ExtractPlugin p : plugins) {
      try {
        p.extract(job, folderOf(job), stats);
      } catch (Exception e) {
        return new Result(null, p.name() + ": " + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()));
      }
    }
    String text = stats.toString();
    int bytes = text.length();
    if (bytes > MAX_STATS_BYTES) {
      return new Result(null, "statistics of " + stats.size() + " keys, " + bytes + " characters as JSON, more than the "
          + MAX_STATS_BYTES + " a job keeps");
    }
    try {
      // as every later read of the job reads them, one level down in its document: what that
      // read refuses (a name past 50,000 characters, a number past 1,000 digits, a plugin's
      // nesting) made the job unreadable for good, a 500 at each read and no load at a restart
      Json.parse("{\"stats\":" + text + "}");
    } catch (IllegalArgumentException e) {
      return new Result(null, "statistics that cannot be read back: " + e.getMessage());
    }
    return new Result(stats, null);
  }
}
