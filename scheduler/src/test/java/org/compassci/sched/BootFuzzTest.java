package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.cpio.CpioArchiveEntry;
import org.apache.commons.compress.archivers.cpio.CpioArchiveInputStream;
import org.compassci.sched.fixtures.HttpCalls;
import org.compassci.sched.fixtures.RawHttp;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Acceptance (c): fuzzed MACs, boot types, package URLs and upload paths (traversal, huge bodies,
 * wrong tokens) from four clients at once, among real boxes booting. Only 2xx and 4xx come back,
 * never a 5xx; no job is lost and none is handed out twice.
 */
class BootFuzzTest {

  static final String V1 = "/scheduler/v1";
  static final int BOXES = 20;
  static final int JOBS = 120;
  static final int REQUESTS = 1600;
  static final Pattern JOB_ID = Pattern.compile("job id=(\\d+),");
  static final Pattern PACKAGE = Pattern.compile("initrd http://[^/]+(/scheduler/v1/packages/[^/]+/job\\.cgz)");

  @TempDir Path dir;

  static String mac(int i) {
    return String.format("52:54:00:00:00:%02x", i);
  }

  /** Every byte that is not unreserved, percent-encoded: any string makes a valid request line. */
  static String enc(String s) {
    StringBuilder out = new StringBuilder();
    for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
      char c = (char) (b & 0xff);
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~') {
        out.append(c);
      } else {
        out.append('%').append(String.format("%02X", b & 0xff));
      }
    }
    return out.toString();
  }

  static String junk(Random r, int max) {
    String alphabet = "0123456789abcdefABCDEF:-./%\\ \u0000\n?#&=$'\"`{}é≠";
    StringBuilder s = new StringBuilder();
    int n = r.nextInt(max + 1);
    for (int i = 0; i < n; i++) {
      s.append(alphabet.charAt(r.nextInt(alphabet.length())));
    }
    return s.toString();
  }

  @Test
  void fuzzedInputGetsOnly4xxAndNoJobIsLostOrHandedOutTwice() throws Exception {
    Path lab = Files.createDirectories(dir.resolve("hosts"));
    for (int i = 0; i < BOXES; i++) {
      Files.writeString(lab.resolve("fz--" + i), "mac_addr: " + mac(i) + "\narch: x86_64\nmemory: 8G\n");
    }
    try (TestServer server = TestServer.start(dir, Map.of("scheduler.lab.hosts-dir", lab.toString(),
        "scheduler.results.max-file-size", "64KiB", "scheduler.results.max-job-size", "256KiB"))) {
      HttpCalls http = server.http;
      RawHttp raw = new RawHttp(server.port());
      for (int i = 0; i < 100 && http.get(V1 + "/hosts/fz--" + (BOXES - 1)).status() != 200; i++) {
        Thread.sleep(50);
      }
      StringBuilder batch = new StringBuilder("[");
      for (int i = 0; i < JOBS; i++) {
        // one job in ten names no kernel: it must end abort_invalid, once
        String kernel = i % 10 == 9 ? "" : ",\"kernel_uri\":\"http://10.0.2.2:8000/vmlinuz\"";
        batch.append(i == 0 ? "" : ",").append("{\"suite\":\"fuzz\",\"testbox\":\"fz\",\"arch\":\"x86_64\",\"my_account\":\"u")
            .append(i % 3).append("\"").append(kernel).append("}");
      }
      JsonNode submitted = http.post(V1 + "/jobs/submit", batch.append("]").toString()).json();
      Set<String> ids = new HashSet<>();
      submitted.forEach(j -> ids.add(j.path("job_id").asText()));
      assertEquals(JOBS, ids.size());

      Map<String, Integer> handedOut = new ConcurrentHashMap<>();
      List<String> links = Collections.synchronizedList(new ArrayList<>());
      Map<String, String[]> tokens = new ConcurrentHashMap<>(); // id -> {token, result_root}
      List<String> failures = Collections.synchronizedList(new ArrayList<>());
      Map<Integer, Integer> statuses = new ConcurrentHashMap<>();
      // a real box boots one request at a time, and fetches its package before it asks again
      // (a box that asks again without it gives its job back, a lost hand-out)
      java.util.concurrent.locks.ReentrantLock[] boxes = new java.util.concurrent.locks.ReentrantLock[BOXES];
      java.util.Arrays.setAll(boxes, i -> new java.util.concurrent.locks.ReentrantLock());
      ExecutorService pool = Executors.newFixedThreadPool(4);
      List<Future<?>> work = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        Random r = new Random(1234 + t);
        work.add(pool.submit(() -> {
          for (int i = 0; i < REQUESTS / 4; i++) {
            String method = "GET";
            String path;
            byte[] body = null;
            String[] headers = {};
            java.util.concurrent.locks.ReentrantLock box = null;
            int kind = r.nextInt(10);
            if (kind < 2) {
              // a real box boots, sometimes with other spellings of its MAC
              int b = r.nextInt(BOXES);
              box = boxes[b];
              String m = mac(b);
              m = r.nextBoolean() ? m.toUpperCase().replace(':', '-') : m;
              path = "/boot.ipxe/mac/" + m + "?sched_host=127.0.0.1&sched_port=" + server.port();
            } else if (kind < 4) {
              String type = r.nextInt(3) == 0 ? junk(r, 8) : List.of("ipxe", "grub", "native", "libvirt").get(r.nextInt(4));
              String m = r.nextInt(4) == 0 ? mac(200 + r.nextInt(50)) : junk(r, 24);
              path = (r.nextBoolean() ? "/boot." + enc(type) + "/mac/" + enc(m)
                  : V1 + "/jobs/dispatch?mac=" + enc(m) + "&boot_type=" + enc(type))
                  + (r.nextBoolean() ? "" : (path0(r) + "wait=" + enc(junk(r, 3)) + "&sched_host=" + enc(junk(r, 6))
                  + "&sched_port=" + enc(junk(r, 5)) + "&tags=" + enc(junk(r, 6))));
            } else if (kind < 6) {
              String link = links.isEmpty() ? "x" : links.get(r.nextInt(links.size()));
              path = switch (r.nextInt(4)) {
                case 0 -> link;
                case 1 -> link.replace("/job.cgz", "x/job.cgz");
                case 2 -> V1 + "/packages/" + enc(junk(r, 60)) + "/job.cgz";
                default -> link.length() > 40 ? link.substring(0, 40) + "AAAA/job.cgz" : link;
              };
            } else {
              List<String> known = new ArrayList<>(tokens.keySet());
              String id = known.isEmpty() ? "1" : known.get(r.nextInt(known.size()));
              String[] tr = tokens.getOrDefault(id, new String[] {"t", "/result/fuzz/x/y/1"});
              String tail = switch (r.nextInt(7)) {
                case 0 -> "/../" + enc(junk(r, 5));
                case 1 -> "/%2e%2e/%2e%2e/etc/" + enc(junk(r, 5));
                case 2 -> "//abs/" + r.nextInt(1000);
                case 3 -> "/" + enc(junk(r, 12));
                case 4 -> "/f" + r.nextInt(1_000_000);
                case 5 -> "/a%00b";
                default -> "/sub" + r.nextInt(3) + "/";
              };
              String root = r.nextInt(5) == 0 ? "/result/" + enc(junk(r, 10)) : tr[1];
              body = new byte[r.nextInt(4) == 0 ? 70 * 1024 + r.nextInt(100_000) : r.nextInt(100)];
              switch (r.nextInt(3)) {
                case 0 -> {
                  method = "POST";
                  path = root + tail + "?job_id=" + (r.nextBoolean() ? id : enc(junk(r, 5)))
                      + "&job_token=" + (r.nextBoolean() ? tr[0] : enc(junk(r, 32)));
                }
                case 1 -> {
                  method = "PUT";
                  path = root + tail;
                  headers = new String[] {"Cookie", "JOBID=" + (r.nextInt(4) == 0 ? junk(r, 4).replaceAll("[^0-9a-z]", "") : id)};
                }
                default -> {
                  method = "MKCOL";
                  path = root + tail;
                  body = null;
                  headers = new String[] {"Cookie", "JOBID=" + id};
                }
              }
            }
            if (box != null) {
              box.lock();
            }
            try {
              request(raw, method, path, body, headers, failures, statuses, handedOut, links, tokens);
            } finally {
              if (box != null) {
                box.unlock();
              }
            }
          }
          return null;
        }));
      }
      for (Future<?> f : work) {
        f.get(300, TimeUnit.SECONDS);
      }
      pool.shutdown();
      assertTrue(failures.isEmpty(), failures.size() + " failures, first: " + failures.subList(0, Math.min(5, failures.size())));
      handedOut.forEach((id, n) -> assertEquals(1, n, "job " + id + " handed out " + n + " times"));
      assertTrue(handedOut.size() > 10, "boxes booted among the fuzz: " + handedOut.size());
      int refused = statuses.entrySet().stream().filter(e -> e.getKey() >= 400).mapToInt(Map.Entry::getValue).sum();
      assertTrue(refused > REQUESTS / 2, "most fuzzed requests are refused: " + statuses);
      for (int s : new int[] {400, 401, 403, 404, 413}) {
        assertTrue(statuses.containsKey(s), s + " among " + statuses);
      }

      int queued = 0;
      for (String id : ids) {
        JsonNode j = http.get(V1 + "/jobs/" + id).json();
        String stage = j.path("job_stage").asText();
        if (stage.equals("submit")) {
          queued++;
          assertTrue(!handedOut.containsKey(id), id);
        } else if (stage.equals("abort_invalid")) {
          assertTrue(j.path("abort_reason").asText().contains("no kernel"), j.toString());
        } else {
          assertTrue(handedOut.containsKey(id), "job " + id + " is " + stage + " but no box got it");
          assertTrue(Set.of("dispatch", "boot").contains(stage), j.toString());
        }
      }
      long aborted = ids.stream().filter(id -> !handedOut.containsKey(id)
          && http.get(V1 + "/jobs/" + id).json().path("job_stage").asText().equals("abort_invalid")).count();
      assertEquals(JOBS, queued + handedOut.size() + aborted, "every job is queued, out, or ended with its reason");
      server.close();
      // the embedded store closes its files after the server has stopped: let it finish first
      Tools.awaitQuiet(dir);
    }
  }

  static String path0(Random r) {
    return "?";
  }

  static JsonNode jobYaml(byte[] cgz) throws Exception {
    try (CpioArchiveInputStream in = new CpioArchiveInputStream(new GZIPInputStream(new ByteArrayInputStream(cgz)))) {
      CpioArchiveEntry e;
      while ((e = in.getNextEntry()) != null) {
        if (e.getName().equals("lkp/scheduled/job.yaml")) {
          return new YAMLMapper().readTree(in.readAllBytes());
        }
      }
    }
    throw new AssertionError("no job.yaml");
  }

  /** One request of the fuzz, and what a box does with a boot's answer: fetch its package at once. */
  private static void request(RawHttp raw, String method, String path, byte[] body, String[] headers,
      List<String> failures, Map<Integer, Integer> statuses, Map<String, Integer> handedOut, List<String> links,
      Map<String, String[]> tokens) {
    RawHttp.Reply reply;
    try {
      reply = raw.send(method, path, body, headers);
    } catch (IllegalArgumentException badUri) {
      return; // a request line no client can send
    } catch (RuntimeException e) {
      failures.add(method + " " + path + ": " + e);
      return;
    }
    statuses.merge(reply.status(), 1, Integer::sum);
    if (reply.status() >= 500) {
      failures.add(method + " " + path + " -> " + reply.status() + " " + reply.text());
    }
    if (reply.status() == 200 && path.startsWith("/boot.ipxe/mac/52")) {
      Matcher m = JOB_ID.matcher(reply.text());
      if (m.find()) {
        handedOut.merge(m.group(1), 1, Integer::sum);
        Matcher p = PACKAGE.matcher(reply.text());
        if (p.find()) {
          links.add(p.group(1));
          RawHttp.Reply pkg = raw.get(p.group(1));
          if (pkg.status() == 200) {
            try {
              JsonNode yaml = jobYaml(pkg.body());
              tokens.put(m.group(1), new String[] {yaml.path("job_token").asText(), yaml.path("result_root").asText()});
            } catch (Exception e) {
              failures.add("package of " + m.group(1) + ": " + e);
            }
          } else {
            failures.add("package of " + m.group(1) + " -> " + pkg.status());
          }
        }
      }
    }
  }
}
