package org.compassci.sched.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.Writer;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.compassci.sched.fixtures.Lab;
import org.compassci.sched.model.Json;

/**
 * The data of {@code scripts/bench.sh http}; wrk and curl do the HTTP. Everything comes from one
 * {@link Lab} (seed 1, 1,000 testboxes, the layout of the matcher line):
 *
 * <pre>
 *   HttpBenchDriver DIR    DIR/boxes.lua    the 1,000 dispatch query strings, as a Lua array
 *                          DIR/jobs.lua     5,000 job documents for single submits, as a Lua array
 *                          DIR/fill/NNN.json  240 JSON arrays of 500 jobs each, for bulk submits
 *                                           (the queue is filled from them, in order, round robin)
 * </pre>
 */
public final class HttpBenchDriver {

  static final long SEED = 1;
  static final int BOXES = 1_000;
  static final int BATCH = 500;
  static final int FILL_BATCHES = 240;
  static final int SUBMIT_BODIES = 5_000;

  private HttpBenchDriver() {}

  public static void main(String[] args) throws IOException {
    if (args.length != 1) {
      System.err.println("usage: HttpBenchDriver DIR");
      System.exit(2);
    }
    Path dir = Path.of(args[0]);
    long t0 = System.nanoTime();
    int fillJobs = FILL_BATCHES * BATCH;
    Lab lab = Lab.generate(SEED, fillJobs + SUBMIT_BODIES, BOXES);
    List<ObjectNode> jobs = lab.jobs();

    List<String> queries = new ArrayList<>(BOXES);
    for (Map<String, String> q : lab.boxQueries()) {
      queries.add(query(q));
    }
    luaArray(dir.resolve("boxes.lua"), queries);

    List<String> bodies = new ArrayList<>(SUBMIT_BODIES);
    long bytes = 0;
    for (ObjectNode j : jobs.subList(fillJobs, jobs.size())) {
      String s = Json.write(j);
      bytes += s.getBytes(StandardCharsets.UTF_8).length;
      bodies.add(s);
    }
    luaArray(dir.resolve("jobs.lua"), bodies);

    Path fill = Files.createDirectories(dir.resolve("fill"));
    for (int b = 0; b < FILL_BATCHES; b++) {
      try (Writer w = Files.newBufferedWriter(fill.resolve(String.format("%03d.json", b)),
          StandardCharsets.UTF_8)) {
        w.write('[');
        for (int i = b * BATCH; i < (b + 1) * BATCH; i++) {
          w.write(i > b * BATCH ? ",\n" : "");
          w.write(Json.write(jobs.get(i)));
        }
        w.write("]\n");
      }
    }
    System.err.printf("bench: %d box queries, %d single-job bodies of %d bytes on average,"
            + " %d arrays of %d jobs, in %.1f s%n", queries.size(), bodies.size(),
        bytes / bodies.size(), FILL_BATCHES, BATCH, (System.nanoTime() - t0) / 1e9);
  }

  /** hostname=..&arch=..&tbox_type=..&tbox_group=..&freemem=..&tags=.., values URL-encoded. */
  static String query(Map<String, String> q) {
    StringBuilder sb = new StringBuilder();
    for (Map.Entry<String, String> e : q.entrySet()) {
      if (sb.length() > 0) {
        sb.append('&');
      }
      sb.append(e.getKey()).append('=').append(URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8));
    }
    return sb.toString();
  }

  /** A Lua chunk that returns an array of strings, one per line. */
  private static void luaArray(Path file, List<String> items) throws IOException {
    try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
      w.write("return {\n");
      for (String s : items) {
        w.write('"');
        for (int i = 0; i < s.length(); i++) {
          char c = s.charAt(i);
          switch (c) {
            case '\\' -> w.write("\\\\");
            case '"' -> w.write("\\\"");
            case '\n' -> w.write("\\n");
            case '\r' -> w.write("\\r");
            default -> w.write(c);
          }
        }
        w.write("\",\n");
      }
      w.write("}\n");
    }
  }
}
