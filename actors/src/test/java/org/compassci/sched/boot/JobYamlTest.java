package org.compassci.sched.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.nio.charset.StandardCharsets;
import org.compassci.sched.model.Json;
import org.junit.jupiter.api.Test;

class JobYamlTest {

  static final String DOC = "{\"suite\":\"hackbench\",\"id\":\"26112900000000101\",\"#! jobs/hackbench.yaml\":null,"
      + "\"on\":\"no\",\"yes\":\"1.0\",\"version\":\"0x10\",\"empty\":\"\",\"kernel_uri\":\"http://h:8000/a b\","
      + "\"nasty\":\"a\\nb \\\"q\\\" 'single' \\\\ $x: - [x] {y} # c \\u0085 \\u2028 \\u2029 \\u0001 é 😀 \\u007f \\u0080 \\ufeff \\uffff\","
      + "\"nr\":8,\"ratio\":0.5,\"big\":1E+3,\"flag\":true,\"list\":[\"a\",1,null,{\"k\":\"v\"}],"
      + "\"services\":{\"sched_host\":\"10.0.2.2\",\"sched_port\":\"3000\"},\"nested\":{\"a\":{\"b\":[]},\"e\":{}},"
      + "\"hw.memory\":\"8G\",\"1st\":1,\"-x\":2}";

  @Test
  void yamlReadsBackTheSameJob() throws Exception {
    ObjectNode job = (ObjectNode) Json.parse(DOC);
    byte[] yaml = JobYaml.write(job);
    JsonNode back = new YAMLMapper().readTree(yaml);
    for (var it = job.fields(); it.hasNext(); ) {
      var e = it.next();
      JsonNode b = back.get(e.getKey());
      if (e.getValue().isNumber()) {
        assertEquals(0, e.getValue().decimalValue().compareTo(b.decimalValue()), e.getKey());
      } else {
        assertEquals(e.getValue(), b, e.getKey() + " in\n" + new String(yaml, StandardCharsets.UTF_8));
      }
    }
    assertEquals(job.size(), back.size());
  }

  /**
   * YAML 1.1 readers take no simple key past 1,024 characters (libyaml, which Ruby's Psych and
   * so lkp-tests and multi-qemu-docker read with, refused one of 1,030 here; SnakeYAML takes it):
   * the longest name a submit takes (255, at any depth) is read back.
   */
  @Test
  void theLongestNameASubmitTakesIsReadBack() throws Exception {
    String name = "k".repeat(org.compassci.sched.model.IntakeLimits.MAX_NAME_LENGTH);
    ObjectNode job = (ObjectNode) Json.parse("{\"suite\":\"s\",\"" + name + "\":1,\"pp\":{\"" + name + "\":{\"" + name + "\":2}}}");
    JsonNode back = new YAMLMapper().readTree(JobYaml.write(job));
    assertEquals(1, back.path(name).asInt());
    assertEquals(2, back.path("pp").path(name).path(name).asInt());
  }

  @Test
  void topLevelKeysStartTheirLinesAsLkpTestsGrepsThem() {
    String text = new String(JobYaml.write((ObjectNode) Json.parse(DOC)), StandardCharsets.UTF_8);
    assertTrue(text.startsWith("---\nsuite: \"hackbench\"\nid: \"26112900000000101\"\n\"#! jobs/hackbench.yaml\": null\n"), text);
    assertTrue(text.contains("\nkernel_uri: \"http://h:8000/a b\"\n"), text);
    assertTrue(text.contains("\n\"on\": \"no\"\n"), text);
    assertTrue(text.contains("\\u2028"), text);
    assertTrue(text.contains("\nbig: 1000\n"), text);
    assertEquals(Json.parse(DOC).size() + 1, text.split("\n").length, "one line per key: " + text);
  }
}
