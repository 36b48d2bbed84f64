package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.compassci.sched.fixtures.HttpCalls;
import org.compassci.sched.fixtures.HttpCalls.Answer;
import org.compassci.sched.fixtures.SocketHttp;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Every size limit of the intake answers 413 (the body and what is in it) or 431 (the request's
 * head: its line, headers and query parameters), each with a reason naming the limit, and stores
 * nothing. The limits are set low here so that each is reached cheaply.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class IntakeLimitsTest {

  static final String V1 = "/scheduler/v1";

  Path dir;
  TestServer server;
  HttpCalls http;

  @BeforeAll
  void start() throws Exception {
    dir = java.nio.file.Files.createTempDirectory("limits-test");
    server = TestServer.start(dir, Map.of(
        "scheduler.http.max-body", "64KiB",
        "scheduler.http.max-query-params", 20,
        "scheduler.submit.max-depth", 8,
        "scheduler.submit.max-string-length", 1000,
        "scheduler.submit.max-number-length", 30,
        "scheduler.submit.max-fields-per-job", 50,
        "scheduler.submit.max-jobs-per-file", 10,
        "pekko.http.server.parsing.max-uri-length", "2k",
        "pekko.http.server.parsing.max-header-value-length", "1k",
        "pekko.http.server.parsing.max-header-count", 20));
    http = server.http;
  }

  @AfterAll
  void stop() throws Exception {
    server.close();
    TestServer.deleteQuietly(dir);
  }

  private Answer submit(String body, String type) {
    return http.send("POST", V1 + "/jobs/submit", body, "Content-Type", type);
  }

  private static void tooLarge(Answer a, String limit) {
    assertEquals(413, a.status(), a.body());
    assertTrue(a.body().contains(limit), "the reason names " + limit + ": " + a.body());
  }

  private int pending() {
    return http.get(V1 + "/dashboard/jobs/pending").json().path("total").asInt();
  }

  /**
   * An answer given without reading the body (a /scheduler/v1 call whose declared body is over
   * the limit, a path no route takes, a refused upload) still reaches a client that is sending
   * the body: the server reads the body and drops it first, instead of closing the connection
   * under the client.
   */
  @Test
  void anAnswerGivenBeforeTheBodyIsReadReachesTheClient() {
    // larger than the sockets' buffers: the client is still sending when the answer is ready
    String body = "{\"pad\":\"" + "p".repeat(3_000_000) + "\"}";
    for (int i = 0; i < 10; i++) {
      Answer none = http.send("POST", "/no/such/route", body, "Content-Type", "application/json");
      assertEquals(404, none.status(), none.body());
      // refused before any route runs: the body is over scheduler.http.max-body
      Answer unknown = http.send("POST", V1 + "/jobs/424242/update?job_stage=boot", body,
          "Content-Type", "application/json");
      tooLarge(unknown, "scheduler.http.max-body");
      Answer upload = http.send("PUT", "/result/x/%2e%2e/%2e%2e/etc/f" + i, body, "Cookie", "JOBID=1");
      assertTrue(upload.status() >= 400 && upload.status() < 500, upload.status() + " " + upload.body());
      for (Answer a : List.of(none, unknown, upload)) {
        // the connection is kept: the server did not give up on the rest of the body
        assertTrue(a.raw().headers().firstValue("Connection").filter("close"::equalsIgnoreCase).isEmpty(),
            a.raw().uri() + " closed its connection: " + a.raw().headers().map());
      }
    }
  }

  /** A body sent in chunks, with no declared length, that grows past the limit: the same JSON 413. */
  @Test
  void aChunkedBodyOverTheLimitAnswers413InJson() throws Exception {
    int before = pending();
    String[] answer = sendInChunks(V1 + "/jobs/submit",
        "{\"suite\":\"s\",\"testbox\":\"t\",\"pad\":\"" + "x".repeat(70_000) + "\"}");
    assertEquals("413", answer[0]);
    assertTrue(answer[1].startsWith("application/json"), answer[1]);
    String body = answer[2];
    assertTrue(body.contains("scheduler.http.max-body (65536 bytes)"), body);
    // the submit's own shape, as for a body declared too large: one refused job
    com.fasterxml.jackson.databind.JsonNode refused = org.compassci.sched.model.Json.parse(body);
    assertTrue(refused.isArray() && refused.size() == 1, body);
    assertEquals("0", refused.get(0).path("job_id").asText(), body);
    assertEquals(before, pending(), "nothing stored");
  }

  /**
   * A call that takes no body (cancel, update, terminate) with one in chunks past the limit is
   * refused as one declared too large is: it was carried out, and the body read and dropped after.
   */
  @Test
  void aChunkedBodyOverTheLimitOnACallThatTakesNoneChangesNothing() throws Exception {
    String id = submit("{\"suite\":\"s\",\"testbox\":\"t\"}", "application/json").json().get(0).path("job_id").asText();
    String pad = "{\"pad\":\"" + "x".repeat(70_000) + "\"}";
    for (String call : List.of("/cancel", "/update?job_step=x", "/terminate")) {
      String[] answer = sendInChunks(V1 + "/jobs/" + id + call, pad);
      assertEquals("413", answer[0], call + ": " + answer[2]);
      assertTrue(answer[2].contains("scheduler.http.max-body (65536 bytes)"), answer[2]);
    }
    Answer job = http.get(V1 + "/jobs/" + id);
    assertEquals("submit", job.json().path("job_stage").asText(), job.body());
    assertTrue(job.json().path("job_step").isMissingNode(), job.body());
    // within the limit, in chunks, the call is carried out
    String[] small = sendInChunks(V1 + "/jobs/" + id + "/cancel", "{}");
    assertEquals("200", small[0], small[2]);
    assertEquals("cancel", http.get(V1 + "/jobs/" + id).json().path("job_stage").asText());
    // a call that reads a body reads one sent in chunks as before
    String[] waited = sendInChunks(V1 + "/jobs/wait", "{\"wait_on\":{\"" + id + "\":{\"job_stage\":\"cancel\"}}}");
    assertEquals("200", waited[0], waited[2]);
    assertTrue(waited[2].contains("waited_jobs"), waited[2]);
  }

  /** POSTs {@code body} in chunks of 4 KB, no length declared: the status, content type and body of the answer. */
  private String[] sendInChunks(String path, String body) throws Exception {
    java.net.HttpURLConnection c = (java.net.HttpURLConnection) new java.net.URL(
        "http://127.0.0.1:" + server.port() + path).openConnection();
    c.setRequestMethod("POST");
    c.setDoOutput(true);
    c.setChunkedStreamingMode(4096);
    c.setRequestProperty("Content-Type", "application/json");
    if (http.token() != null) {
      c.setRequestProperty("Authorization", "Bearer " + http.token());
    }
    c.setConnectTimeout(5000);
    c.setReadTimeout(20000);
    try (java.io.OutputStream out = c.getOutputStream()) {
      out.write(body.getBytes(StandardCharsets.UTF_8));
    } catch (java.io.IOException closedEarly) {
      // the server may answer and close before the last chunk is sent: its answer is still read
    }
    int status = c.getResponseCode();
    java.io.InputStream in = status >= 400 ? c.getErrorStream() : c.getInputStream();
    return new String[] {Integer.toString(status), String.valueOf(c.getContentType()),
        in == null ? "" : new String(in.readAllBytes(), StandardCharsets.UTF_8)};
  }

  /**
   * A field name past the limit is refused in YAML as in JSON. The YAML parser does not check the
   * limit it is given: a job with such a name was taken, and one past 50,000 characters never
   * read back (500 for a read, 503 for its hand-out).
   */
  @Test
  void aFieldNameOverTheLimitAnswers413InYamlAsInJson() {
    int before = pending();
    String name = "k".repeat(256);
    tooLarge(submit("{\"suite\":\"s\",\"testbox\":\"t\",\"" + name + "\":1}", "application/json"), "field name");
    tooLarge(submit("suite: s\ntestbox: t\n? " + name + "\n: 1\n", "application/yaml"), "field name");
    tooLarge(submit("suite: s\ntestbox: t\npp:\n  x:\n    ? " + name + "\n    : 1\n", "application/yaml"), "field name");
    assertEquals(before, pending(), "nothing stored");
  }

  /** Two values under one name: refused in JSON as in YAML, where the last one was kept without a word. */
  @Test
  void aNameGivenTwiceIsRefusedInJsonAsInYaml() {
    int before = pending();
    Answer json = submit("{\"suite\":\"a\",\"testbox\":\"t\",\"suite\":\"b\"}", "application/json");
    assertEquals(400, json.status(), json.body());
    assertTrue(json.body().contains("'suite' is given twice"), json.body());
    Answer nested = submit("{\"suite\":\"a\",\"testbox\":\"t\",\"pp\":{\"x\":1,\"x\":2}}", "application/json");
    assertEquals(400, nested.status(), nested.body());
    assertTrue(nested.body().contains("'x' is given twice"), nested.body());
    // a long name is quoted shortened
    String longName = "n".repeat(250);
    Answer longTwice = submit("{\"suite\":\"a\",\"testbox\":\"t\",\"" + longName + "\":1,\"" + longName + "\":2}",
        "application/json");
    assertEquals(400, longTwice.status(), longTwice.body());
    assertTrue(longTwice.body().contains("nnn...' is given twice") && longTwice.body().length() < 400, longTwice.body());
    Answer yaml = submit("suite: a\ntestbox: t\nsuite: b\n", "application/yaml");
    assertEquals(400, yaml.status(), yaml.body());
    assertTrue(yaml.body().contains("'suite' is given twice"), yaml.body());
    assertEquals(before, pending(), "nothing stored");
  }

  /** What no route takes (an id that is not a number, a wrong method) is answered in JSON too. */
  @Test
  void whatNoRouteTakesIsAnsweredInJson() {
    for (String path : List.of(V1 + "/jobs/abc", V1 + "/jobs/99999999999999999999", V1 + "/nothing-here")) {
      Answer a = http.get(path);
      assertEquals(404, a.status(), path + " " + a.body());
      assertEquals("application/json", a.raw().headers().firstValue("Content-Type").orElse(""), path);
      assertTrue(a.json().path("error").asText().length() > 0, a.body());
    }
    Answer wrongMethod = http.get(V1 + "/jobs/submit");
    assertEquals(405, wrongMethod.status(), wrongMethod.body());
    assertEquals("application/json", wrongMethod.raw().headers().firstValue("Content-Type").orElse(""));
    assertTrue(wrongMethod.json().path("error").asText().contains("POST"), wrongMethod.body());
  }

  @Test
  void theBodyAndWhatIsInItAnswer413() {
    int before = pending();
    Answer big = submit("{\"suite\":\"s\",\"testbox\":\"t\",\"pad\":\"" + "x".repeat(70_000) + "\"}", "application/json");
    assertEquals(413, big.status(), big.body());
    assertEquals("application/json", big.raw().headers().firstValue("Content-Type").orElse(""));
    assertTrue(big.body().contains("scheduler.http.max-body (65536 bytes)"), big.body());

    tooLarge(submit("{\"suite\":\"s\",\"testbox\":\"t\",\"deep\":" + "[".repeat(20) + "]".repeat(20) + "}",
        "application/json"), "scheduler.submit.max-depth");
    tooLarge(submit("{\"suite\":\"s\",\"testbox\":\"t\",\"long\":\"" + "y".repeat(2000) + "\"}", "application/json"),
        "scheduler.submit.max-string-length");
    tooLarge(submit("{\"suite\":\"s\",\"testbox\":\"t\",\"n\":" + "9".repeat(40) + "}", "application/json"),
        "scheduler.submit.max-number-length");
    // short as sent, two thousand million digits written out in job.sh and job.yaml: each
    // hand-out of it ran out of memory building the box's package
    for (String huge : List.of("1e2000000000", "-1E+999", "1e-999", "0.5e-40")) {
      tooLarge(submit("{\"suite\":\"s\",\"testbox\":\"t\",\"n\":" + huge + "}", "application/json"),
          "scheduler.submit.max-number-length");
    }
    tooLarge(submit("suite: s\ntestbox: t\nn: 1e300\n", "application/yaml"), "scheduler.submit.max-number-length");
    Answer inf = submit("suite: s\ntestbox: t\nn: .inf\n", "application/yaml");
    assertEquals(400, inf.status(), inf.body());
    StringBuilder wide = new StringBuilder("{\"suite\":\"s\",\"testbox\":\"t\"");
    for (int i = 0; i < 60; i++) {
      wide.append(",\"f").append(i).append("\":").append(i);
    }
    tooLarge(submit(wide.append('}').toString(), "application/json"), "scheduler.submit.max-fields-per-job");
    StringBuilder many = new StringBuilder("[");
    for (int i = 0; i < 11; i++) {
      many.append(i == 0 ? "" : ",").append("{\"suite\":\"s\",\"testbox\":\"t\"}");
    }
    tooLarge(submit(many.append(']').toString(), "application/json"), "scheduler.submit.max-jobs-per-file");
    // the same limits for /submit_job, in Compass-CI's shape
    Answer legacy = http.send("POST", "/submit_job", "{\"suite\":\"s\",\"testbox\":\"t\",\"n\":" + "9".repeat(40) + "}",
        "Content-Type", "application/json");
    assertEquals(413, legacy.status());
    assertEquals("0", legacy.json().get(0).path("job_id").asText());
    // and for the other bodies
    tooLarge(http.post(V1 + "/jobs/wait", "{\"wait_on\":" + "[".repeat(20) + "]".repeat(20) + "}"),
        "scheduler.submit.max-depth");
    tooLarge(http.post(V1 + "/accounts", "{\"name\":\"" + "z".repeat(2000) + "\"}"), "scheduler.submit.max-string-length");
    assertEquals(before, pending(), "nothing stored");
    // a number in exponent form within the bound is taken
    assertEquals(200, submit("{\"suite\":\"s\",\"testbox\":\"t\",\"n\":1.5e3,\"m\":2.25}", "application/json").status());
  }

  @Test
  void aBillionLaughsAndDeepYamlAnswer413() {
    String laughs = """
        suite: s
        testbox: t
        a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
        b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
        c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
        d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
        e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
        f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
        """;
    Answer a = submit(laughs, "application/yaml");
    assertEquals(413, a.status(), a.body());
    assertTrue(a.body().contains("billion laughs"), a.body());
    tooLarge(submit("suite: s\ntestbox: t\ndeep: " + "[".repeat(20) + "]".repeat(20) + "\n", "application/yaml"),
        "scheduler.submit.max-depth");
    tooLarge(submit("suite: s\ntestbox: t\nn: [1, 2]\nm: [1, 2, 3, 4, 5, 6]\n", "application/yaml"),
        "scheduler.submit.max-jobs-per-file");
    // a plain alias is a plain refusal, as before
    assertEquals(400, submit("suite: s\ntestbox: t\nx: &v 1\ny: *v\n", "application/yaml").status());
  }

  @Test
  void theHeadOfARequestAnswers431() {
    int port = server.port();
    SocketHttp.Reply line = SocketHttp.exchange(port, ("GET " + V1 + "/jobs/1?x=" + "a".repeat(3000)
        + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII), 10_000);
    assertEquals(431, line.status(), line.head() + line.body());
    assertTrue(line.body().contains("max-uri-length"), line.body());

    SocketHttp.Reply header = SocketHttp.exchange(port, ("GET " + V1 + "/health HTTP/1.1\r\nHost: h\r\nX-Big: "
        + "b".repeat(2000) + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII), 10_000);
    assertEquals(431, header.status(), header.head() + header.body());
    assertTrue(header.body().length() > 1, "with a reason: " + header.body());

    StringBuilder many = new StringBuilder("GET " + V1 + "/health HTTP/1.1\r\nHost: h\r\n");
    for (int i = 0; i < 30; i++) {
      many.append("X-H").append(i).append(": v\r\n");
    }
    SocketHttp.Reply count = SocketHttp.exchange(port, many.append("Connection: close\r\n\r\n").toString()
        .getBytes(StandardCharsets.US_ASCII), 10_000);
    assertEquals(431, count.status(), count.head() + count.body());

    StringBuilder query = new StringBuilder(V1 + "/jobs/dispatch?hostname=h");
    for (int i = 0; i < 25; i++) {
      query.append("&p").append(i).append("=1");
    }
    Answer params = http.get(query.toString());
    assertEquals(431, params.status(), params.body());
    assertTrue(params.body().contains("scheduler.http.max-query-params"), params.body());
    assertEquals(200, http.get(V1 + "/health").status(), "the server is fine after all that");
  }

  /**
   * Open connections past {@code pekko.http.server.max-connections} wait in the listen backlog:
   * the next one is served once another has closed, not at once beside them. Before, the bound
   * was not kept (this server binds TCP itself) and each connection took its memory and a handle.
   */
  @Test
  void connectionsPastTheBoundWaitUntilOneCloses() throws Exception {
    Path own = java.nio.file.Files.createTempDirectory("connections-test");
    try (TestServer bounded = TestServer.start(own, Map.of("pekko.http.server.max-connections", 4))) {
      List<java.net.Socket> open = new java.util.ArrayList<>();
      try {
        // the test's own HTTP client may hold one of the four: connections are opened until one waits
        java.net.Socket waiting = null;
        for (int i = 0; i < 5 && waiting == null; i++) {
          java.net.Socket s = new java.net.Socket("127.0.0.1", bounded.port());
          open.add(s);
          s.getOutputStream().write(("GET " + V1 + "/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
          try {
            // the first is served for sure (a slow machine's first answer may take seconds); the
            // others are told apart from the one that waits by a shorter wait
            assertTrue(statusLine(s, i == 0 ? 15_000 : 3_000).startsWith("HTTP/1.1 200"), "connection " + i);
          } catch (java.net.SocketTimeoutException backlog) {
            waiting = s;
          }
        }
        assertTrue(waiting != null, "five connections served at once");
        assertTrue(open.size() >= 2, open.size() - 1 + " served before one waited");
        open.get(0).close();
        assertTrue(statusLine(waiting, 10_000).startsWith("HTTP/1.1 200"), "served once one closed");
      } finally {
        for (java.net.Socket s : open) {
          s.close();
        }
      }
    } finally {
      TestServer.deleteQuietly(own);
    }
  }

  /** The first line of the next answer on {@code s}, waiting at most {@code millis}. */
  private static String statusLine(java.net.Socket s, int millis) throws java.io.IOException {
    s.setSoTimeout(millis);
    java.io.InputStream in = s.getInputStream();
    StringBuilder line = new StringBuilder();
    for (int c = in.read(); c != -1 && c != '\n'; c = in.read()) {
      line.append((char) c);
    }
    return line.toString().trim();
  }
}
