package org.compassci.sched.model;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.yaml.snakeyaml.LoaderOptions;

/**
 * How large a submitted document may be, beyond the body's byte limit: how deep it nests, how
 * long one string or number is, how many fields one job has. Past any of them the answer is 413
 * ({@link TooLargeException}) naming the setting. The parsers enforce the first three as they
 * read (Jackson's {@link StreamReadConstraints}), so a hostile document is refused before it is
 * built in memory.
 */
public record IntakeLimits(int maxDepth, int maxStringLength, int maxNumberLength, int maxFieldsPerJob) {

  public IntakeLimits {
    if (maxDepth < 2 || maxStringLength < 1 || maxNumberLength < 1 || maxFieldsPerJob < 1) {
      throw new IllegalArgumentException("intake limits must be positive (depth at least 2)");
    }
  }

  /** What conf/application.conf ships. */
  public static IntakeLimits defaults() {
    return new IntakeLimits(64, 1 << 20, 100, 10_000);
  }

  private record Mappers(ObjectMapper json, YAMLMapper yaml) {}

  /** One pair of configured mappers per set of limits: a server has one, tests a few. */
  private static final Map<IntakeLimits, Mappers> MAPPERS = new ConcurrentHashMap<>();

  private Mappers mappers() {
    return MAPPERS.computeIfAbsent(this, l -> {
      StreamReadConstraints c = StreamReadConstraints.builder()
          .maxNestingDepth(l.maxDepth)
          .maxStringLength(l.maxStringLength)
          .maxNameLength(l.maxNameLength())
          .maxNumberLength(l.maxNumberLength)
          .build();
      ObjectMapper json = JsonMapper.builder(JsonFactory.builder().streamReadConstraints(c).build())
          // as the shared mapper reads: exact big numbers, nothing after the document
          .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
          // as the YAML mapper: two values under one name kept the last without a word
          .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
          .build();
      LoaderOptions loader = new LoaderOptions();
      loader.setNestingDepthLimit(l.maxDepth);
      loader.setMaxAliasesForCollections(0);
      YAMLMapper yaml = YAMLMapper.builder(YAMLFactory.builder().loaderOptions(loader)
              .streamReadConstraints(c).build())
          // duplicate keys would otherwise keep the last value without a word
          .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
          .build();
      return new Mappers(json, yaml);
    });
  }

  /**
   * The longest field name. A job's names become keys of the job.yaml its box reads, and YAML 1.1
   * readers of libyaml (lkp-tests' Ruby, multi-qemu-docker) take no simple key past 1,024
   * characters: a job with one was handed out to every box and read by none.
   */
  public static final int MAX_NAME_LENGTH = 255;

  int maxNameLength() {
    return Math.min(maxStringLength, MAX_NAME_LENGTH);
  }

  private String nameLimit() {
    return maxNameLength() + " characters a name may have (the box's job.yaml readers take no key past 1,024)";
  }

  /** The YAML mapper these limits read job files with. */
  public YAMLMapper yaml() {
    return mappers().yaml();
  }

  /**
   * A JSON document read within these limits.
   *
   * @throws TooLargeException past a limit
   * @throws IllegalArgumentException for anything else that is not JSON ("malformed JSON: ...")
   */
  public JsonNode parseJson(byte[] bytes) {
    try {
      JsonNode tree = mappers().json().readTree(bytes);
      if (tree != null) {
        checkNumbers(tree);
      }
      return tree;
    } catch (StreamConstraintsException e) {
      throw tooLarge(e);
    } catch (IOException e) {
      String why = e instanceof JsonProcessingException p ? p.getOriginalMessage() : e.getMessage();
      throw new IllegalArgumentException("malformed JSON: " + givenTwice(why == null ? "" : why, "object"), e);
    }
  }

  /** A value or name as an answer quotes it: at most 64 characters of it. */
  static String abbreviated(String text) {
    return text.length() <= 64 ? text : text.substring(0, 61) + "...";
  }

  private static final java.util.regex.Pattern DUPLICATE = java.util.regex.Pattern.compile("Duplicate field '([^']*)'");

  /**
   * Jackson's message for a name given twice (the JSON and the YAML mapper both refuse one), said
   * as the scheduler says it, naming the {@code container} (object, mapping); any other as it is.
   */
  static String givenTwice(String message, String container) {
    java.util.regex.Matcher twice = DUPLICATE.matcher(message);
    return twice.lookingAt() ? "'" + abbreviated(twice.group(1)) + "' is given twice in one " + container : message;
  }

  /** Names the setting a parser's constraint stands for. */
  TooLargeException tooLarge(StreamConstraintsException e) {
    String m = e.getOriginalMessage() == null ? "" : e.getOriginalMessage();
    String setting = m.contains("nesting depth") || m.contains("Nesting depth")
        ? "nests deeper than the " + maxDepth + " levels of scheduler.submit.max-depth"
        : m.contains("Name length")
            ? "has a field name longer than " + nameLimit()
        : m.contains("Number value length") || m.contains("number")
            ? "has a number longer than the " + maxNumberLength + " digits of scheduler.submit.max-number-length"
            : "has a string longer than the " + maxStringLength + " characters of scheduler.submit.max-string-length";
    return new TooLargeException("the document " + setting);
  }

  /**
   * Refuses a number that would be longer than {@link #maxNumberLength} written out in full, as
   * job.sh and job.yaml write it: the parser counts the characters as sent, and
   * {@code 1e2000000000} is 12 of them. Written out it is two thousand million digits, which
   * the box's package was built with (an OutOfMemoryError at each hand-out). Not a finite
   * number (a YAML {@code .inf}) is refused too.
   */
  public void checkNumbers(JsonNode node) {
    if (node.isContainerNode()) {
      for (JsonNode child : node) {
        checkNumbers(child);
      }
    } else if (node.isBigDecimal()) {
      java.math.BigDecimal d = node.decimalValue();
      long written = d.scale() > 0 ? Math.max(d.precision(), (long) d.scale() + 1) : (long) d.precision() - d.scale();
      if (written > maxNumberLength) {
        throw new TooLargeException("the document has a number longer than the " + maxNumberLength
            + " digits of scheduler.submit.max-number-length, written out: " + d);
      }
    } else if ((node.isDouble() || node.isFloat()) && !Double.isFinite(node.doubleValue())) {
      throw new TooLargeException("the document has a number that is not finite: " + node.asText());
    } else if (node.isDouble() || node.isFloat()) {
      checkNumbers(new com.fasterxml.jackson.databind.node.DecimalNode(java.math.BigDecimal.valueOf(node.doubleValue())));
    }
  }

  /**
   * Refuses a job with more fields, at any depth, than {@link #maxFieldsPerJob}, or with a number
   * longer written out than {@link #maxNumberLength} ({@link #checkNumbers}).
   */
  public void checkFields(JsonNode job, String which) {
    checkNumbers(job);
    checkNames(job);
    int n = fields(job, maxFieldsPerJob + 1);
    if (n > maxFieldsPerJob) {
      throw new TooLargeException(which + " has more than the " + maxFieldsPerJob
          + " fields of scheduler.submit.max-fields-per-job");
    }
  }

  /**
   * Refuses a field name, at any depth, longer than {@link #maxNameLength}: the JSON parser
   * refuses one as it reads, but the YAML parser does not check the limit it is given.
   */
  private void checkNames(JsonNode node) {
    if (node.isObject()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        if (e.getKey().length() > maxNameLength()) {
          throw new TooLargeException("the document has a field name longer than " + nameLimit());
        }
        checkUnicode(e.getKey());
        checkNames(e.getValue());
      }
    } else if (node.isArray()) {
      node.forEach(this::checkNames);
    } else if (node.isTextual()) {
      checkUnicode(node.textValue());
    }
  }

  /**
   * Refuses half of a UTF-16 pair (a JSON or YAML escape such as \ud800 alone): no UTF-8 writes
   * it, the box's job.yaml got it as an escape libyaml refuses (its job went to box after box), and
   * one before another character was paired with it.
   */
  private static void checkUnicode(String text) {
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        throw new InvalidJobException("'" + abbreviated(text).replaceAll("\\p{Cs}", "?") + "' holds half of a UTF-16"
            + " surrogate pair (\\u" + Integer.toHexString(c) + "), which is no character");
      }
    }
  }

  /** Fields of {@code node} at any depth, counting no further than {@code stop}. */
  private static int fields(JsonNode node, int stop) {
    int n = 0;
    if (node.isObject()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext() && n < stop; ) {
        n += 1 + fields(it.next().getValue(), stop - n);
      }
    } else if (node.isArray()) {
      for (Iterator<JsonNode> it = node.elements(); it.hasNext() && n < stop; ) {
        n += fields(it.next(), stop - n);
      }
    }
    return n;
  }
}
