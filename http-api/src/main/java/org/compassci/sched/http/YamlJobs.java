package org.compassci.sched.http;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Jobs written as YAML, as Compass-CI users write them: every {@code ---} document is one job
 * (or a list of jobs). Read into the same JSON trees the JSON path produces, so nothing after
 * this knows the difference.
 */
final class YamlJobs {

  private static final YAMLMapper YAML = new YAMLMapper(YAMLFactory.builder().build());

  private YamlJobs() {}

  /** Throws IllegalArgumentException saying where the YAML is wrong. */
  static List<JsonNode> documents(byte[] body) {
    List<JsonNode> docs = new ArrayList<>();
    try (JsonParser parser = YAML.createParser(body);
         MappingIterator<JsonNode> it = YAML.readValues(parser, JsonNode.class)) {
      while (it.hasNextValue()) {
        JsonNode doc = it.nextValue();
        // an empty document (a trailing ---) holds no job
        if (doc != null && !doc.isNull() && !doc.isMissingNode()
            && !(doc.isTextual() && doc.asText().isBlank())) {
          docs.add(doc);
        }
      }
    } catch (IOException | RuntimeException e) {
      String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().lines().findFirst().orElse("");
      throw new IllegalArgumentException("malformed YAML: " + why);
    }
    return docs;
  }
}
