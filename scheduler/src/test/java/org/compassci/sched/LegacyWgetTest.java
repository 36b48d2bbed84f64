package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.Map;
import org.compassci.sched.fixtures.HttpCalls;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The legacy calls as a testbox makes them: the query escaped as lkp-tests' escape_cgi_param
 * escapes it (%, +, &, #, ? and the space; nothing else), sent by busybox wget, which sends what
 * is left as it is. A value with characters a URI may not hold raw (a quote, a bar, brackets,
 * braces, a backslash) is recorded, not refused: busybox wget cannot read an error answer, and
 * the call would be lost. (A raw byte beyond ASCII is still refused by Pekko HTTP's parser in
 * either mode: see the README.)
 */
class LegacyWgetTest {

  @TempDir Path dir;

  /** lkp-tests lib/http.sh escape_cgi_param, as its sed does it. */
  static String lkpEscape(String s) {
    return s.replace("%", "%25").replace("+", "%2B").replace("&", "%26").replace("#", "%23")
        .replace("?", "%3F").replace(" ", "%20");
  }

  @Test
  void aValueWithCharactersAUriMayNotHoldRawIsRecorded() throws Exception {
    Path busybox = Tools.require("busybox-static", "busybox").get(0);
    try (TestServer server = TestServer.start(dir, Map.of())) {
      HttpCalls http = server.http;
      String id = http.post("/scheduler/v1/jobs/submit", "{\"suite\":\"s\",\"testbox\":\"vm-2p8g\",\"arch\":\"aarch64\"}")
          .json().get(0).path("job_id").asText();
      assertEquals(200, http.get("/scheduler/v1/jobs/dispatch?hostname=h1&arch=aarch64&tbox_type=vm&freemem=16384").status());
      String note = "a|b\"c[d]{e}<f>\\g^h`i 100% & 1+1?#";
      String query = "job_file=" + lkpEscape("/lkp/scheduled/job.yaml") + "&" + lkpEscape("job_id=" + id)
          + "&" + lkpEscape("job_state=running") + "&" + lkpEscape("note=" + note);
      String url = "http://127.0.0.1:" + server.port() + "/~lkp/cgi-bin/lkp-jobfile-append-var?" + query;
      // single quotes for sh: the URL's own ' would end them
      Tools.Run run = Tools.sh(dir, "'" + busybox + "' wget -q -O - '" + url.replace("'", "'\\''") + "'",
          Map.of(), 30);
      assertEquals(0, run.exit(), "busybox wget: " + run.output());
      JsonNode job = http.get("/scheduler/v1/jobs/" + id).json();
      assertEquals("running", job.path("job_stage").asText());
      assertEquals(note, job.path("note").asText());
    }
  }
}
