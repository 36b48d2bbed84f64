package org.compassci.sched.bench;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.compassci.sched.fixtures.HttpCalls;
import org.compassci.sched.model.Json;

/**
 * The heap an open event stream costs the server: submits one job per stream, opens a stream on
 * each (each its own connection, as watchers have), and compares the server's used heap after a
 * full GC with the streams open and after they closed. Prints one JSON line.
 *
 * <p>Usage: {@code WatchBench <port> <server pid> [streams]}; the server runs on 127.0.0.1.
 */
public final class WatchBench {

  private WatchBench() {}

  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    String pid = args[1];
    int streams = args.length > 2 ? Integer.parseInt(args[2]) : 2000;
    HttpCalls http = ProvidersBench.benchClient(port);
    List<String> ids = new ArrayList<>(streams);
    StringBuilder batch = new StringBuilder();
    for (int i = 0; i < streams; i += 500) {
      batch.setLength(0);
      batch.append('[');
      for (int j = i; j < Math.min(streams, i + 500); j++) {
        batch.append(j > i ? "," : "").append("{\"suite\":\"watch\",\"testbox\":\"vm-2p8g\",\"arch\":\"x86_64\",")
            .append("\"my_account\":\"w").append(j % 20).append("\",\"nr\":").append(j).append('}');
      }
      batch.append(']');
      HttpCalls.Answer a = http.post("/scheduler/v1/jobs/submit", batch.toString());
      if (a.status() != 200) {
        throw new IllegalStateException("submit answered " + a.status() + ": " + a.body());
      }
      Json.parse(a.body()).forEach(j -> ids.add(j.path("job_id").asText()));
    }
    long before = ProvidersBench.usedHeapKb(pid);
    List<Socket> open = new ArrayList<>(streams);
    // "idle": keep-alive connections that asked for health once, to tell the HTTP stack's share
    boolean idle = args.length > 3 && args[3].equals("idle");
    for (String id : ids) {
      open.add(idle ? openIdle(port) : openStream(port, "/scheduler/v1/jobs/" + id + "/events"));
    }
    long with = ProvidersBench.usedHeapKb(pid);
    if (System.getenv("WATCH_BENCH_DEBUG") != null) {
      System.err.println(http.get("/scheduler/v1/manage/actors").body());
    }
    for (Socket s : open) {
      s.close();
    }
    Thread.sleep(Long.parseLong(System.getenv().getOrDefault("WATCH_BENCH_SETTLE_MS", "5000")));
    long after = ProvidersBench.usedHeapKb(pid);
    if (System.getenv("WATCH_BENCH_DEBUG") != null) {
      System.err.println(http.get("/scheduler/v1/manage/actors").body());
      ProvidersBench.run("jcmd", pid, "GC.class_histogram").lines().limit(40).forEach(System.err::println);
    }
    double perStream = (with - before) / (double) streams;
    System.out.println(String.format(Locale.ROOT,
        "{\"bench\":\"%s\", \"streams\":%d, \"heap_kb_per_stream\":%.1f, \"heap_mb_open\":%.1f, "
            + "\"heap_mb_before\":%.1f, \"heap_mb_after_close\":%.1f}",
        idle ? "watch_idle_connections" : "watch", streams, perStream, with / 1024.0, before / 1024.0, after / 1024.0));
  }

  /** A keep-alive connection that made one health request and stays open. */
  private static Socket openIdle(int port) throws IOException {
    Socket s = new Socket();
    s.setSoTimeout(20_000);
    s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
    s.getOutputStream().write("GET /scheduler/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        .getBytes(StandardCharsets.US_ASCII));
    InputStream in = s.getInputStream();
    byte[] buf = new byte[4096];
    int n = in.read(buf);
    if (n <= 0 || !new String(buf, 0, n, StandardCharsets.US_ASCII).contains("\"status\"")) {
      throw new IOException("health did not answer in one read");
    }
    return s;
  }

  /** Opens a stream and reads up to its first event, so the server has set it up completely. */
  private static Socket openStream(int port, String path) throws IOException {
    Socket s = new Socket();
    s.setSoTimeout(20_000);
    s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
    s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + "Accept: text/event-stream\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    InputStream in = s.getInputStream();
    byte[] want = "event: job".getBytes(StandardCharsets.US_ASCII);
    int matched = 0;
    while (matched < want.length) {
      int c = in.read();
      if (c < 0) {
        throw new IOException("stream closed before its first event: " + path);
      }
      matched = c == want[matched] ? matched + 1 : (c == want[0] ? 1 : 0);
    }
    return s;
  }
}
