package org.compassci.sched.model;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;
import java.util.StringJoiner;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What lkp-tests' {@code submit} does to a job file's text before it reads it as YAML, and the
 * scheduler does not: {@code {{ … }}} Ruby expressions, {@code <%= … %>} ERB, and
 * {@code << : other.yaml} includes. Passed on as text they would make a job other than the
 * author's, so a file that uses them is refused, naming the key and the line.
 *
 * <p>This looks at the text, not at the parsed YAML, because these forms are not YAML:
 * {@code load: {{ fs == 'btrfs' ? 1 : 2 }}} does not parse, and {@code key: <%= x %> # y} parses
 * into something else.
 */
final class LkpTemplates {

  /**
   * A {@code key:} where a line's list dashes end ({@link #afterDashes}); plain (its trailing
   * spaces stripped after) or quoted. Possessive throughout: with a lazy plain key, a line of a
   * word, a million spaces and no colon took minutes (each extension of the key scanned the
   * spaces again for a colon), and {@code (?:-\s+)*} for the dashes recursed once per dash
   * until the stack ran out.
   */
  private static final Pattern KEY =
      Pattern.compile("([^\\s#'\"{\\[\\-][^:#]*+|\"[^\"]*+\"|'[^']*+')\\s*+:(?:\\s|$)");
  private static final Pattern INCLUDE = Pattern.compile("\\s*+<<\\s*+:\\s*+(\\S.*)");

  private record Key(int indent, String name) {}

  private LkpTemplates() {}

  /** Throws InvalidJobException for the first template or include in the text. */
  static void refuse(String text) {
    Deque<Key> keys = new ArrayDeque<>();
    int lineNr = 0;
    for (String raw : text.split("\n", -1)) {
      lineNr++;
      String line = raw.endsWith("\r") ? raw.substring(0, raw.length() - 1) : raw;
      String strip = line.strip();
      if (strip.isEmpty() || strip.startsWith("#")) {
        continue;
      }
      if (strip.equals("---") || strip.startsWith("--- ") || strip.equals("...")) {
        keys.clear();
        continue;
      }
      String code = withoutComment(line);
      // lkp-tests pastes the file in wherever the << stands, after a list's dash too
      Matcher include = INCLUDE.matcher(code).region(afterDashes(code), code.length());
      if (include.matches()) {
        throw new InvalidJobException("line " + lineNr + ": '<< : " + include.group(1).strip()
            + "' merges in another job file (or mapping), which lkp-tests' submit pastes in; the"
            + " scheduler reads no other file: write its keys into this one");
      }
      Matcher key = KEY.matcher(code).region(afterDashes(code), code.length());
      String name = key.lookingAt() ? unquote(key.group(1)) : null;
      int indent = name != null ? key.start(1) : leadingSpaces(code);
      while (!keys.isEmpty() && keys.peek().indent() >= indent) {
        keys.pop();
      }
      String path = path(keys, name);
      if (code.contains("{{")) {
        throw new InvalidJobException(ruby(path, lineNr, "{{ … }}", "a Ruby expression that lkp-tests' submit evaluates"));
      }
      if (code.contains("<%")) {
        throw new InvalidJobException(ruby(path, lineNr, "<% … %>", "an ERB template that lkp-tests' submit fills in"));
      }
      if (name != null) {
        keys.push(new Key(indent, name));
      }
    }
  }

  /** The same refusal for a {@code {{ … }}} found in a quoted YAML string, where no line is known. */
  static String ruby(String path, int lineNr, String form, String what) {
    String where = path.isEmpty() ? "line " + lineNr : lineNr > 0 ? path + " (line " + lineNr + ")" : path;
    return where + ": '" + form + "' is " + what + "; the scheduler runs no Ruby: write the value it stands for";
  }

  static String rubyExpression(String path) {
    return ruby(path, 0, "{{ … }}", "a Ruby expression that lkp-tests' submit evaluates");
  }

  private static String path(Deque<Key> keys, String last) {
    StringJoiner p = new StringJoiner(".");
    for (Iterator<Key> it = keys.descendingIterator(); it.hasNext(); ) {
      p.add(it.next().name());
    }
    if (last != null) {
      p.add(last);
    }
    return p.toString();
  }

  /** Where a line's leading white space and list dashes ({@code - - }) end. */
  static int afterDashes(String code) {
    int i = 0;
    int n = code.length();
    while (true) {
      while (i < n && isSpace(code.charAt(i))) {
        i++;
      }
      if (i + 1 < n && code.charAt(i) == '-' && isSpace(code.charAt(i + 1))) {
        i += 2;
      } else {
        return i;
      }
    }
  }

  /** What {@code \s} matches in a Java pattern. */
  private static boolean isSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == 0x0B || c == '\f' || c == '\r';
  }

  /** The line up to a {@code #} comment; a {@code #} inside a word ({@code a#b}) is text in YAML. */
  private static String withoutComment(String line) {
    for (int i = 0; i < line.length(); i++) {
      if (line.charAt(i) == '#' && (i == 0 || Character.isWhitespace(line.charAt(i - 1)))) {
        return line.substring(0, i);
      }
    }
    return line;
  }

  private static int leadingSpaces(String line) {
    int i = 0;
    while (i < line.length() && (line.charAt(i) == ' ' || line.charAt(i) == '-')) {
      i++;
    }
    return i;
  }

  private static String unquote(String key) {
    String k = key.strip();
    if (k.length() >= 2 && (k.startsWith("\"") && k.endsWith("\"") || k.startsWith("'") && k.endsWith("'"))) {
      return k.substring(1, k.length() - 1);
    }
    return k;
  }
}
