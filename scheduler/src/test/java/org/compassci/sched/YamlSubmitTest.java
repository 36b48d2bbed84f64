package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.compassci.sched.model.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Jobs written as YAML, posted as users write them. */
class YamlSubmitTest {

  @TempDir Path dir;

  private static HttpResponse<String> post(TestServer s, String contentType, String body) throws Exception {
    HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + "/scheduler/v1/jobs/submit"))
        .timeout(Duration.ofSeconds(20)).header("Content-Type", contentType)
        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void severalYamlDocumentsAreSeveralJobsAnsweredAsForJson() throws Exception {
    try (TestServer s = TestServer.start(dir, Map.of())) {
      String yaml = """
          suite: hackbench
          testbox: vm-2p8g
          arch: aarch64
          my_account: alice
          my_token: s3cret
          hackbench:
            nr_threads: 4
            mode: process
          ---
          suite: netperf
          testbox: dc-8g
          timeout: 600
          ---
          """;
      HttpResponse<String> r = post(s, "application/yaml", yaml);
      assertEquals(200, r.statusCode(), r.body());
      JsonNode answer = Json.parse(r.body());
      assertEquals(2, answer.size(), r.body());
      for (JsonNode a : answer) {
        assertEquals("", a.path("message").asText());
        assertEquals("submit", a.path("job_state").asText());
      }
      JsonNode first = s.http.get("/scheduler/v1/jobs/" + answer.get(0).path("job_id").asText()).json();
      assertEquals(4, first.path("hackbench").path("nr_threads").asInt(), first.toString());
      assertTrue(!first.toString().contains("s3cret"), "credentials are dropped as for JSON");
      JsonNode second = s.http.get("/scheduler/v1/jobs/" + answer.get(1).path("job_id").asText()).json();
      assertEquals("netperf", second.path("suite").asText());
    }
  }

  @Test
  void badYamlGets400AndStoresNothing() throws Exception {
    try (TestServer s = TestServer.start(dir, Map.of())) {
      HttpResponse<String> malformed = post(s, "application/yaml", "suite: [unclosed\ntestbox: x\n");
      assertEquals(400, malformed.statusCode(), malformed.body());
      assertTrue(Json.parse(malformed.body()).get(0).path("message").asText().contains("YAML"), malformed.body());
      HttpResponse<String> oneBad = post(s, "text/yaml", "suite: a\ntestbox: vm-2p8g\n---\n- 1\n- 2\n");
      assertEquals(400, oneBad.statusCode(), oneBad.body());
      HttpResponse<String> empty = post(s, "application/yaml", "---\n");
      assertEquals(400, empty.statusCode(), empty.body());
      assertEquals(0, s.http.get("/scheduler/v1/dashboard/jobs/pending").json().path("total").asInt(),
          "a rejected request stores no job");
    }
  }
}
