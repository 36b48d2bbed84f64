package org.compassci.sched.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * The jobs one lkp-tests job (a YAML mapping) stands for: a list value is one job per element, and
 * several lists make every combination, as lkp-tests' {@code Job#each_job} does.
 *
 * <p>Where lists multiply. lkp-tests expands a list when its key names a program or a program's
 * option, which it knows from its own source tree; the scheduler has no such tree, so it takes the
 * places where those keys stand in job files: the top level, and one level down in a program's
 * map ({@code hackbench: {mode: [process, threads]}}). A map under {@code if role client:} (a
 * multi-machine job) or under a {@code setup:}/{@code daemon:}/{@code monitor:}/{@code program:}
 * section holds programs, so lists one level down in those programs multiply too. Deeper lists,
 * and the lists of keys that are lists by nature ({@code mac_addr}, {@code tags}...), are data.
 *
 * <p>The order is lkp-tests' too: the first list in the file varies slowest.
 *
 * <p>A job is first described as choices, which can be counted without being made: a file that
 * would make 10^20 jobs is refused by its count, in microseconds.
 */
final class JobMatrix {

  private static final Set<String> SECTIONS = Set.of("setup", "daemon", "monitor", "program");
  /** lkp-tests' joined keys: {@code os | os_version: [openeuler | 20.03, centos | 7]}. */
  private static final Pattern JOINED = Pattern.compile("\\s*\\|\\s*");

  /** The values one place of a job stands for. */
  private sealed interface Choice permits One, AnyOf, Each {
    BigInteger count();

    /** Every value, in order; values may share nodes with each other (the caller copies). */
    List<JsonNode> values();

    /** What every value adds up to as JSON, in characters, counted without making them. */
    BigInteger size();
  }

  private record One(JsonNode value) implements Choice {
    public BigInteger count() {
      return BigInteger.ONE;
    }

    public List<JsonNode> values() {
      return List.of(value);
    }

    public BigInteger size() {
      return BigInteger.valueOf(value.toString().length());
    }
  }

  /** A list: each element is one value (or, when it holds lists itself, several). */
  private record AnyOf(List<Choice> options) implements Choice {
    public BigInteger count() {
      return options.stream().map(Choice::count).reduce(BigInteger.ZERO, BigInteger::add);
    }

    public List<JsonNode> values() {
      List<JsonNode> all = new ArrayList<>();
      options.forEach(o -> all.addAll(o.values()));
      return all;
    }

    public BigInteger size() {
      return options.stream().map(Choice::size).reduce(BigInteger.ZERO, BigInteger::add);
    }
  }

  /**
   * A map: every combination of its fields' values, the first field varying slowest. A field
   * that {@code spreads} sets the keys of its (object) value instead of its own name.
   */
  private record Each(List<Field> fields) implements Choice {
    public BigInteger count() {
      return fields.stream().map(f -> f.choice().count()).reduce(BigInteger.ONE, BigInteger::multiply);
    }

    /**
     * Each field's values stand in as many combinations as the other fields make together, and
     * each combination has its braces and, per field, its name: a long list is counted once
     * per job it makes, not whole in each of them.
     */
    public BigInteger size() {
      BigInteger combinations = count();
      if (combinations.signum() == 0) {
        return BigInteger.ZERO;
      }
      BigInteger total = combinations.multiply(BigInteger.TWO);
      for (Field f : fields) {
        BigInteger others = combinations.divide(f.choice().count());
        total = total.add(f.choice().size().multiply(others));
        if (!f.spreads()) {
          // "name": and a comma
          total = total.add(combinations.multiply(BigInteger.valueOf(com.fasterxml.jackson.databind.node.TextNode.valueOf(f.key()).toString().length() + 2)));
        }
      }
      return total;
    }

    public List<JsonNode> values() {
      List<List<JsonNode>> each = new ArrayList<>(fields.size());
      for (Field f : fields) {
        List<JsonNode> values = f.choice().values();
        if (values.isEmpty()) {
          return List.of();
        }
        each.add(values);
      }
      // each combination made whole in one pass, the last field varying fastest: built field by
      // field, every field copied all the fields before it, and a job of 100,000 one-line fields
      // took minutes before its size was refused
      int[] at = new int[fields.size()];
      List<JsonNode> made = new ArrayList<>();
      while (true) {
        ObjectNode o = Json.object();
        for (int i = 0; i < at.length; i++) {
          Field f = fields.get(i);
          JsonNode v = each.get(i).get(at[i]);
          if (f.spreads()) {
            o.setAll((ObjectNode) v);
          } else {
            o.set(f.key(), v);
          }
        }
        made.add(o);
        int i = at.length - 1;
        while (i >= 0 && ++at[i] == each.get(i).size()) {
          at[i] = 0;
          i--;
        }
        if (i < 0) {
          return made;
        }
      }
    }
  }

  private record Field(String key, Choice choice, boolean spreads) {}

  private final Set<String> listKeys;

  JobMatrix(Set<String> listKeys) {
    this.listKeys = listKeys;
  }

  /** The choices of one job document; refuses what cannot make a job (an empty list). */
  Jobs of(ObjectNode job) {
    return new Jobs(scope(job, ""));
  }

  /** The jobs of one document: their number, and (only when it is affordable) the jobs. */
  static final class Jobs {
    private final Choice choice;

    private Jobs(Choice choice) {
      this.choice = choice;
    }

    BigInteger count() {
      return choice.count();
    }

    /** Each job its own tree: the combinations share nodes until here. */
    List<ObjectNode> make() {
      return choice.values().stream().map(v -> (ObjectNode) v.deepCopy()).toList();
    }

    /** What the jobs add up to as JSON, in characters, counted without making them. */
    BigInteger size() {
      return choice.size();
    }
  }

  /** The top level, or a map of programs under {@code if role ...:} or a section. */
  private Choice scope(ObjectNode map, String path) {
    List<Field> fields = new ArrayList<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      String key = e.getKey();
      String at = join(path, key);
      if (path.isEmpty() && key.contains("|")) {
        fields.add(new Field(key, joined(key, e.getValue()), true));
      } else {
        fields.add(new Field(key, inScope(key, e.getValue(), at), false));
      }
    }
    return new Each(fields);
  }

  private Choice inScope(String key, JsonNode v, String at) {
    if (listKeys.contains(key)) {
      return new One(v);
    }
    if (v.isArray()) {
      return anyOf(v, at, e -> inScope(key, e, at));
    }
    if (v.isObject()) {
      return holdsPrograms(key) ? scope((ObjectNode) v, at) : program((ObjectNode) v, at);
    }
    return new One(v);
  }

  /** A program's parameters: lists here multiply, maps here are data. */
  private Choice program(ObjectNode map, String path) {
    List<Field> fields = new ArrayList<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      fields.add(new Field(e.getKey(), parameter(e.getKey(), e.getValue(), join(path, e.getKey())), false));
    }
    return new Each(fields);
  }

  private Choice parameter(String key, JsonNode v, String at) {
    if (listKeys.contains(key) || !v.isArray()) {
      return new One(v);
    }
    return anyOf(v, at, e -> e.isArray() ? parameter(key, e, at) : new One(e));
  }

  private static Choice anyOf(JsonNode list, String at, Function<JsonNode, Choice> each) {
    if (list.isEmpty()) {
      // lkp-tests would make no job at all from the file, without a word
      throw new InvalidJobException(at + ": an empty list makes no job; give it values or leave the key out");
    }
    List<Choice> options = new ArrayList<>(list.size());
    list.forEach(e -> options.add(each.apply(e)));
    return new AnyOf(options);
  }

  /** {@code os | os_version: [openeuler | 20.03, ...]}: each value sets all the keys. */
  private static Choice joined(String key, JsonNode v) {
    String[] names = JOINED.split(key.strip());
    List<JsonNode> values = new ArrayList<>();
    if (v.isArray()) {
      v.forEach(values::add);
    } else {
      values.add(v);
    }
    if (values.isEmpty()) {
      throw new InvalidJobException(key + ": an empty list makes no job; give it values or leave the key out");
    }
    List<Choice> options = new ArrayList<>(values.size());
    for (JsonNode value : values) {
      if (!value.isValueNode()) {
        throw new InvalidJobException(key + ": each value must be '" + String.join(" | ", names)
            + "' written out, got " + value);
      }
      String[] parts = JOINED.split(value.asText().strip(), -1);
      if (parts.length != names.length) {
        throw new InvalidJobException(key + ": '" + value.asText() + "' has " + parts.length + " value"
            + (parts.length == 1 ? "" : "s") + " for " + names.length + " keys");
      }
      ObjectNode set = Json.object();
      for (int i = 0; i < names.length; i++) {
        set.put(names[i], parts[i]);
      }
      options.add(new One(set));
    }
    return new AnyOf(options);
  }

  private static boolean holdsPrograms(String key) {
    return SECTIONS.contains(key) || key.startsWith("if ");
  }

  private static String join(String path, String key) {
    return path.isEmpty() ? key : path + "." + key;
  }
}
