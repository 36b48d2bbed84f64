package org.compassci.sched.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.compassci.sched.persistence.JobRecord;
import org.junit.jupiter.api.Test;

/** A hand-out's answer written from the stored text is the one the parsed document gives. */
class JobAnswerTest {

  private static final long HANDED_OUT_AT = 1_764_000_000_123L;

  private static JobRecord handedOut(String doc) {
    return new JobRecord(42, "dispatch", "unknown", "N/A", "alice", "vm-2p8g", 1_764_000_000_000L, doc,
        "vm-2p8g--7", "ab".repeat(32), HANDED_OUT_AT);
  }

  private static String tree(JobRecord r, String token) {
    return Json.write(Job.fromRecord(r).view().put("job_token", token));
  }

  private static String streamed(JobRecord r, String token) {
    return new String(Job.answer(r, token), StandardCharsets.UTF_8);
  }

  @Test
  void sameBytesAsTheParsedDocument() {
    List<String> docs = List.of(
        // as submitted: state fields present, internal fields among the others
        "{\"suite\":\"hackbench\",\"id\":\"42\",\"_job_token_sha256\":\"old\",\"job_stage\":\"submit\","
            + "\"job_health\":\"unknown\",\"job_data_readiness\":\"N/A\",\"pp\":{\"hackbench\":{\"nr\":[1,2.50,3]}},"
            + "\"_secrets\":{\"k\":[\"v\",{\"x\":1}]},\"memory\":\"8G\",\"tags\":[\"a=b\"]}",
        // no state fields, no host: every attribute follows the last field
        "{\"suite\":\"unixbench\",\"weight\":1.10,\"big\":123456789012345678901234567890,\"neg\":-0.0}",
        // the document already holds a host, a dispatch time and a token of its own
        "{\"host_machine\":\"elsewhere\",\"dispatch_time\":\"2020-01-01T00:00:00Z\",\"job_token\":\"mine\","
            + "\"e\":1e5,\"f\":1.5E-7,\"z\":0.000,\"n\":null,\"t\":true,\"s\":\"\\u00e9\\n\\\"q\\\"\"}",
        "{}",
        "{\"deep\":[[[{\"a\":[{},[]]}]]],\"after\":\"x\"}",
        // written by another writer: white space between tokens and in strings, escapes, a
        // negative zero, characters beyond ASCII and beyond the basic plane
        "{ \"suite\" : \"ltp\" ,\n\t\"pp\": {\"a\": [1, 2]},\"s\":\"a b\",\"e\":\"\\u00e9\\/\","
            + "\"z\":-0,\"zs\":[0,-0,-10],\"u\":\"\u00e9\u4e2d\ud83d\ude00\",\"last\":[\"x\",{\"y\":null}] }",
        // every value as the mapper writes it, the last one a structure
        "{\"suite\":\"hackbench\",\"nr\":-12,\"big\":123456789012345678901234567890,\"t\":false,"
            + "\"tags\":[\"arch=aarch64\",\"a-0\"],\"host_machine\":\"h\",\"pp\":{\"x\":{\"y\":[[]]}}}");
    for (String doc : docs) {
      JobRecord r = handedOut(doc);
      assertEquals(tree(r, "tok-1"), streamed(r, "tok-1"), doc);
    }
  }

  @Test
  void attributesOfARecordNeverHandedOut() {
    JobRecord queued = new JobRecord(7, "submit", "unknown", "N/A", "bob", "g", 1L,
        "{\"suite\":\"s\",\"_job_token_sha256\":\"x\"}");
    assertEquals(tree(queued, "t"), streamed(queued, "t"));
  }

  @Test
  void theAnswerHoldsTheTokenAndNoInternalField() {
    JsonNode a = Json.parse(Job.answer(handedOut("{\"suite\":\"s\",\"_secrets\":{\"k\":\"v\"}}"), "tok-2"));
    assertEquals("tok-2", a.path("job_token").asText());
    assertEquals("dispatch", a.path("job_stage").asText());
    assertEquals("vm-2p8g--7", a.path("host_machine").asText());
    assertFalse(a.has("_secrets"));
    assertFalse(a.has("_job_token_sha256"));
  }

  @Test
  void aStoredDocumentThatIsNoObjectIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> Job.answer(handedOut("[1,2]"), "t"));
    assertThrows(IllegalArgumentException.class, () -> Job.answer(handedOut("{\"a\":"), "t"));
  }
}
