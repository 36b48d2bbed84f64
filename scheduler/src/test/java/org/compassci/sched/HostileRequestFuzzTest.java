package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.compassci.sched.fixtures.HttpCalls;
import org.compassci.sched.fixtures.SocketHttp;
import org.compassci.sched.model.Job;
import org.compassci.sched.model.Json;
import org.compassci.sched.persistence.Account;
import org.compassci.sched.persistence.JdbcJobStore;
import org.compassci.sched.persistence.JobRecord;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * 10,000 hostile requests over real HTTP to every route, from a seeded generator: wrong methods,
 * malformed and deeply nested JSON and YAML, huge numbers, control characters and invalid UTF-8,
 * path traversal, wrong and forged tokens, another account's job ids. What must hold: no 5xx but
 * 503, no actor restart, no ERROR in the log, the server healthy at the end, and no job or
 * account changed that the request was not allowed to change (the store is read before and
 * after).
 *
 * <p>A new seed each run, printed first; {@code -Dfuzz.seed=N} runs one again, and
 * {@code -Dfuzz.requests=N} changes how many are sent.
 */
class HostileRequestFuzzTest {

  static final String V1 = "/scheduler/v1";
  static final int THREADS = 4;
  /** Above the server's ask timeout (5 s): a slow actor is a 503, which is allowed, before the client gives up. */
  static final int TIMEOUT_MS = 15_000;

  /** ERROR events of any logger while the test runs. */
  static final class Errors extends AppenderBase<ILoggingEvent> {
    final List<String> seen = Collections.synchronizedList(new ArrayList<>());

    @Override
    protected void append(ILoggingEvent e) {
      if (e.getLevel().isGreaterOrEqual(Level.ERROR)) {
        seen.add(e.getLoggerName() + ": " + e.getFormattedMessage());
      }
    }
  }

  /**
   * What the generator aims at: the victim's jobs and names, the attacker's credentials. The
   * legacy calls of busybox testboxes carry no credential and may move any job out on a box
   * forward (DOMAIN.md): they aim at {@code legacyTargets}, the victim's jobs that are queued or
   * finished, which they must not change either.
   */
  record Targets(List<String> victimJobs, List<String> legacyTargets, List<String> ownJobs, String attackerToken,
      String victimToken, String adminToken, List<String> resultRoots) {}

  @Test
  void tenThousandHostileRequestsChangeNothingTheyMayNotAndBreakNothing() throws Exception {
    long seed = Long.getLong("fuzz.seed", System.nanoTime());
    int requests = Integer.getInteger("fuzz.requests", 10_000);
    System.out.println("HostileRequestFuzzTest seed=" + seed + " (replay: -Dfuzz.seed=" + seed + ")");
    Path dir = Files.createTempDirectory("fuzz");
    Errors errors = new Errors();
    ch.qos.logback.classic.Logger root = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(
        org.slf4j.Logger.ROOT_LOGGER_NAME);
    errors.setContext(root.getLoggerContext());
    errors.start();
    root.addAppender(errors);
    // thousands of "Illegal header" warnings would bury the build's output; errors still count
    ch.qos.logback.classic.Logger pekko = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(
        "org.apache.pekko.actor.ActorSystemImpl");
    Level pekkoLevel = pekko.getLevel();
    pekko.setLevel(Level.ERROR);
    Map<String, JsonNode> before = new TreeMap<>();
    List<String> accountsBefore;
    Targets t;
    Map<Integer, Integer> statuses = new ConcurrentHashMap<>();
    List<String> failures = Collections.synchronizedList(new ArrayList<>());
    try {
      TestServer server = TestServer.start(dir, Map.of("scheduler.auth.tokenless-webdav", "off",
          "scheduler.wait.timeout", "1s", "scheduler.http.ask-timeout", "5s"));
      try {
        HttpCalls admin = server.http;
        String vera = server.addAccount("vera", "user");
        String mallory = server.addAccount("mallory", "user");
        HttpCalls asVera = server.anonymous.withToken(vera);
        HttpCalls asMallory = server.anonymous.withToken(mallory);
        // the victim's jobs, in a machine group no generated request names: queued, one out on
        // its box and running, one finished
        String group = "victim-" + java.util.UUID.randomUUID();
        List<String> victims = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
          victims.add(asVera.post(V1 + "/jobs/submit", "{\"suite\":\"v\",\"testbox\":\"" + group + "\",\"n\":" + i
              + ",\"submit_id\":\"victim-run\"}").json().get(0).path("job_id").asText());
        }
        JsonNode handed = server.anonymous.get(V1 + "/jobs/dispatch?hostname=" + group + "--1&tbox_type=hw&tbox_group="
            + group).json();
        String running = handed.path("id").asText();
        String jobToken = handed.path("job_token").asText();
        assertEquals(200, server.anonymous.post(V1 + "/jobs/" + running + "/update?job_stage=running&job_token="
            + jobToken, "").status());
        JsonNode second = server.anonymous.get(V1 + "/jobs/dispatch?hostname=" + group + "--2&tbox_type=hw&tbox_group="
            + group).json();
        String done = second.path("id").asText();
        assertEquals(200, server.anonymous.post(V1 + "/jobs/" + done + "/update?job_stage=finish&job_health=success"
            + "&job_data_readiness=norun&job_token=" + second.path("job_token").asText(), "").status());
        List<String> own = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
          own.add(asMallory.post(V1 + "/jobs/submit", "{\"suite\":\"m\",\"testbox\":\"fz\"}").json().get(0)
              .path("job_id").asText());
        }
        List<String> roots = List.of(handed.path("result_root").asText(), second.path("result_root").asText());
        List<String> legacy = new ArrayList<>(victims);
        legacy.remove(running);
        t = new Targets(victims, legacy, own, mallory, vera, TestServer.ADMIN_TOKEN, roots);
        for (String id : victims) {
          before.put(id, admin.get(V1 + "/jobs/" + id).json());
        }
        accountsBefore = accounts(admin.get(V1 + "/accounts").json());

        AtomicInteger sent = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        List<Future<?>> running4 = new ArrayList<>();
        for (int w = 0; w < THREADS; w++) {
          Random random = new Random(seed * 31 + w);
          Targets targets = t;
          running4.add(pool.submit(() -> {
            while (sent.incrementAndGet() <= requests && failures.size() < 20) {
              Generated g = generate(random, targets, server.port());
              SocketHttp.Reply r = SocketHttp.exchange(server.port(), g.bytes(), TIMEOUT_MS, true);
              statuses.merge(r.status(), 1, Integer::sum);
              boolean slow = g.mayPark() && r.status() == -1;
              if ((r.status() >= 500 && r.status() != 503) || (r.status() == -1 && !slow)) {
                failures.add(r.status() + " for " + g.describe() + " -> " + r.head().lines().findFirst().orElse("")
                    + " " + r.body().lines().findFirst().orElse(""));
              }
            }
            return null;
          }));
        }
        for (Future<?> f : running4) {
          f.get(110, TimeUnit.SECONDS);
        }
        pool.shutdownNow();
        System.out.println("HostileRequestFuzzTest seed=" + seed + " statuses=" + new TreeMap<>(statuses));
        assertTrue(failures.isEmpty(), "seed=" + seed + ": " + String.join("\n", failures));

        assertEquals(200, server.anonymous.get(V1 + "/health").status(), "seed=" + seed + ": healthy at the end");
        for (JsonNode a : admin.get(V1 + "/manage/actors").json().path("actors")) {
          assertEquals(0, a.path("restarts").asInt(), "seed=" + seed + ": " + a);
        }
        for (String id : victims) {
          assertEquals(before.get(id), admin.get(V1 + "/jobs/" + id).json(), "seed=" + seed + ": victim job " + id);
        }
        assertEquals(accountsBefore, accounts(admin.get(V1 + "/accounts").json()), "seed=" + seed);
        assertEquals(200, asVera.post(V1 + "/jobs/submit", "{\"suite\":\"v\",\"testbox\":\"after\"}").status(),
            "seed=" + seed + ": the victim's token still works");
      } finally {
        server.close();
      }
      // the store itself, read directly once the server is gone: the victim's jobs as they were
      try (JdbcJobStore store = JdbcJobStore.embedded(dir.resolve("."), 1)) {
        for (Map.Entry<String, JsonNode> e : before.entrySet()) {
          JobRecord r = store.find(Long.parseLong(e.getKey())).orElseThrow();
          ObjectNode view = Job.fromRecord(r).view();
          assertEquals(e.getValue(), view, "seed=" + seed + ": stored victim job " + e.getKey());
        }
        List<String> names = store.accounts().stream().map(a -> a.name() + ":" + a.role()).sorted().toList();
        assertEquals(List.of("admin:admin", "mallory:user", "vera:user"), names, "seed=" + seed);
      }
      assertTrue(errors.seen.isEmpty(), "seed=" + seed + ": ERROR in the log: " + errors.seen);
    } finally {
      root.detachAppender(errors);
      pekko.setLevel(pekkoLevel);
      TestServer.deleteQuietly(dir);
    }
  }

  private static List<String> accounts(JsonNode list) {
    List<String> out = new ArrayList<>();
    list.path("accounts").forEach(a -> out.add(a.path("name").asText() + ":" + a.path("role").asText() + ":"
        + a.path("email").asText() + ":" + a.path("created").asText()));
    return out;
  }

  // ---------------------------------------------------------------------------------------------
  // the generator

  /** One request as bytes; {@code mayPark}: an answer may take longer than the timeout. */
  record Generated(byte[] bytes, String method, String target, boolean mayPark) {
    String describe() {
      String t = target.length() > 160 ? target.substring(0, 160) + "..." : target;
      return method + " " + t.replaceAll("\\p{Cntrl}", "?");
    }
  }

  static final String[] METHODS = {"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "MKCOL", "TRACE", "G3T"};

  static final String[] ROUTES = {
      "GET /scheduler/v1/health", "POST /scheduler/v1/jobs/submit", "POST /submit_job",
      "GET /scheduler/v1/jobs?submit_id={run}", "GET /scheduler/v1/jobs/{id}", "GET /scheduler/v1/jobs/{id}?fields={word}",
      "POST /scheduler/v1/jobs/{id}/update", "POST /scheduler/v1/jobs/{id}/cancel", "POST /scheduler/v1/jobs/wait",
      "POST /scheduler/v1/jobs/{id}/terminate", "GET /scheduler/v1/client", "GET /scheduler/v1/vm-container-provider/{host}",
      "GET /scheduler/v1/dashboard/providers",
      "GET /scheduler/v1/jobs/{id}/events", "GET /scheduler/v1/events?job_ids={ids}", "GET /scheduler/v1/jobs/dispatch",
      "POST /scheduler/v1/hosts/{host}", "GET /scheduler/v1/hosts/{host}",
      "GET /scheduler/v1/dashboard/jobs/pending?group_by={word}", "GET /scheduler/v1/dashboard/jobs/running",
      "GET /scheduler/v1/dashboard/hosts", "GET /scheduler/v1/dashboard/stats", "GET /scheduler/v1/dashboard/summary",
      "GET /scheduler/v1/dashboard/events", "GET /scheduler/v1/manage/actors", "GET /scheduler/v1/manage/matcher",
      "GET /scheduler/v1/manage/explain/{id}", "POST /scheduler/v1/manage/hosts/reload",
      "GET /scheduler/v1/accounts", "POST /scheduler/v1/accounts", "GET /scheduler/v1/accounts/{name}",
      "DELETE /scheduler/v1/accounts/{name}", "POST /scheduler/v1/accounts/{name}/token",
      "GET /metrics", "GET /dashboard", "GET /dashboard/app.js",
      "GET /~lkp/cgi-bin/lkp-jobfile-append-var", "GET /~lkp/cgi-bin/set-job-stage", "GET /~lkp/cgi-bin/report-job-step",
      "GET /~lkp/cgi-bin/lkp-post-run", "GET /~lkp/cgi-bin/lkp-wtmp", "GET /~lkp/cgi-bin/report_ssh_port",
      "POST /~lkp/cgi-bin/report_ssh_info", "GET /~lkp/cgi-bin/gpxelinux.cgi", "GET /renew_deadline", "GET /get_deadline",
      "GET /boot.ipxe/mac/{mac}", "GET /boot.grub/mac/{mac}", "GET /boot.native/mac/{mac}", "GET /boot.libvirt/mac/{mac}",
      "GET /scheduler/v1/packages/{word}/job.cgz", "POST {root}/{file}", "PUT {root}/{file}", "MKCOL {root}/{word}/",
      "GET /{traversal}", "POST /scheduler/v1/{traversal}"};

  static final String[] WORDS = {"", "a", "my_account", "tbox_group", "arch", "queue", "x".repeat(300), "ü", "\u0000",
      "..", "%2e%2e", "%00", "%ff", "%", "submit", "finish", "running", "boot", "cancel", "-1", "null", "[]", "{}",
      "job_stage", "job_token", "admin", "vera", "mallory", "root", "../../etc/passwd", "😀", "a b", "a\tb"};

  static final String[] TRAVERSALS = {"../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd", "scheduler/v1/../../x",
      "result/../../../etc", "%2F%2Fetc", "..%5c..%5cwindows", "dashboard/../../../etc/shadow", "~lkp/cgi-bin/../../x",
      ".%00.", "scheduler//v1///jobs", "scheduler/v1/jobs/%2e%2e"};

  static final String[] NUMBERS = {"0", "-1", "1", "9223372036854775807", "9223372036854775808",
      "99999999999999999999999999999999999999", "-9223372036854775808", "1e999999999", "1e-999999999", "0x10",
      "1.5", "NaN", "Infinity", "00000000000000000000001", "1" + "0".repeat(120)};

  private static <T> T pick(Random r, T[] a) {
    return a[r.nextInt(a.length)];
  }

  private static <T> T pick(Random r, List<T> a) {
    return a.get(r.nextInt(a.size()));
  }

  private static String id(Random r, Targets t) {
    int k = r.nextInt(10);
    return k < 5 ? pick(r, t.victimJobs()) : k < 7 ? pick(r, t.ownJobs()) : k < 9 ? pick(r, NUMBERS) : pick(r, WORDS);
  }

  /** A job id for a call without credentials (legacy testbox calls). */
  private static String legacyId(Random r, Targets t) {
    int k = r.nextInt(10);
    return k < 5 ? pick(r, t.legacyTargets()) : k < 7 ? pick(r, t.ownJobs()) : k < 9 ? pick(r, NUMBERS) : pick(r, WORDS);
  }

  static String enc(String s) {
    return java.net.URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  /** A query value: sometimes encoded, sometimes raw (bad bytes on purpose). */
  private static String value(Random r, Targets t) {
    String v = switch (r.nextInt(8)) {
      case 0 -> pick(r, NUMBERS);
      case 1 -> id(r, t);
      case 2 -> pick(r, List.of("submit", "dispatch", "boot", "running", "post_run", "finish", "cancel", "abort_invalid",
          "success", "fail", "oom", "complete", "uploaded", "norun", "finished", "failed", "booting", "on_fail"));
      case 3 -> pick(r, List.of(t.attackerToken(), "sched_" + "A".repeat(43), t.victimToken() + "x", "0000"));
      default -> pick(r, WORDS);
    };
    return r.nextInt(4) == 0 ? v : enc(v);
  }

  private static String query(Random r, Targets t, String route) {
    boolean legacy = route.contains("/~lkp/") || route.contains("deadline");
    StringBuilder q = new StringBuilder();
    int n = r.nextInt(40) == 0 ? 300 : r.nextInt(6);
    String[] keys = {"job_id", "job_stage", "job_state", "job_health", "job_data_readiness", "job_token", "hostname",
        "tbox_name", "tbox_type", "tbox_group", "arch", "tags", "freemem", "wait", "mac", "boot_type", "time",
        "testbox", "renew_seconds", "job_step", "ssh_port", "fields", "offset", "limit", "submit_id", "sched_host",
        "sched_port", "memory", "my_account", "timeout", "job_file", "_job_token_sha256", "result_root", "x"};
    for (int i = 0; i < n; i++) {
      String key = pick(r, keys);
      String v = legacy && key.equals("job_id") ? legacyId(r, t) : value(r, t);
      if (key.equals("wait")) {
        v = pick(r, List.of("0", "1", "-1", "61", "x", "99999999999"));
      } else if (key.equals("hostname") || key.equals("tbox_group")) {
        v = pick(r, List.of("fz--1", "fz", "a--b", "", "x".repeat(300), "..", "%00", "h%0Ah"));
      }
      q.append(q.length() == 0 ? "" : "&").append(key).append('=').append(v);
    }
    if (route.contains("lkp-") || route.contains("set-job-stage") || route.contains("report") || route.contains("deadline")) {
      q.insert(0, "job_file=/lkp/scheduled/job.yaml&job_id=" + legacyId(r, t) + (q.length() > 0 ? "&" : ""));
    }
    return q.toString();
  }

  private static String nested(Random r, char open, char close, int depth) {
    return String.valueOf(open).repeat(depth) + String.valueOf(close).repeat(r.nextInt(3) == 0 ? depth / 2 : depth);
  }

  private static byte[] body(Random r, Targets t) {
    String victim = pick(r, t.victimJobs());
    String s = switch (r.nextInt(23)) {
      case 0 -> "";
      case 1 -> "{";
      case 2 -> "{\"suite\":\"s\",\"testbox\":\"fz\",\"my_account\":\"vera\"}";
      case 3 -> "{\"suite\":\"s\",\"testbox\":\"fz\",\"my_account\":\"vera\",\"my_token\":\"" + t.attackerToken() + "\"}";
      case 4 -> "{\"suite\":\"s\",\"testbox\":\"fz\",\"deep\":" + nested(r, '[', ']', 10 + r.nextInt(5000)) + "}";
      case 5 -> "[" + "{\"suite\":\"s\",\"testbox\":\"fz\"},".repeat(r.nextInt(50)) + "{}]";
      case 6 -> "{\"suite\":\"s\",\"testbox\":\"fz\",\"priority\":" + pick(r, NUMBERS) + ",\"memory\":" + pick(r, NUMBERS)
          + ",\"timeout\":" + pick(r, NUMBERS) + ",\"runtime\":\"" + pick(r, NUMBERS) + "\"}";
      case 7 -> "{\"suite\":\"s\",\"testbox\":\"fz\",\"memory\":\"" + pick(r, NUMBERS) + "G\",\"need_memory\":\""
          + pick(r, NUMBERS) + "T\"}";
      case 8 -> "suite: s\ntestbox: fz\na: &a [1,2,3,4,5,6,7,8,9]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b]\n";
      case 9 -> "suite: s\ntestbox: fz\nd: " + nested(r, '[', ']', 10 + r.nextInt(3000)) + "\n";
      case 10 -> "{\"wait_on\":{\"" + victim + "\":{\"job_stage\":\"" + pick(r, WORDS) + "\"},\"" + pick(r, NUMBERS)
          + "\":null}}";
      case 11 -> "{\"tbox_name\":\"x\",\"job_id\":\"" + pick(r, t.legacyTargets()) + "\",\"ssh_port\":\"22\",\"message\":\"" + pick(r, WORDS) + "\"}";
      case 12 -> "{\"name\":\"" + pick(r, WORDS) + "\",\"email\":\"e@x\",\"role\":\"" + pick(r, List.of("admin", "user", "root"))
          + "\"}";
      case 13 -> "{\"suite\":\"" + "\u0001\u0002\u007f" + "\",\"testbox\":\"fz\",\"x\":\"\\ud800\"}";
      case 14 -> "{\"suite\":\"s\",\"testbox\":\"fz\",\"big\":\"" + "y".repeat(r.nextInt(2_000_000)) + "\"}";
      case 15 -> "suite: s\ntestbox: fz\nx: {{ 1 + 1 }}\n";
      case 16 -> "{\"suite\":\"s\",\"testbox\":\"../../etc\",\"tbox_group\":\"%00\",\"arch\":\"a/b\"}";
      case 17 -> "{\"suite\":\"s\",\"testbox\":\"fz\",\"id\":\"" + victim + "\",\"job_id\":\"" + victim
          + "\",\"_job_token_sha256\":\"x\",\"job_stage\":\"finish\",\"result_root\":\"/result/../../x\"}";
      case 18 -> "suite: s\ntestbox: fz\nk: v\nk: w\n";
      case 19 -> "\"just a string\"";
      case 20 -> "[[[[[]]]]]";
      case 21 -> "{\"suite\":\"s\",\"testbox\":\"" + pick(r, List.of("vm-", "dc-", "vm-2p")) + pick(r, NUMBERS) + "g\"}";
      default -> null;
    };
    if (s != null) {
      return s.getBytes(StandardCharsets.UTF_8);
    }
    byte[] junk = new byte[r.nextInt(512)];
    r.nextBytes(junk);
    return junk;
  }

  private static String authorization(Random r, Targets t) {
    return switch (r.nextInt(9)) {
      case 0, 1, 2 -> null;
      case 3, 4 -> "Bearer " + t.attackerToken();
      case 5 -> "Bearer sched_" + "A".repeat(43);
      case 6 -> "Bearer " + t.adminToken().substring(0, t.adminToken().length() - 1) + "x";
      case 7 -> pick(r, List.of("Bearer", "Bearer ", "Basic YWRtaW46YWRtaW4=", "bearer  " + t.attackerToken(),
          "Bearer " + "x".repeat(5000), "Token " + t.adminToken() + "x"));
      // the victim's token, a little wrong (trailing blanks would be the token itself: trimmed)
      default -> "Bearer " + pick(r, List.of(t.victimToken() + "x", t.victimToken() + "%00",
          t.victimToken().substring(1), t.victimToken().toUpperCase(java.util.Locale.ROOT)));
    };
  }

  static Generated generate(Random r, Targets t, int port) {
    String route = pick(r, ROUTES);
    int space = route.indexOf(' ');
    String method = r.nextInt(8) == 0 ? pick(r, METHODS) : route.substring(0, space);
    String path = route.substring(space + 1);
    path = path.replace("{id}", id(r, t)).replace("{run}", pick(r, List.of("victim-run", "", "x".repeat(300))))
        .replace("{ids}", id(r, t) + "," + id(r, t) + "," + pick(r, NUMBERS))
        .replace("{host}", pick(r, List.of("fz--1", "h%2Fx", "..", "a".repeat(300), "fz")))
        .replace("{word}", enc(pick(r, WORDS))).replace("{name}", pick(r, List.of("vera", "mallory", "admin", "x", "..")))
        .replace("{mac}", pick(r, List.of("52-54-00-12-34-56", "zz", "52:54:00:12:34:56:78", "", "%00")))
        .replace("{root}", r.nextBoolean() ? pick(r, t.resultRoots()) : "/result/v/../../x")
        .replace("{file}", pick(r, List.of("stats.json", "../x", "%2e%2e/x", "a%00b", "ok.log", "a%2Fb")))
        .replace("{traversal}", pick(r, TRAVERSALS));
    String q = query(r, t, path);
    String target = q.isEmpty() ? path : path + (path.contains("?") ? "&" : "?") + q;
    if (r.nextInt(60) == 0) {
      target = target + "&pad=" + "p".repeat(20_000); // past the request line's limit
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    boolean rawBytes = r.nextInt(30) == 0;
    out.writeBytes((method + " ").getBytes(StandardCharsets.UTF_8));
    if (rawBytes) {
      // invalid UTF-8 and control characters in the request line itself
      out.writeBytes(target.getBytes(StandardCharsets.UTF_8));
      out.writeBytes(new byte[] {(byte) 0xC3, (byte) 0x28, (byte) 0xFF, 0x01, 0x7F});
    } else {
      out.writeBytes(target.getBytes(StandardCharsets.UTF_8));
    }
    out.writeBytes(" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".getBytes(StandardCharsets.UTF_8));
    Map<String, String> headers = new LinkedHashMap<>();
    String auth = authorization(r, t);
    if (auth != null) {
      headers.put("Authorization", auth);
    }
    if (r.nextInt(6) == 0) {
      headers.put("Idempotency-Key", pick(r, List.of("k1", "k2", "", "x".repeat(400), "a b", "\u00ff")));
    }
    if (r.nextInt(4) == 0) {
      headers.put("Cookie", "JOBID=" + id(r, t) + (r.nextBoolean() ? "; JOB_TOKEN=" + pick(r, WORDS) : ""));
    }
    if (r.nextInt(40) == 0) {
      headers.put("X-Huge", "h".repeat(20_000));
    }
    if (r.nextInt(40) == 0) {
      for (int i = 0; i < 100; i++) {
        headers.put("X-Many-" + i, "v");
      }
    }
    byte[] body = method.equals("GET") || method.equals("HEAD") || r.nextInt(10) == 0 ? new byte[0] : body(r, t);
    String type = pick(r, List.of("application/json", "application/yaml", "text/yaml", "text/plain",
        "application/x-www-form-urlencoded", "application/json; charset=latin1", "bogus"));
    headers.put("Content-Type", type);
    for (Map.Entry<String, String> h : headers.entrySet()) {
      out.writeBytes((h.getKey() + ": ").getBytes(StandardCharsets.UTF_8));
      out.writeBytes(h.getValue().getBytes(StandardCharsets.UTF_8));
      out.writeBytes("\r\n".getBytes(StandardCharsets.UTF_8));
    }
    boolean lie = r.nextInt(50) == 0;
    out.writeBytes(("Content-Length: " + (lie ? body.length + 10 : body.length) + "\r\n\r\n").getBytes(StandardCharsets.UTF_8));
    out.writeBytes(body);
    boolean mayPark = target.contains("wait") || target.contains("events") || lie;
    return new Generated(out.toByteArray(), method, target, mayPark);
  }
}
