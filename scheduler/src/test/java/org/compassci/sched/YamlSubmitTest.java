package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.compassci.sched.cli.Cli;
import org.compassci.sched.model.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Job files posted as YAML, as users write them for lkp-tests, and the same files through the CLI. */
class YamlSubmitTest {

  /** A matrix (2 x 2 x 2) and a variation that replaces a program's map: 8 + 3 jobs. */
  static final String MATRIX = """
      suite: ring-bench
      category: benchmark
      testbox: vm-2p8g
      arch: aarch64
      my_account: alice
      nr_threads:
      - 200%
      - 25%
      need_kconfig: [CONFIG_FUTEX=y, CONFIG_EVENTFD=y]
      ring-bench:
        transport: [pipe, socket]
        wakeup:
        - spin
        - futex

      ---
      ring-bench:
        transport: eventfd
        wakeup: [spin, futex, poll]
      nr_threads: 1
      """;

  @TempDir Path dir;

  private static HttpResponse<String> post(TestServer s, String contentType, String body) throws Exception {
    HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + "/scheduler/v1/jobs/submit"))
        .timeout(Duration.ofSeconds(20)).header("Content-Type", contentType)
        .header("Authorization", "Bearer " + TestServer.ADMIN_TOKEN)
        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private static List<String> ids(JsonNode answer) {
    List<String> ids = new ArrayList<>();
    answer.forEach(a -> ids.add(a.path("job_id").asText()));
    return ids;
  }

  /** A stored job without what the server gives each job of its own. */
  private static ObjectNode stored(TestServer s, String id) {
    ObjectNode job = (ObjectNode) s.http.get("/scheduler/v1/jobs/" + id).json();
    job.remove(List.of("id", "submit_time", "result_root"));
    return job;
  }

  private static int pending(TestServer s) {
    return s.http.get("/scheduler/v1/dashboard/jobs/pending").json().path("total").asInt();
  }

  @Test
  void aYamlJobFileIsExpandedAndAnsweredAsForJson() throws Exception {
    try (TestServer s = TestServer.start(dir, Map.of())) {
      HttpResponse<String> r = post(s, "application/yaml", MATRIX);
      assertEquals(200, r.statusCode(), r.body());
      JsonNode answer = Json.parse(r.body());
      assertEquals(8 + 3, answer.size(), r.body());
      for (JsonNode a : answer) {
        assertEquals("", a.path("message").asText());
        assertEquals("submit", a.path("job_state").asText());
      }
      List<String> ids = ids(answer);
      JsonNode first = stored(s, ids.get(0));
      assertEquals("200%", first.path("nr_threads").asText(), first.toString());
      assertEquals("pipe", first.at("/ring-bench/transport").asText());
      assertEquals("spin", first.at("/ring-bench/wakeup").asText());
      assertEquals(2, first.path("need_kconfig").size(), "a list by nature stays a list: " + first);
      JsonNode eighth = stored(s, ids.get(7));
      assertEquals("25%", eighth.path("nr_threads").asText());
      assertEquals("socket", eighth.at("/ring-bench/transport").asText());
      assertEquals("futex", eighth.at("/ring-bench/wakeup").asText());
      JsonNode last = stored(s, ids.get(10));
      assertEquals(1, last.path("nr_threads").asInt(), "the variation replaced it: " + last);
      assertEquals("eventfd", last.at("/ring-bench/transport").asText());
      assertEquals("poll", last.at("/ring-bench/wakeup").asText());
      assertEquals("alice", last.path("my_account").asText(), "the rest comes from the base");
    }
  }

  @Test
  void theSameFileThroughTheCliAndAsYamlMakesTheSameJobs() throws Exception {
    try (TestServer s = TestServer.start(dir, Map.of())) {
      HttpResponse<String> r = post(s, "application/yaml", MATRIX);
      assertEquals(200, r.statusCode(), r.body());
      List<String> posted = ids(Json.parse(r.body()));

      Path file = dir.resolve("ring-bench.yaml");
      Files.writeString(file, MATRIX);
      StringWriter out = new StringWriter();
      StringWriter err = new StringWriter();
      CommandLine cl = Cli.commandLine(Map.of("SCHED_URL", "http://127.0.0.1:" + s.port(), "SCHED_TOKEN", TestServer.ADMIN_TOKEN),
          new ByteArrayInputStream(new byte[0]));
      cl.setOut(new PrintWriter(out, true));
      cl.setErr(new PrintWriter(err, true));
      assertEquals(0, cl.execute("submit", file.toString()), err.toString());
      List<String> submitted = new ArrayList<>();
      Matcher m = Pattern.compile("(?m)^submitted (\\d+) result_root=").matcher(out.toString());
      while (m.find()) {
        submitted.add(m.group(1));
      }
      assertTrue(out.toString().endsWith("\n11 jobs submitted\n"), out.toString());

      assertEquals(posted.size(), submitted.size(), out.toString());
      for (int i = 0; i < posted.size(); i++) {
        assertEquals(stored(s, posted.get(i)), stored(s, submitted.get(i)), "job " + (i + 1));
      }
    }
  }

  /**
   * With scheduler.submit.lkp-src set, the server reads a posted job file's programs as lkp-tests'
   * submit would, against that tree, and the job's job.sh then runs them: the test under
   * program:, the monitor under monitor:. JSON is taken as written.
   */
  @Test
  void aServerWithAnLkpTestsTreeFindsTheFilesPrograms() throws Exception {
    Path tree = dir.resolve("lkp-src");
    for (String f : List.of("tests/ring-bench", "monitors/vmstat")) {
      Files.createDirectories(tree.resolve(f).getParent());
      Files.writeString(tree.resolve(f), "#!/bin/sh\n");
      tree.resolve(f).toFile().setExecutable(true);
    }
    try (TestServer s = TestServer.start(dir.resolve("data"), Map.of("scheduler.submit.lkp-src", tree.toString()))) {
      HttpResponse<String> r = post(s, "application/yaml",
          MATRIX.replace("need_kconfig:", "vmstat:\n  interval: 5\nneed_kconfig:"));
      assertEquals(200, r.statusCode(), r.body());
      List<String> ids = ids(Json.parse(r.body()));
      assertEquals(11, ids.size());
      ObjectNode job = stored(s, ids.get(0));
      assertEquals("pipe", job.path("program").path("ring-bench").path("transport").asText(), job.toString());
      assertTrue(job.path("ring-bench").isMissingNode(), job.toString());
      assertEquals(5, job.path("monitor").path("vmstat").path("interval").asInt(), job.toString());
      // JSON is what a tool that expanded the file sends: as written
      HttpResponse<String> json = post(s, "application/json",
          "{\"suite\":\"s\",\"testbox\":\"vm-2p8g\",\"ring-bench\":{\"transport\":\"pipe\"}}");
      assertEquals(200, json.statusCode(), json.body());
      ObjectNode asWritten = stored(s, ids(Json.parse(json.body())).get(0));
      assertEquals("pipe", asWritten.path("ring-bench").path("transport").asText(), asWritten.toString());
      assertTrue(asWritten.path("program").isMissingNode(), asWritten.toString());
    }
  }

  @Test
  void aFileOverTheCeilingIsRefusedWithItsCountAndStoresNothing() throws Exception {
    try (TestServer s = TestServer.start(dir, Map.of("scheduler.submit.max-jobs-per-file", 10))) {
      HttpResponse<String> r = post(s, "application/yaml", MATRIX);
      assertEquals(413, r.statusCode(), "a size limit: " + r.body());
      String why = Json.parse(r.body()).get(0).path("message").asText();
      assertTrue(why.contains("would make 11 jobs, more than the 10"), why);
      assertTrue(why.contains("scheduler.submit.max-jobs-per-file"), why);
      assertEquals(0, pending(s), "nothing of the file is stored");
      assertEquals(200, post(s, "application/yaml", MATRIX.substring(0, MATRIX.indexOf("---"))).statusCode(),
          "the base alone makes 8");
    }
  }

  @Test
  void rubyInAJobFileIsRefusedNamingTheKey() throws Exception {
    try (TestServer s = TestServer.start(dir, Map.of())) {
      HttpResponse<String> r = post(s, "application/yaml", """
          suite: fs-bench
          testbox: vm-2p8g
          fs: [ext4, xfs]
          fs-bench:
            files: {{ fs == 'xfs' ? 1000 : 100 }}
          """);
      assertEquals(400, r.statusCode(), r.body());
      String why = Json.parse(r.body()).get(0).path("message").asText();
      assertTrue(why.startsWith("fs-bench.files (line 5): '{{ … }}' is a Ruby expression"), why);
      assertEquals(0, pending(s));
    }
  }

  @Test
  void badYamlGets400AndStoresNothing() throws Exception {
    try (TestServer s = TestServer.start(dir, Map.of())) {
      HttpResponse<String> malformed = post(s, "application/yaml", "suite: [unclosed\ntestbox: x\n");
      assertEquals(400, malformed.statusCode(), malformed.body());
      assertTrue(Json.parse(malformed.body()).get(0).path("message").asText().contains("YAML"), malformed.body());
      HttpResponse<String> mixed = post(s, "text/yaml", "suite: a\ntestbox: vm-2p8g\n---\n- 1\n- 2\n");
      assertEquals(400, mixed.statusCode(), mixed.body());
      HttpResponse<String> notJobs = post(s, "text/yaml", "- 1\n- 2\n");
      assertEquals(400, notJobs.statusCode(), notJobs.body());
      HttpResponse<String> empty = post(s, "application/yaml", "---\n");
      assertEquals(400, empty.statusCode(), empty.body());
      HttpResponse<String> oneInvalid = post(s, "application/yaml", "suite: a\nnr: [1, 2]\n");
      assertEquals(400, oneInvalid.statusCode(), oneInvalid.body());
      assertEquals(2, Json.parse(oneInvalid.body()).size(), "a message per job, as for JSON: " + oneInvalid.body());
      assertEquals(0, pending(s), "a rejected request stores no job");
    }
  }

  @Test
  void yamlListsOfJobsAndJsonAreTakenAsWritten() throws Exception {
    try (TestServer s = TestServer.start(dir, Map.of())) {
      HttpResponse<String> listed = post(s, "application/yaml", """
          - suite: a
            testbox: dc-8g
            nr_threads: [1, 2]
          - suite: b
            testbox: dc-8g
          """);
      assertEquals(200, listed.statusCode(), listed.body());
      List<String> ids = ids(Json.parse(listed.body()));
      assertEquals(2, ids.size());
      assertTrue(stored(s, ids.get(0)).path("nr_threads").isArray());

      HttpResponse<String> json = post(s, "application/json",
          "{\"suite\":\"c\",\"testbox\":\"dc-8g\",\"nr_threads\":[1,2]}");
      assertEquals(200, json.statusCode(), json.body());
      JsonNode one = Json.parse(json.body());
      assertEquals(1, one.size(), "JSON is not expanded: lkp-tests expanded it already");
      assertTrue(stored(s, one.get(0).path("job_id").asText()).path("nr_threads").isArray());
    }
  }
}
