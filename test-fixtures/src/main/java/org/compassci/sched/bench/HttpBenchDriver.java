package org.compassci.sched.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.Writer;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.compassci.sched.fixtures.HttpCalls;
import org.compassci.sched.fixtures.Lab;
import org.compassci.sched.model.Json;

/**
 * The data side of {@code scripts/bench.sh http}; wrk does the load. Everything comes from the
 * same {@link Lab} as the matcher line (seed 1, 100,000 jobs, 1,000 testboxes).
 *
 * <pre>
 *   HttpBenchDriver lua DIR          DIR/boxes.lua: the 1,000 dispatch query strings;
 *                                    DIR/jobs.lua: job documents for single submits
 *   HttpBenchDriver fill URL TARGET DIR
 *                                    submits arrays of 500 jobs until the matcher has at least
 *                                    TARGET queued (a cursor in DIR rotates through the lab's jobs)
 * </pre>
 *
 * <p>Only one line goes to stdout (fill: the queued count reached); notes go to stderr.
 */
public final class HttpBenchDriver {

  static final long SEED = 1;
  static final int JOBS = 100_000;
  static final int BOXES = 1_000;
  static final int BATCH = 500;
  static final int SUBMIT_BODIES = 5_000;
  static final int FILL_LANES = 3;

  private HttpBenchDriver() {}

  public static void main(String[] args) throws Exception {
    if (args.length == 2 && args[0].equals("lua")) {
      writeLua(Path.of(args[1]));
    } else if (args.length == 4 && args[0].equals("fill")) {
      fill(URI.create(args[1]), Integer.parseInt(args[2]), Path.of(args[3]));
    } else {
      System.err.println("usage: HttpBenchDriver lua DIR | fill URL TARGET DIR");
      System.exit(2);
    }
  }

  // ---------------------------------------------------------------- lua

  private static void writeLua(Path dir) throws IOException {
    Files.createDirectories(dir);
    Lab lab = Lab.generate(SEED, SUBMIT_BODIES, BOXES);
    List<String> queries = new ArrayList<>(BOXES);
    for (Map<String, String> q : lab.boxQueries()) {
      queries.add(query(q));
    }
    long bytes = 0;
    List<String> bodies = new ArrayList<>(SUBMIT_BODIES);
    for (ObjectNode j : lab.jobs()) {
      String s = Json.write(j);
      bytes += s.getBytes(StandardCharsets.UTF_8).length;
      bodies.add(s);
    }
    luaArray(dir.resolve("boxes.lua"), queries);
    luaArray(dir.resolve("jobs.lua"), bodies);
    System.err.printf("bench: %d box queries, %d submit bodies of %d bytes on average in %s%n",
        queries.size(), bodies.size(), bytes / Math.max(1, bodies.size()), dir);
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

  // ---------------------------------------------------------------- fill

  private static void fill(URI base, int target, Path dir) throws Exception {
    HttpCalls http = new HttpCalls(base.getHost(), base.getPort());
    int queued = queued(http);
    if (queued >= target) {
      System.out.println(queued);
      return;
    }
    long t0 = System.nanoTime();
    Path cursorFile = dir.resolve("fill.cursor");
    int cursor = Files.exists(cursorFile) ? Integer.parseInt(Files.readString(cursorFile).trim()) : 0;
    int batches = (target - queued + BATCH - 1) / BATCH;
    // the lab's jobs are drawn one after the other from the seed: a shorter lab is a prefix of
    // the full one, so a small top-up generates only the jobs up to where the cursor gets to
    List<ObjectNode> jobs = Lab.generate(SEED, Math.min(JOBS, cursor + batches * BATCH), BOXES).jobs();
    List<String> bodies = new ArrayList<>(batches);
    for (int b = 0; b < batches; b++) {
      StringBuilder sb = new StringBuilder(BATCH * 1200).append('[');
      for (int i = 0; i < BATCH; i++) {
        if (i > 0) {
          sb.append(',');
        }
        sb.append(Json.write(jobs.get(cursor)));
        cursor = (cursor + 1) % JOBS;
      }
      bodies.add(sb.append(']').toString());
    }
    Files.writeString(cursorFile, Integer.toString(cursor));
    long t1 = System.nanoTime();

    ExecutorService lanes = Executors.newFixedThreadPool(FILL_LANES);
    try {
      List<Future<HttpCalls.Answer>> answers = new ArrayList<>();
      for (String body : bodies) {
        answers.add(lanes.submit(() -> http.post("/scheduler/v1/jobs/submit", body)));
      }
      for (Future<HttpCalls.Answer> f : answers) {
        HttpCalls.Answer a = f.get();
        if (a.status() != 200) {
          throw new IllegalStateException("bulk submit answered " + a.status() + ": "
              + a.body().substring(0, Math.min(300, a.body().length())));
        }
      }
    } finally {
      lanes.shutdown();
    }
    long t2 = System.nanoTime();
    int now = queued(http);
    System.err.printf("bench: fill: %d queued + %d jobs in %d arrays of %d = %d queued"
            + " (generate %.1f s, submit %.1f s, %.0f jobs/s)%n",
        queued, batches * BATCH, batches, BATCH, now, (t1 - t0) / 1e9, (t2 - t1) / 1e9,
        batches * BATCH / ((t2 - t1) / 1e9));
    if (now < target) {
      throw new IllegalStateException("after the fill the matcher holds " + now + " < " + target);
    }
    System.out.println(now);
  }

  private static int queued(HttpCalls http) {
    HttpCalls.Answer a = http.get("/scheduler/v1/manage/matcher");
    if (a.status() != 200) {
      throw new IllegalStateException("/manage/matcher answered " + a.status() + ": " + a.body());
    }
    return a.json().path("queued").asInt();
  }
}
