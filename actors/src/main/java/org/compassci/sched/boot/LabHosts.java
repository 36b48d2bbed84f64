package org.compassci.sched.boot;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.compassci.sched.model.InvalidJobException;
import org.compassci.sched.model.JobIntake;
import org.compassci.sched.model.Json;
import org.compassci.sched.model.MemorySize;

/**
 * A Compass-CI lab's {@code hosts/} folder: one YAML file per testbox, named by its hostname, in
 * the lab's format ({@code mac_addr} as a string or a list, {@code arch}, {@code memory} such as
 * {@code 256G}, {@code nr_cpu}, optional {@code tbox_group} and {@code tags}). Each file becomes
 * the same registration a {@code POST /scheduler/v1/hosts/{hostname}} makes. Only the fields the
 * scheduler uses are kept: lab files also hold BMC addresses and passwords, which no answer shows.
 */
public final class LabHosts {

  /** The registrations found, by hostname, and one line for each file that was left out. */
  /**
   * {@code listed}: the whole folder was listed (a folder that cannot be, or stops being, read
   * part way tells nothing of the boxes it holds); {@code unreadable}: the files listed whose
   * registration could not be read (a box whose file has a typo is still that box).
   */
  public record Lab(Map<String, ObjectNode> hosts, List<String> problems, boolean listed,
      java.util.Set<String> unreadable) {

    public Lab(Map<String, ObjectNode> hosts, List<String> problems) {
      this(hosts, problems, true, java.util.Set.of());
    }

    /** Nothing could be listed: {@code why}. */
    public static Lab unlisted(String why) {
      return new Lab(Map.of(), List.of(why), false, java.util.Set.of());
    }
  }

  private static final YAMLMapper YAML = new YAMLMapper(YAMLFactory.builder().build());

  /** Plain fields copied as they are, beside the ones read below. */
  private static final List<String> KEPT = List.of("nr_node", "nr_disks", "model_name");

  /** Most files read from one folder: a lab has thousands of boxes, not millions. */
  static final int MAX_FILES = 100_000;

  private LabHosts() {}

  /** Reads every regular file of {@code dir} not starting with '.'; blocking, so never on an actor's thread. */
  public static Lab read(Path dir) {
    Map<String, ObjectNode> hosts = new TreeMap<>();
    List<String> problems = new ArrayList<>();
    java.util.Set<String> unreadable = new java.util.HashSet<>();
    if (!Files.isDirectory(dir)) {
      return Lab.unlisted(dir + ": not a folder");
    }
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
      for (Path f : files) {
        String name = f.getFileName().toString();
        if (name.startsWith(".") || !Files.isRegularFile(f)) {
          continue;
        }
        if (hosts.size() + problems.size() >= MAX_FILES) {
          problems.add(dir + ": more than " + MAX_FILES + " files, the rest left out");
          break;
        }
        try {
          hosts.put(name, registration(name, YAML.readTree(f.toFile())));
        } catch (InvalidJobException e) {
          unreadable.add(name);
          problems.add(f + ": " + e.getMessage());
        } catch (IOException | RuntimeException e) {
          unreadable.add(name);
          String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().lines().findFirst().orElse("");
          problems.add(f + ": malformed YAML: " + why);
        }
      }
    } catch (IOException | java.nio.file.DirectoryIteratorException e) {
      return Lab.unlisted(dir + ": cannot be read: " + e.getMessage());
    }
    return new Lab(hosts, problems, true, unreadable);
  }

  /**
   * One lab file as a registration: arch, tbox_type hw, tbox_group (the hostname without its
   * --suffix unless given), tags ("k=v,..."), memory in MB, mac_addr (canonical, a list) and nr_cpu.
   * Throws {@link InvalidJobException} saying what is wrong.
   */
  public static ObjectNode registration(String hostname, JsonNode yaml) {
    JobIntake.checkPathComponent("hostname", hostname);
    if (yaml == null || yaml.isNull() || yaml.isMissingNode()) {
      yaml = Json.object();
    }
    if (!yaml.isObject()) {
      throw new InvalidJobException("must be a mapping of fields (mac_addr, arch, memory, ...)");
    }
    ObjectNode out = Json.object();
    String arch = text(yaml, "arch");
    if (arch != null) {
      out.put("arch", JobIntake.checkPathComponent("arch", arch));
    }
    out.put("tbox_type", "hw");
    String group = text(yaml, "tbox_group");
    out.put("tbox_group", group != null ? JobIntake.checkPathComponent("tbox_group", group)
        : JobIntake.cutSuffix(hostname));
    // at most Testbox.MAX_TAGS: a file with more was taken, and every boot of its box got a 400
    List<String> tags = org.compassci.sched.model.Testbox.ownTags(String.join(",", tags(yaml.get("tags"))));
    if (!tags.isEmpty()) {
      out.put("tags", String.join(",", tags));
    }
    JsonNode memory = yaml.get("memory");
    if (memory != null && !memory.isNull()) {
      if (!memory.isTextual() && !memory.isNumber()) {
        throw new InvalidJobException("memory: must be a size like 256G");
      }
      out.put("memory", MemorySize.parseMb("memory", memory.asText()));
    }
    JsonNode cpus = yaml.get("nr_cpu");
    if (cpus != null && !cpus.isNull()) {
      if (!cpus.canConvertToInt() && !(cpus.isTextual() && cpus.asText().trim().matches("\\d{1,6}"))) {
        throw new InvalidJobException("nr_cpu: must be a whole number");
      }
      out.put("nr_cpu", cpus.isTextual() ? Integer.parseInt(cpus.asText().trim()) : cpus.intValue());
    }
    out.set("mac_addr", macs(yaml.get("mac_addr")));
    for (String k : KEPT) {
      JsonNode v = yaml.get(k);
      if (v != null && v.isValueNode() && !v.isNull()) {
        out.set(k, v);
      }
    }
    return out;
  }

  /** {@code mac_addr} as a string (several split by spaces or commas) or a list, canonical. */
  public static ArrayNode macs(JsonNode node) {
    Set<String> out = new LinkedHashSet<>();
    if (node != null && !node.isNull()) {
      List<JsonNode> items = new ArrayList<>();
      if (node.isArray()) {
        node.forEach(items::add);
      } else {
        items.add(node);
      }
      for (JsonNode item : items) {
        if (!item.isTextual()) {
          throw new InvalidJobException("mac_addr: must be a string or a list of strings");
        }
        for (String m : item.asText().split("[,\\s]+")) {
          if (!m.isBlank()) {
            out.add(Mac.normalize(m));
          }
        }
      }
    }
    ArrayNode a = Json.MAPPER.createArrayNode();
    out.forEach(a::add);
    return a;
  }

  /**
   * A box's own tags, as "k=v": a list, a mapping, or a comma list. A bare word such as
   * {@code gpu} (Compass-CI's form) is offered as {@code gpu=true}, which a job asks for with
   * {@code tags: {gpu: true}}.
   */
  public static List<String> tags(JsonNode node) {
    List<String> out = new ArrayList<>();
    if (node == null || node.isNull()) {
      return out;
    }
    if (node.isObject()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        if (!e.getValue().isValueNode()) {
          throw new InvalidJobException("tags." + e.getKey() + ": must be a string or a number");
        }
        out.add(tag(e.getKey() + "=" + (e.getValue().isNull() ? "true" : e.getValue().asText())));
      }
    } else if (node.isArray()) {
      for (JsonNode t : node) {
        if (!t.isValueNode() || t.isNull()) {
          throw new InvalidJobException("tags: list entries must be strings like \"k=v\"");
        }
        out.add(tag(t.asText()));
      }
    } else if (node.isTextual()) {
      out.addAll(tags(node.asText()));
    } else {
      throw new InvalidJobException("tags: must be a list, a mapping or a comma list");
    }
    return out;
  }

  /** A comma list of tags, as a boot request's {@code tags} parameter gives them. */
  public static List<String> tags(String commaList) {
    List<String> out = new ArrayList<>();
    for (String t : commaList.split(",")) {
      if (!t.isBlank()) {
        out.add(tag(t));
      }
    }
    return out;
  }

  private static String tag(String raw) {
    String t = raw.trim();
    if (t.indexOf(',') >= 0 || t.chars().anyMatch(c -> c < 0x20)) {
      throw new InvalidJobException("tags: '" + t + "' is not a tag");
    }
    return org.compassci.sched.model.Testbox.ownTag(t.indexOf('=') < 0 ? t + "=true" : t);
  }

  private static String text(JsonNode yaml, String field) {
    JsonNode v = yaml.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isValueNode()) {
      throw new InvalidJobException(field + ": must be a string");
    }
    String s = v.asText().trim();
    return s.isEmpty() ? null : s;
  }
}
