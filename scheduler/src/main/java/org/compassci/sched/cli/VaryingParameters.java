package org.compassci.sched.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.compassci.sched.model.Json;

/**
 * What tells the jobs of one file apart, for {@code submit --dry-run}: each job as the values
 * that are not the same in all of them ({@code nr_threads=1600% mode=process ipc=pipe}). Found by
 * comparing the jobs, not by remembering the lists they came from, so a variation document's
 * changes show as well as a list's.
 */
final class VaryingParameters {

  private VaryingParameters() {}

  /** One line per job, in order; empty for a job when nothing varies. */
  static List<String> describe(List<ObjectNode> jobs) {
    List<Map<String, JsonNode>> leaves = new ArrayList<>(jobs.size());
    Set<String> paths = new LinkedHashSet<>();
    for (ObjectNode job : jobs) {
      Map<String, JsonNode> l = new LinkedHashMap<>();
      leaves(job, "", l);
      leaves.add(l);
      paths.addAll(l.keySet());
    }
    List<String> varying = paths.stream()
        .filter(p -> leaves.stream().map(l -> l.get(p)).distinct().count() > 1)
        .toList();
    Map<String, String> names = names(varying);
    List<String> lines = new ArrayList<>(jobs.size());
    for (Map<String, JsonNode> l : leaves) {
      StringBuilder line = new StringBuilder();
      for (String p : varying) {
        JsonNode v = l.get(p);
        if (v != null) {
          line.append(line.length() == 0 ? "" : " ").append(names.get(p)).append('=').append(shown(v));
        }
      }
      lines.add(line.toString());
    }
    return lines;
  }

  /** A parameter by its own name, as lkp-tests names them; by its path where two share a name. */
  private static Map<String, String> names(List<String> paths) {
    Map<String, Integer> uses = new HashMap<>();
    paths.forEach(p -> uses.merge(last(p), 1, Integer::sum));
    Map<String, String> names = new HashMap<>();
    paths.forEach(p -> names.put(p, uses.get(last(p)) > 1 ? p : last(p)));
    return names;
  }

  private static String last(String path) {
    return path.substring(path.lastIndexOf('.') + 1);
  }

  private static void leaves(JsonNode node, String path, Map<String, JsonNode> out) {
    if (node.isObject() && !node.isEmpty()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        leaves(e.getValue(), path.isEmpty() ? e.getKey() : path + "." + e.getKey(), out);
      }
    } else {
      out.put(path, node);
    }
  }

  private static String shown(JsonNode v) {
    String text = v.isValueNode() ? v.asText() : Json.write(v);
    return text.isEmpty() || text.chars().anyMatch(Character::isWhitespace)
        ? "'" + text.replace("'", "'\\''") + "'" : text;
  }
}
