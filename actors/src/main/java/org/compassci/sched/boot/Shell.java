package org.compassci.sched.boot;

import com.fasterxml.jackson.databind.JsonNode;

/** Quoting for POSIX sh: what job.sh holds must never be expanded or run by the box's shell. */
public final class Shell {

  private Shell() {}

  /** A shell variable name: job keys such as "#! jobs/x.yaml" or "hw.memory" are not. */
  public static boolean isName(String key) {
    if (key.isEmpty()) {
      return false;
    }
    for (int i = 0; i < key.length(); i++) {
      char c = key.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
      if (!ok) {
        return false;
      }
    }
    return true;
  }

  /**
   * {@code v} in single quotes, each ' written as '\'' and NUL dropped (no shell string holds one):
   * inside single quotes nothing is expanded, not $, not `, not \.
   */
  public static String quote(String v) {
    String s = v.indexOf('\0') >= 0 ? v.replace("\0", "") : v;
    return "'" + s.replace("'", "'\\''") + "'";
  }

  /** A word as short as it can be: bare when only letters, digits and _+=:@/.,- (nothing a shell reads), else single-quoted. */
  public static String word(String v) {
    if (v.isEmpty()) {
      return "''";
    }
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      boolean plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || "_+=:@/.,-".indexOf(c) >= 0;
      if (!plain) {
        return quote(v);
      }
    }
    return v;
  }

  /**
   * A parameter name as an assignable shell name: each character outside [A-Za-z0-9_] (and a
   * leading digit) becomes {@code _<codepoint>_}, as lkp-tests encodes them.
   */
  public static String encodeName(String key) {
    StringBuilder out = new StringBuilder(key.length() + 8);
    for (int i = 0; i < key.length(); ) {
      int cp = key.codePointAt(i);
      boolean ok = cp < 128 && (Character.isLetterOrDigit(cp) || cp == '_') && !(i == 0 && Character.isDigit(cp));
      if (ok) {
        out.append((char) cp);
      } else {
        out.append('_').append(cp).append('_');
      }
      i += Character.charCount(cp);
    }
    return out.toString();
  }

  /**
   * The text of a scalar for the shell: strings as they are, numbers without exponent, booleans
   * as true/false, null as empty, a list of scalars one per line (lkp-tests' join); null for
   * anything else (an object), which has no shell value.
   */
  public static String scalar(JsonNode v) {
    if (v == null || v.isNull()) {
      return "";
    }
    if (v.isTextual()) {
      return v.asText();
    }
    if (v.isBigDecimal() || v.isDouble() || v.isFloat()) {
      // as lkp-tests' Ruby writes a float: 1.0 stays 1.0 (the OS path of os_version 1.0 says
      // so too), 2.50 is 2.5
      String t = v.decimalValue().stripTrailingZeros().toPlainString();
      return t.contains(".") ? t : t + ".0";
    }
    if (v.isValueNode()) {
      return v.asText();
    }
    if (v.isArray()) {
      StringBuilder out = new StringBuilder();
      for (JsonNode e : v) {
        String s = e.isValueNode() ? scalar(e) : null;
        if (s == null) {
          return null;
        }
        if (out.length() > 0) {
          out.append('\n');
        }
        out.append(s);
      }
      return out.toString();
    }
    return null;
  }
}
