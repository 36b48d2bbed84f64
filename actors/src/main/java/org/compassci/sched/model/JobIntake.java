package org.compassci.sched.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Turns a submitted document into a job draft: checks the fields the scheduler reads, removes
 * credentials and the fields only the scheduler may set, and derives what a job leaves implicit.
 * Pure and thread-safe, so the HTTP edge runs it before any actor sees the job.
 */
public final class JobIntake {

  /** Credentials and personal data: never stored, never answered. */
  public static final Set<String> SECRET_FIELDS =
      Set.of("my_token", "my_email", "my_name", "secrets", "job_token");

  /** Fields the scheduler owns; a submitter's values are dropped. */
  private static final Set<String> SERVER_FIELDS = Set.of(
      "id", "job_id", "job_stage", "job_health", "job_data_readiness", "result_root",
      "submit_time", "host_machine", "last_reported_state", "requeue_count",
      "last_requeue_reason", "renew_deadline", "stats", "extract_error", Job.BOX_ADDRESS);

  /**
   * Fields whose values become folder names (result_root is built from suite and tbox_group) or
   * parts of URLs (the OS a box boots): each must be one plain name, so that no value can climb
   * out of the results folder or point elsewhere ("../../etc", "a/b", "").
   */
  public static final List<String> PATH_FIELDS = List.of(
      "suite", "testbox", "tbox_group", "my_account", "queue", "arch", "os", "os_arch", "os_version");

  /**
   * One plain name (letters, digits, '.', '_', '+', '-', the first a letter or digit; at most
   * 255): safe in a path, a URL or a log line. By hand, not by a regular expression: every
   * dispatch checks the box's names, and the pattern's matcher was 2.5 % of a hand-out's CPU.
   */
  public static boolean isPlainName(String value) {
    int n = value.length();
    if (n == 0 || n > 255 || !isAsciiLetterOrDigit(value.charAt(0))) {
      return false;
    }
    for (int i = 1; i < n; i++) {
      char c = value.charAt(i);
      if (!isAsciiLetterOrDigit(c) && c != '.' && c != '_' && c != '+' && c != '-') {
        return false;
      }
    }
    return true;
  }

  private static boolean isAsciiLetterOrDigit(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  }

  private static final Set<String> MEMORY_FIELDS =
      Set.of("memory_minimum", "memory", "need_memory", "hw.memory");

  /**
   * The top-level fields {@link #prepare} reads to derive what matching needs (the rest it only
   * strips or keeps): enough of a stored document to queue its job again.
   */
  private static final Set<String> MATCHING_FIELDS;

  static {
    Set<String> fields = new java.util.HashSet<>(PATH_FIELDS);
    fields.addAll(MEMORY_FIELDS);
    fields.addAll(List.of("tbox_type", "tags", "target_machines", "hw", "priority", "timeout", "runtime"));
    MATCHING_FIELDS = Set.copyOf(fields);
  }

  /** One field's value out of a document being read: what follows it is not trailing input. */
  private static final com.fasterxml.jackson.databind.ObjectReader FIELD_READER = Json.MAPPER.reader()
      .without(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  private JobIntake() {}

  /**
   * {@link #prepare} of a stored document, reading only the fields matching needs: the other
   * fields (most of a job: its parameters, its job2sh) are skipped by the tokenizer, not built
   * into a tree and copied. This is what a restart does for every queued job, in one actor.
   * The draft's document holds those fields only.
   */
  public static Draft prepareStored(String json) {
    ObjectNode matching = Json.object();
    try (com.fasterxml.jackson.core.JsonParser p = Json.MAPPER.createParser(json)) {
      if (p.nextToken() != com.fasterxml.jackson.core.JsonToken.START_OBJECT) {
        throw new InvalidJobException("a job must be a JSON object");
      }
      while (p.nextToken() == com.fasterxml.jackson.core.JsonToken.FIELD_NAME) {
        String name = p.currentName();
        p.nextToken();
        if (MATCHING_FIELDS.contains(name)) {
          matching.set(name, FIELD_READER.readTree(p));
        } else {
          p.skipChildren();
        }
      }
    } catch (java.io.IOException e) {
      throw new InvalidJobException("not valid JSON: " + e.getMessage());
    }
    return prepare(matching);
  }

  /** A checked job without id: the document to store and what matching needs. */
  public record Draft(ObjectNode doc, Requirements requirements, String tenant, String queue,
      int priority) {

    /** A field of the document as text, "" when missing or null (as {@link Job#field}). */
    public String field(String name) {
      JsonNode v = doc.get(name);
      return v == null || v.isNull() ? "" : v.asText();
    }
  }

  public static Draft prepare(JsonNode raw) {
    if (raw == null || !raw.isObject()) {
      throw new InvalidJobException("a job must be a JSON object");
    }
    ObjectNode doc = ((ObjectNode) raw).deepCopy();
    stripSecrets(doc);
    doc.remove(SERVER_FIELDS);
    List<String> internal = new ArrayList<>();
    doc.fieldNames().forEachRemaining(n -> {
      if (n.startsWith("_")) {
        internal.add(n);
      }
    });
    doc.remove(internal);
    for (JobStage s : JobStage.values()) {
      doc.remove(s.timeField());
    }

    String suite = requiredText(doc, "suite");
    checkJob2sh(doc.get("job2sh"));
    String testbox = optionalText(doc, "testbox");
    String group = optionalText(doc, "tbox_group");
    if (testbox == null && group == null) {
      throw new InvalidJobException("testbox: required (a machine, a machine group, or a shape like vm-2p8g)");
    }
    for (String f : PATH_FIELDS) {
      JsonNode v = doc.get(f);
      if (v == null || v.isNull()) {
        continue;
      }
      // YAML reads os_version: 20.03 as a number: its text is what counts
      if (!v.isTextual() && !v.isNumber()) {
        throw new InvalidJobException(f + ": must be a string");
      }
      String text = v.isTextual() ? trimmedInPlace(doc, f, v) : v.asText();
      if (!text.isEmpty()) {
        checkPathComponent(f, text);
      }
    }
    String type = optionalText(doc, "tbox_type");
    if (type == null) {
      type = deriveType(testbox != null ? testbox : group);
    } else {
      type = type.toLowerCase(Locale.ROOT);
      if (!Set.of("hw", "vm", "dc").contains(type)) {
        throw new InvalidJobException("tbox_type: '" + type + "' is not hw, vm or dc");
      }
    }
    doc.put("tbox_type", type);
    if (group == null) {
      group = cutSuffix(testbox);
    }
    doc.put("tbox_group", group);
    if (testbox == null) {
      doc.put("testbox", group);
      testbox = group;
    }

    Set<String> tags = new TreeSet<>();
    String arch = optionalText(doc, "arch");
    if (arch == null) {
      arch = optionalText(doc, "os_arch");
    }
    if (arch != null) {
      tags.add("arch=" + arch);
    }
    tags.add("tbox_type=" + type);
    if (type.equals("hw")) {
      // a VM or container shape is a memory need, not a machine group
      tags.add("tbox_group=" + group);
    }
    if (namesOneBox(type, testbox, group)) {
      // a named machine, VM or container (vm-2p8g--3): only the box of that name takes it, never
      // a provider, which asks under its host's name for VMs it starts
      tags.add("hostname=" + testbox);
    }
    addExtraTags(doc.get("tags"), tags);

    Set<String> targets = targetMachines(doc.get("target_machines"));
    // a VM's or container's memory by its group's shape (vm-2p8g: 8 GB), or by the testbox's when
    // the group is not a shape
    long memoryMb = type.equals("hw") ? memoryNeed(doc, null)
        : memoryNeed(doc, MemorySize.shapeMb(group) > 0 ? group : testbox);

    String account = optionalText(doc, "my_account");
    String queue = optionalText(doc, "queue");
    JsonNode run = doc.get("submit_id");
    if (run != null && run.isTextual() && trimmedInPlace(doc, "submit_id", run).length() > 255) {
      // stored beside the job (job_runs.submit_id, 255 characters): refused here, not by the
      // store, where it would fail the whole group commit and every request in it
      throw new InvalidJobException("submit_id: at most 255 characters");
    }
    int priority = intField(doc, "priority", 0);
    nonNegativeNumber(doc, "timeout");
    nonNegativeNumber(doc, "runtime");
    if (suite.isBlank()) {
      throw new InvalidJobException("suite: must not be empty");
    }
    String tenant = tenantOf(account, queue);
    return new Draft(doc, new Requirements(tags, targets, memoryMb), tenant,
        queue == null ? "" : queue, priority);
  }

  /**
   * A value that becomes one folder or URL path component: a letter or digit first, then letters,
   * digits, '.', '_', '+' or '-'. Throws {@link InvalidJobException} naming the field.
   */
  public static String checkPathComponent(String field, String value) {
    if (!isPlainName(value)) {
      String shown = value.length() > 60 ? value.substring(0, 60) + "..." : value;
      throw new InvalidJobException(field + ": '" + shown.replaceAll("\\p{Cntrl}", "?")
          + "' must be one name of letters, digits, '.', '_', '+' or '-', starting with a letter or digit");
    }
    return value;
  }

  /**
   * lkp-tests' submit sends the job's shell functions as {@code job2sh: {run_job: [lines], ...}},
   * a null line being an empty one; they go into job.sh as they are, so their shape is checked here.
   */
  private static void checkJob2sh(JsonNode node) {
    if (node == null || node.isNull()) {
      return;
    }
    if (!node.isObject()) {
      throw new InvalidJobException("job2sh: must be an object of functions, each a list of lines");
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      JsonNode lines = e.getValue();
      if (lines.isNull() || lines.isTextual()) {
        continue;
      }
      if (!lines.isArray()) {
        throw new InvalidJobException("job2sh." + e.getKey() + ": must be a list of lines");
      }
      for (JsonNode line : lines) {
        boolean nested = line.isArray();
        for (JsonNode l : nested ? line : List.of(line)) {
          if (!l.isNull() && !l.isTextual()) {
            throw new InvalidJobException("job2sh." + e.getKey() + ": lines must be strings or null");
          }
        }
      }
    }
  }

  /** The tenant fair share counts a job against: its project queue, else its account. */
  static String tenantOf(String account, String queue) {
    return queue != null && !queue.equals("vip") && !queue.equals("idle")
        ? queue : account != null ? account : "anonymous";
  }

  /** The same, read from a stored document without checking it again. */
  static String tenantOf(JsonNode doc) {
    String account = doc.path("my_account").asText("");
    String queue = doc.path("queue").asText("");
    return tenantOf(account.isEmpty() ? null : account, queue.isEmpty() ? null : queue);
  }

  /** Removes credentials at any depth: jobs nest them in pp.* and similar objects. */
  public static void stripSecrets(JsonNode node) {
    if (node instanceof ObjectNode obj) {
      obj.remove(SECRET_FIELDS);
      obj.elements().forEachRemaining(JobIntake::stripSecrets);
    } else if (node != null && node.isArray()) {
      node.elements().forEachRemaining(JobIntake::stripSecrets);
    }
  }

  static String deriveType(String testbox) {
    String t = testbox.toLowerCase(Locale.ROOT);
    return t.startsWith("vm-") ? "vm" : t.startsWith("dc-") ? "dc" : "hw";
  }

  /**
   * Whether the testbox names one box rather than a group or a shape: a machine of a group
   * (taishan200-...--a61), a VM or container with a name of its own (vm-2p8g--3, myvm-01). A bare
   * shape (vm-2p8g) is any VM of that size, even beside a tbox_group of another name.
   */
  private static boolean namesOneBox(String type, String testbox, String group) {
    if (testbox.equals(group)) {
      return false;
    }
    return type.equals("hw") || !cutSuffix(testbox).equals(testbox) || MemorySize.shapeMb(testbox) == 0;
  }

  /** A machine's group: its name without the trailing --suffix. */
  public static String cutSuffix(String testbox) {
    int cut = testbox.lastIndexOf("--");
    return cut > 0 ? testbox.substring(0, cut) : testbox;
  }

  private static void addExtraTags(JsonNode node, Set<String> out) {
    if (node == null || node.isNull()) {
      return;
    }
    if (node.isObject()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        if (!e.getValue().isValueNode() || e.getValue().isNull()) {
          throw new InvalidJobException("tags." + e.getKey() + ": must be a string or a number");
        }
        out.add(checkTag(e.getKey() + "=" + e.getValue().asText()));
      }
    } else if (node.isArray()) {
      for (JsonNode t : node) {
        if (!t.isTextual()) {
          throw new InvalidJobException("tags: list entries must be strings like \"k=v\"");
        }
        out.add(checkTag(t.asText()));
      }
    } else {
      throw new InvalidJobException("tags: must be an object {\"k\":\"v\"} or a list [\"k=v\"]");
    }
  }

  /**
   * Also used for a testbox's own tags: k=v with a non-empty key and no comma, written without
   * white space around the key and the value ({@code " k = v "} is {@code k=v}): the job's tag
   * and the box's are compared as text, so {@code "k = v"} could match no box that says
   * {@code k=v}, and {@code " =v"} no box at all; such jobs waited for good.
   */
  public static String checkTag(String tag) {
    int eq = tag.indexOf('=');
    String key = eq < 0 ? "" : tag.substring(0, eq).trim();
    if (key.isEmpty() || tag.indexOf(',') >= 0) {
      throw new InvalidJobException("tags: '" + tag + "' is not k=v");
    }
    return key + "=" + tag.substring(eq + 1).trim();
  }

  private static Set<String> targetMachines(JsonNode node) {
    Set<String> out = new TreeSet<>();
    if (node == null || node.isNull()) {
      return out;
    }
    if (node.isTextual()) {
      for (String h : node.asText().split(",")) {
        if (!h.isBlank()) {
          out.add(h.trim());
        }
      }
    } else if (node.isArray()) {
      for (JsonNode h : node) {
        if (!h.isTextual() || h.asText().isBlank()) {
          throw new InvalidJobException("target_machines: entries must be hostnames");
        }
        out.add(h.asText().trim());
      }
    } else {
      throw new InvalidJobException("target_machines: must be a list of hostnames");
    }
    return out;
  }

  private static long memoryNeed(ObjectNode doc, String shape) {
    long mb = MemorySize.shapeMb(shape);
    List<String[]> given = new ArrayList<>();
    for (String f : MEMORY_FIELDS) {
      JsonNode v = doc.get(f);
      if (v != null && !v.isNull()) {
        given.add(new String[] {f, memoryText(f, v)});
      }
    }
    JsonNode hw = doc.get("hw");
    if (hw != null && hw.isObject() && hw.hasNonNull("memory")) {
      given.add(new String[] {"hw.memory", memoryText("hw.memory", hw.get("memory"))});
    }
    for (String[] g : given) {
      mb = Math.max(mb, MemorySize.parseMb(g[0], g[1]));
    }
    return mb;
  }

  private static String memoryText(String field, JsonNode v) {
    if (v.isNumber() || v.isTextual()) {
      return v.asText();
    }
    throw new InvalidJobException(field + ": must be a size like 8G or a number of GB");
  }

  private static String requiredText(ObjectNode doc, String field) {
    String v = optionalText(doc, field);
    if (v == null) {
      throw new InvalidJobException(field + ": required");
    }
    return v;
  }

  private static String optionalText(ObjectNode doc, String field) {
    JsonNode v = doc.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isTextual()) {
      throw new InvalidJobException(field + ": must be a string");
    }
    String s = trimmedInPlace(doc, field, v);
    return s.isEmpty() ? null : s;
  }

  /**
   * The field's text without surrounding white space, written back so: the job is stored, counted
   * and compared as it was checked. "alice " was checked as alice but counted apart from her
   * jobs against the per-account limit, and her own cancel of it was refused.
   */
  private static String trimmedInPlace(ObjectNode doc, String field, JsonNode v) {
    String text = v.asText();
    String s = text.trim();
    if (s.length() != text.length()) {
      doc.put(field, s);
    }
    return s;
  }

  private static int intField(ObjectNode doc, String field, int dflt) {
    JsonNode v = doc.get(field);
    if (v == null || v.isNull()) {
      return dflt;
    }
    if (v.canConvertToInt() && v.isIntegralNumber()) {
      return v.intValue();
    }
    if (v.isTextual()) {
      try {
        return Integer.parseInt(v.asText().trim());
      } catch (NumberFormatException e) {
        // reported below
      }
    }
    throw new InvalidJobException(field + ": must be an integer");
  }

  private static void nonNegativeNumber(ObjectNode doc, String field) {
    JsonNode v = doc.get(field);
    if (v == null || v.isNull()) {
      return;
    }
    double d;
    if (v.isNumber()) {
      d = v.doubleValue();
    } else if (v.isTextual()) {
      d = Timeouts.seconds(v.asText(), Double.NaN);
      if (Double.isNaN(d)) {
        throw new InvalidJobException(field + ": must be a number of seconds, or a whole number with"
            + " a unit as in lkp-tests (300s, 10m, 2h, 1d, 1w, 1y)");
      }
    } else {
      throw new InvalidJobException(field + ": must be a number of seconds");
    }
    if (!(d >= 0) || Double.isInfinite(d)) {
      throw new InvalidJobException(field + ": must be a non-negative number of seconds");
    }
  }
}
