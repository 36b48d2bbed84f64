package org.compassci.sched.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.cpio.CpioArchiveEntry;
import org.apache.commons.compress.archivers.cpio.CpioArchiveInputStream;
import org.compassci.sched.model.Json;
import org.junit.jupiter.api.Test;

class JobPackageTest {

  record Entry(long mode, byte[] data) {}

  static Map<String, Entry> unpack(byte[] cgz) throws Exception {
    Map<String, Entry> out = new LinkedHashMap<>();
    try (CpioArchiveInputStream in = new CpioArchiveInputStream(new GZIPInputStream(new ByteArrayInputStream(cgz)))) {
      CpioArchiveEntry e;
      while ((e = in.getNextEntry()) != null) {
        out.put(e.getName(), new Entry(e.getMode(), in.readAllBytes()));
        assertEquals(0x070701, e.getFormat() == 1 ? 0x070701 : 0, "newc");
      }
    }
    return out;
  }

  static ObjectNode job() {
    return (ObjectNode) Json.parse("{\"suite\":\"hackbench\",\"id\":\"7\",\"result_root\":\"/result/h/d/g/7\","
        + "\"#! jobs/hackbench.yaml\":null,\"_secrets\":\"sealed\",\"_job_token_sha256\":\"h\","
        + "\"job2sh\":{\"run_job\":[\"run_job()\",\"{\",\"}\"]},\"program\":{\"hackbench\":null}}");
  }

  @Test
  void thePackageHoldsTheFiveEntriesInOrderWithTheirModes() throws Exception {
    byte[] cgz = JobPackage.build(job(), "tok", new JobPackage.Endpoint("10.0.2.2", 3000),
        Json.parse("{\"api_key\":\"k1\"}"), 1_700_000_000L);
    Map<String, Entry> files = unpack(cgz);
    assertEquals(java.util.List.of("lkp", "lkp/scheduled", "lkp/scheduled/job.yaml", "lkp/scheduled/job.sh",
        "lkp/scheduled/secrets.yaml"), java.util.List.copyOf(files.keySet()));
    assertEquals(0040755, files.get("lkp").mode());
    assertEquals(0100775, files.get("lkp/scheduled/job.sh").mode());
    assertEquals(0100600, files.get("lkp/scheduled/secrets.yaml").mode());

    JsonNode yaml = new YAMLMapper().readTree(files.get("lkp/scheduled/job.yaml").data());
    assertEquals("7", yaml.path("id").asText());
    assertEquals("tok", yaml.path("job_token").asText());
    assertEquals("/result/h/d/g/7", yaml.path("result_root").asText());
    assertEquals("10.0.2.2", yaml.path("LKP_SERVER").asText());
    assertEquals("3000", yaml.path("LKP_CGI_PORT").asText());
    assertEquals("3000", yaml.path("RESULT_WEBDAV_PORT").asText());
    assertEquals("10.0.2.2", yaml.path("services").path("result_host").asText());
    assertEquals("3000", yaml.path("services").path("sched_port").asText());
    assertTrue(yaml.has("#! jobs/hackbench.yaml"), "markers stay in job.yaml");
    assertFalse(yaml.has("_secrets") || yaml.has("_job_token_sha256") || yaml.has("job2sh") || yaml.has("secrets"));

    String sh = new String(files.get("lkp/scheduled/job.sh").data(), StandardCharsets.UTF_8);
    assertTrue(sh.contains("run_job()\n{\n}\n"), sh);
    assertEquals("k1", new YAMLMapper().readTree(files.get("lkp/scheduled/secrets.yaml").data()).path("api_key").asText());
  }

  @Test
  void noSecretsNoSecretsFile() throws Exception {
    Map<String, Entry> files = unpack(JobPackage.build(job(), "tok", new JobPackage.Endpoint("h", 1), null, 0));
    assertNull(files.get("lkp/scheduled/secrets.yaml"));
    assertEquals(4, files.size());
  }
}
