package org.compassci.sched.cli;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/**
 * A job file as users write it for lkp's {@code submit}: YAML, one job per document, documents
 * separated by {@code ---}; and the {@code -s} settings that override fields of every job.
 */
final class JobFile {

  private static final YAMLMapper YAML = new YAMLMapper();

  private JobFile() {}

  /** The jobs of a file, or of stdin for {@code -}; a CliFailure (exit 2) names what is wrong. */
  static List<ObjectNode> read(String name, InputStream stdin) {
    if (name.equals("-")) {
      return parse("stdin", stdin);
    }
    Path file = Path.of(name);
    if (Files.isDirectory(file)) {
      throw CliFailure.badJobFile(name + ": is a folder, not a job file");
    }
    try (InputStream in = Files.newInputStream(file)) {
      return parse(name, in);
    } catch (NoSuchFileException e) {
      throw CliFailure.badJobFile(name + ": no such file");
    } catch (AccessDeniedException e) {
      throw CliFailure.badJobFile(name + ": permission denied");
    } catch (IOException e) {
      throw CliFailure.badJobFile(name + ": cannot read it: " + e.getMessage());
    }
  }

  private static List<ObjectNode> parse(String name, InputStream in) {
    List<ObjectNode> jobs = new ArrayList<>();
    int document = 0;
    // a parser rather than readValues(): that one would take a top-level list as the documents
    try (JsonParser docs = YAML.createParser(in)) {
      while (docs.nextToken() != null) {
        JsonNode doc = YAML.readTree(docs);
        document++;
        if (doc == null || doc.isNull() || doc.isMissingNode()) {
          // an empty document, e.g. after a trailing ---: nothing to submit, nothing wrong
          continue;
        }
        if (!doc.isObject()) {
          throw CliFailure.badJobFile(name + ": document " + document + " is "
              + (doc.isArray() ? "a list" : "a single value")
              + ", not a job; write one job per document, as key: value lines, separated by ---");
        }
        jobs.add((ObjectNode) doc);
      }
    } catch (JsonProcessingException e) {
      throw CliFailure.badJobFile(name + ": not valid YAML" + where(e.getLocation()) + ": " + problem(e));
    } catch (IOException e) {
      throw CliFailure.badJobFile(name + ": cannot read it: " + e.getMessage());
    } catch (CliFailure f) {
      throw f;
    } catch (RuntimeException e) {
      // Jackson wraps some parser failures in unchecked exceptions; snakeyaml has its own
      if (e.getCause() instanceof JsonProcessingException p) {
        throw CliFailure.badJobFile(name + ": not valid YAML" + where(p.getLocation()) + ": " + problem(p));
      }
      throw CliFailure.badJobFile(name + ": not valid YAML: " + oneLine(e.getMessage()));
    }
    if (jobs.isEmpty()) {
      throw CliFailure.badJobFile(name + ": holds no job");
    }
    return jobs;
  }

  /**
   * Sets {@code key=value} on every job. lkp's own {@code -s 'key: value'} is taken too, so that
   * the commands people already have keep working. The value is read as a YAML scalar, so
   * {@code nr_threads=8} sets a number, as it would in the file.
   */
  static void set(List<ObjectNode> jobs, List<String> settings) {
    for (String s : settings) {
      int eq = s.indexOf('=');
      int colon = s.indexOf(": ");
      int at = eq >= 0 && (colon < 0 || eq < colon) ? eq : colon;
      if (at <= 0) {
        throw new IllegalArgumentException("-s '" + s + "': give key=value");
      }
      String key = s.substring(0, at).strip();
      String text = s.substring(at + (at == colon ? 2 : 1)).strip();
      if (key.isEmpty()) {
        throw new IllegalArgumentException("-s '" + s + "': the key is empty");
      }
      JsonNode value = scalar(text);
      jobs.forEach(j -> j.set(key, value.deepCopy()));
    }
  }

  private static JsonNode scalar(String text) {
    if (text.isEmpty()) {
      return YAML.getNodeFactory().textNode("");
    }
    try {
      JsonNode v = YAML.readTree(text);
      // "a: b" or "[1, 2]" would make a structure; -s sets plain values, so keep those as text
      if (v != null && (v.isValueNode() || v.isNull())) {
        return v;
      }
    } catch (JsonProcessingException e) {
      // not a YAML scalar ("*x", "{"): the text as it is
    }
    return YAML.getNodeFactory().textNode(text);
  }

  /**
   * SnakeYAML's message quotes the offending line with a caret under it; on one line that reads
   * as noise, and the position is already given, so only its naming of the problem is kept.
   */
  private static String problem(JsonProcessingException e) {
    if (e.getCause() instanceof MarkedYAMLException m && m.getProblem() != null) {
      return oneLine(m.getProblem());
    }
    return oneLine(e.getOriginalMessage());
  }

  private static String where(JsonLocation at) {
    return at == null || at.getLineNr() < 1 ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
  }

  private static String oneLine(String message) {
    return message == null ? "" : message.strip().replaceAll("\\s*\\n\\s*", " ");
  }
}
