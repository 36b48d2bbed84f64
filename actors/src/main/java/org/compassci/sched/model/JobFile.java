package org.compassci.sched.model;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.util.JsonParserDelegate;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/**
 * A job file, read into the jobs it stands for. The one reader for the command line's
 * {@code submit} and for YAML posted to {@code jobs/submit}, so that a file means the same jobs
 * whichever way it comes in.
 *
 * <ul>
 *   <li>YAML mapping documents are an lkp-tests job file, read as lkp-tests' {@code submit}
 *       reads it: the first document is the base and a job on its own; each later document is a
 *       variation whose top-level keys replace the base's; every job is then expanded by its lists
 *       ({@link JobMatrix}).
 *   <li>YAML sequence documents are lists of jobs, taken as written.
 *   <li>JSON (an object or an array of objects) is taken as written: it is what lkp-tests sends
 *       after its own expansion, so its lists are values.
 * </ul>
 *
 * <p>Whatever lkp-tests would compute in Ruby ({@code {{ … }}}, ERB, includes) is refused, and so
 * is a file that would make more than {@link Rules#maxJobs()} jobs: never a job other than the
 * author's, and never half a file.
 */
public final class JobFile {

  /** How a file is written. */
  public enum Format {
    YAML, JSON;

    /** JSON when the text is a JSON object or array (what a tool that expanded it sends), else YAML. */
    public static Format of(byte[] content) {
      String text = new String(content, StandardCharsets.UTF_8).strip();
      if (!text.startsWith("{") && !text.startsWith("[")) {
        return YAML;
      }
      try {
        JsonNode tree = Json.MAPPER.readTree(text);
        return tree != null && tree.isContainerNode() ? JSON : YAML;
      } catch (JsonProcessingException e) {
        // "{suite: a}" is a YAML flow mapping, not JSON
        return YAML;
      }
    }
  }

  /**
   * What the lab decides: keys whose values are lists by nature (never one job per element), and
   * the most jobs one file may make.
   */
  /**
   * {@code programs}: an lkp-tests tree's programs, which the top-level keys of a YAML job file
   * are looked up in ({@link LkpPrograms#place}); empty: none is known, the keys stay as written.
   */
  /**
   * {@code maxBytes}: what the jobs one file makes may add up to, as JSON (in characters,
   * counted before any is made).
   */
  public record Rules(Set<String> listKeys, int maxJobs, IntakeLimits limits, Optional<LkpPrograms> programs,
      long maxBytes) {
    /** {@code scheduler.submit.max-expanded-size}'s default. */
    public static final long DEFAULT_MAX_BYTES = 64L << 20;

    public Rules {
      listKeys = Set.copyOf(listKeys);
      if (maxJobs < 1) {
        throw new IllegalArgumentException("maxJobs must be at least 1, got " + maxJobs);
      }
      if (maxBytes < 1) {
        throw new IllegalArgumentException("maxBytes must be at least 1, got " + maxBytes);
      }
    }

    public Rules(Set<String> listKeys, int maxJobs, IntakeLimits limits, Optional<LkpPrograms> programs) {
      this(listKeys, maxJobs, limits, programs, DEFAULT_MAX_BYTES);
    }

    public Rules(Set<String> listKeys, int maxJobs, IntakeLimits limits) {
      this(listKeys, maxJobs, limits, Optional.empty());
    }

    /** The same rules, with {@code maxBytes} for the jobs of one file. */
    public Rules withMaxBytes(long bytes) {
      return new Rules(listKeys, maxJobs, limits, programs, bytes);
    }

    /** The shipped intake limits. */
    public Rules(Set<String> listKeys, int maxJobs) {
      this(listKeys, maxJobs, IntakeLimits.defaults());
    }

    /** The same rules, with the programs of this lkp-tests tree. */
    public Rules withPrograms(LkpPrograms lkp) {
      return new Rules(listKeys, maxJobs, limits, Optional.of(lkp), maxBytes);
    }
  }

  /** For -s values, which are one scalar each. */
  private static final YAMLMapper YAML = IntakeLimits.defaults().yaml();

  private JobFile() {}

  /** The jobs of a file without command-line settings, as {@code jobs/submit} reads a body. */
  public static List<ObjectNode> read(byte[] content, Format format, Rules rules) {
    return read(content, format, rules, Json.object());
  }

  /**
   * The jobs of a file, each with {@code settings} (top-level keys, {@code -s}) set on it. For an
   * lkp-tests file they are set before the expansion, as lkp-tests does: {@code -s nr_threads=8}
   * replaces the file's list of thread counts rather than making copies of each job.
   *
   * @throws InvalidJobException saying what is wrong and where; nothing is made then
   */
  public static List<ObjectNode> read(byte[] content, Format format, Rules rules, ObjectNode settings) {
    if (format == Format.JSON) {
      return json(content, rules, settings);
    }
    List<ObjectNode> jobs = yaml(content, rules, settings);
    // after the expansion, as lkp-tests' job2sh reads each job it made
    rules.programs().ifPresent(p -> jobs.forEach(p::place));
    return jobs;
  }

  private static List<ObjectNode> json(byte[] content, Rules rules, ObjectNode settings) {
    JsonNode tree;
    try {
      tree = rules.limits().parseJson(content);
    } catch (IllegalArgumentException e) {
      throw new InvalidJobException(e.getMessage());
    }
    if (tree == null || tree.isMissingNode()) {
      throw new InvalidJobException("malformed JSON: no content");
    }
    List<JsonNode> jobs = new ArrayList<>();
    if (tree.isArray()) {
      tree.forEach(jobs::add);
    } else {
      jobs.add(tree);
    }
    return literal(jobs, "job", rules, settings);
  }

  private static List<ObjectNode> yaml(byte[] content, Rules rules, ObjectNode settings) {
    String text = new String(content, StandardCharsets.UTF_8);
    LkpTemplates.refuse(text);
    List<JsonNode> docs = documents(text, rules.limits());
    if (docs.isEmpty()) {
      throw new InvalidJobException("the YAML holds no job");
    }
    boolean lkp = docs.get(0).isObject();
    for (int i = 0; i < docs.size(); i++) {
      JsonNode doc = docs.get(i);
      if (!doc.isContainerNode()) {
        throw new InvalidJobException("document " + (i + 1) + " is a single value, not a job;"
            + " write key: value lines");
      }
      if (doc.isObject() != lkp) {
        throw new InvalidJobException("document " + (i + 1) + " is " + (doc.isArray() ? "a list of jobs" : "a job")
            + " but document 1 is " + (lkp ? "a job" : "a list of jobs") + "; a file is either one job and"
            + " its variations (key: value documents) or lists of jobs (- documents), not both");
      }
      refuseRuby(doc, "");
    }
    if (!lkp) {
      List<JsonNode> jobs = new ArrayList<>();
      docs.forEach(d -> d.forEach(jobs::add));
      return literal(jobs, "item", rules, settings);
    }
    JobMatrix matrix = new JobMatrix(rules.listKeys());
    ObjectNode base = (ObjectNode) docs.get(0);
    // the base's dotted keys first: a variation's own map of the same name then replaces the
    // result, as a plain key of the variation replaces the base's
    revise(base);
    List<JobMatrix.Jobs> each = new ArrayList<>(docs.size());
    BigInteger count = BigInteger.ZERO;
    BigInteger bytes = BigInteger.ZERO;
    for (JsonNode doc : docs) {
      // a variation is the base with its top-level keys replaced, as lkp-tests' each_jobs merges it
      ObjectNode job = doc == base ? base.deepCopy() : base.deepCopy().setAll((ObjectNode) doc);
      revise(job);
      job.setAll(settings.deepCopy());
      revise(job);
      // before the matrix makes anything: no job it makes has more fields than its document
      rules.limits().checkFields(job, docs.size() == 1 ? "the job" : "document " + (each.size() + 1));
      JobMatrix.Jobs jobs = matrix.of(job);
      each.add(jobs);
      count = count.add(jobs.count());
      // the jobs share their values in memory until each is written out whole to be stored
      bytes = bytes.add(jobs.size());
    }
    ceiling(count, rules);
    if (bytes.compareTo(BigInteger.valueOf(rules.maxBytes())) > 0) {
      throw new TooLargeException("the file would make " + count + " jobs of " + bytes + " characters in all, more than"
          + " the " + rules.maxBytes() + " bytes that scheduler.submit.max-expanded-size allows; nothing was submitted");
    }
    List<ObjectNode> out = new ArrayList<>(count.intValueExact());
    each.forEach(j -> out.addAll(j.make()));
    for (int i = 0; i < out.size(); i++) {
      rules.limits().checkFields(out.get(i), "job " + (i + 1));
    }
    return out;
  }

  /**
   * A dotted key sets one value inside a map ({@code fsmark.test_size: 60G}), making the maps on
   * its path where there are none, as lkp-tests' revise_hash does before it expands a job; the
   * dotted key itself goes. Adding to or taking out of a key ({@code k+}, {@code k-}) is refused.
   */
  private static void revise(ObjectNode job) {
    List<String> keys = new ArrayList<>();
    job.fieldNames().forEachRemaining(keys::add);
    for (String key : keys) {
      if (key.length() > 1 && (key.endsWith("+") || key.endsWith("-"))) {
        throw new InvalidJobException(key + ": lkp-tests' submit adds to (k+) or takes out of (k-) the key it"
            + " names; the scheduler does not: write the value the key is to have");
      }
      if (key.indexOf('.') < 0) {
        continue;
      }
      String[] path = key.split("\\.", -1);
      ObjectNode at = job;
      for (int i = 0; i < path.length - 1; i++) {
        JsonNode next = path[i].isEmpty() ? null : at.get(path[i]);
        if (path[i].isEmpty() || (next != null && !next.isNull() && !next.isObject())) {
          throw new InvalidJobException(key + ": a dotted key sets a value inside a map, and '"
              + String.join(".", java.util.Arrays.copyOf(path, i + 1)) + "' is not one here");
        }
        at = next instanceof ObjectNode o ? o : at.putObject(path[i]);
      }
      if (path[path.length - 1].isEmpty()) {
        throw new InvalidJobException(key + ": a dotted key ends with the name of the value it sets");
      }
      at.set(path[path.length - 1], job.get(key));
      job.remove(key);
    }
  }

  private static List<ObjectNode> literal(List<JsonNode> jobs, String what, Rules rules, ObjectNode settings) {
    if (jobs.isEmpty()) {
      throw new InvalidJobException("an empty list holds no job");
    }
    ceiling(BigInteger.valueOf(jobs.size()), rules);
    List<ObjectNode> out = new ArrayList<>(jobs.size());
    for (int i = 0; i < jobs.size(); i++) {
      if (!jobs.get(i).isObject()) {
        throw new InvalidJobException(what + " " + (i + 1) + " of " + jobs.size() + " is not a job: "
            + (what.equals("item") ? "write it as key: value lines" : "a job must be a JSON object"));
      }
      rules.limits().checkFields(jobs.get(i), what + " " + (i + 1));
      ObjectNode job = (ObjectNode) jobs.get(i).deepCopy();
      job.setAll(settings.deepCopy());
      out.add(job);
    }
    return out;
  }

  private static void ceiling(BigInteger count, Rules rules) {
    if (count.compareTo(BigInteger.valueOf(rules.maxJobs())) > 0) {
      throw new TooLargeException("the file would make " + count + " jobs, more than the "
          + rules.maxJobs() + " that scheduler.submit.max-jobs-per-file allows; nothing was submitted");
    }
  }

  /**
   * A {@code {{} with a {@code }}} after it: the pattern {@code .*\{\{.*}}.*} took seconds on a
   * value of 40,000 braces (each {@code {{} tried against the rest of the text).
   */
  static boolean rubyLike(String text) {
    int open = text.indexOf("{{");
    return open >= 0 && text.indexOf("}}", open + 2) >= 0;
  }

  /** A quoted {@code "{{ … }}"} parses as a string; lkp-tests would still evaluate it. */
  private static void refuseRuby(JsonNode node, String path) {
    if (node.isTextual() && rubyLike(node.asText())) {
      throw new InvalidJobException(LkpTemplates.rubyExpression(path.isEmpty() ? "a value" : path));
    }
    if (node.isObject()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        refuseRuby(e.getValue(), path.isEmpty() ? e.getKey() : path + "." + e.getKey());
      }
    } else if (node.isArray()) {
      node.forEach(e -> refuseRuby(e, path));
    }
  }

  /** Each non-empty document as a tree; lists inside a document stay inside it. */
  private static List<JsonNode> documents(String text, IntakeLimits limits) {
    List<JsonNode> docs = new ArrayList<>();
    YAMLMapper yaml = limits.yaml();
    // a parser rather than readValues(): that one would take a top-level list as the documents
    try (JsonParser parser = new NoAliases((YAMLParser) yaml.createParser(text), limits)) {
      while (parser.nextToken() != null) {
        JsonNode doc = yaml.readTree(parser);
        // an empty document, e.g. after a trailing ---, holds no job and is no mistake
        if (doc != null && !doc.isNull() && !doc.isMissingNode()
            && !(doc.isTextual() && doc.asText().isBlank())) {
          docs.add(doc);
        }
      }
    } catch (InvalidJobException e) {
      throw e;
    } catch (com.fasterxml.jackson.core.exc.StreamConstraintsException e) {
      throw limits.tooLarge(e);
    } catch (JsonProcessingException e) {
      throw new InvalidJobException("not valid YAML" + where(e.getLocation()) + ": " + problem(e));
    } catch (IOException e) {
      throw new InvalidJobException("not valid YAML: " + oneLine(e.getMessage()));
    } catch (RuntimeException e) {
      // Jackson wraps some of SnakeYAML's failures in unchecked exceptions
      if (e.getCause() instanceof com.fasterxml.jackson.core.exc.StreamConstraintsException c) {
        throw limits.tooLarge(c);
      }
      if (e.getCause() instanceof JsonProcessingException p) {
        throw new InvalidJobException("not valid YAML" + where(p.getLocation()) + ": " + problem(p));
      }
      throw new InvalidJobException("not valid YAML: " + oneLine(e.getMessage()));
    }
    return docs;
  }

  /**
   * Jackson reads a YAML alias ({@code *name}) as the text {@code name}, not as the value it
   * names; a job built from that would be wrong without a word, so an alias is refused.
   */
  private static final class NoAliases extends JsonParserDelegate {
    private final YAMLParser yaml;
    private final IntakeLimits limits;
    /** Anchors set on a mapping or a list: an alias of one is how a billion laughs multiplies. */
    private final Set<String> collectionAnchors = new java.util.HashSet<>();
    private int depth;

    NoAliases(YAMLParser yaml, IntakeLimits limits) {
      super(yaml);
      this.yaml = yaml;
      this.limits = limits;
    }

    @Override
    public JsonToken nextToken() throws IOException {
      JsonToken t = super.nextToken();
      if (yaml.isCurrentAlias()) {
        if (collectionAnchors.contains(yaml.getText())) {
          throw new TooLargeException("line " + yaml.currentLocation().getLineNr() + ": '*" + yaml.getText()
              + "' is a YAML alias of a whole mapping or list, which is how a small YAML document stands for a"
              + " huge one (a billion laughs); the scheduler resolves no alias: write the value out");
        }
        throw new InvalidJobException("line " + yaml.currentLocation().getLineNr() + ": '*" + yaml.getText()
            + "' is a YAML alias, which the scheduler does not resolve: write the value out");
      }
      if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) {
        if (++depth > limits.maxDepth()) {
          throw new TooLargeException("line " + yaml.currentLocation().getLineNr() + ": the document nests deeper than the "
              + limits.maxDepth() + " levels of scheduler.submit.max-depth");
        }
        String anchor = yaml.getObjectId();
        if (anchor != null) {
          collectionAnchors.add(anchor);
        }
      } else if (t == JsonToken.END_OBJECT || t == JsonToken.END_ARRAY) {
        depth--;
      }
      return t;
    }
  }

  /**
   * Parses {@code -s} settings: {@code key=value}, or lkp-tests' {@code 'key: value'}. A value is
   * text as lkp-tests keeps it, a plain decimal whole number a number (see {@link #scalar}).
   *
   * @throws IllegalArgumentException naming the setting that is not one
   */
  public static ObjectNode settings(List<String> settings) {
    ObjectNode set = Json.object();
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
      set.set(key, scalar(text));
    }
    return set;
  }

  /**
   * lkp-tests' submit keeps every {@code -s} value a string: {@code ucode=0xb000038} and
   * {@code commit=0123456} stay as written (read as YAML they became 184549432 and octal 42798,
   * and a box compared the wrong microcode). A plain decimal whole number is a number, so that
   * {@code nr_threads=8} reads as it would in the file.
   */
  private static JsonNode scalar(String text) {
    if (text.matches("-?(0|[1-9][0-9]{0,17})")) {
      return Json.MAPPER.getNodeFactory().numberNode(Long.parseLong(text));
    }
    return Json.MAPPER.getNodeFactory().textNode(text);
  }

  /**
   * SnakeYAML's message quotes the offending line with a caret under it; on one line that reads
   * as noise, and the position is already given, so only its naming of the problem is kept.
   */
  private static String problem(JsonProcessingException e) {
    if (e.getCause() instanceof MarkedYAMLException m && m.getProblem() != null) {
      return oneLine(m.getProblem());
    }
    // Ruby's YAML keeps the last of two equal keys, silently; here it is the author's to fix
    return IntakeLimits.givenTwice(oneLine(e.getOriginalMessage()), "mapping");
  }

  private static String where(JsonLocation at) {
    return at == null || at.getLineNr() < 1 ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
  }

  private static String oneLine(String message) {
    return message == null ? "" : message.strip().replaceAll("\\s*\\n\\s*", " ");
  }
}
