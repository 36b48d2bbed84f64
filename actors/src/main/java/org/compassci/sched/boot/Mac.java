package org.compassci.sched.boot;

import java.util.Locale;
import org.compassci.sched.model.InvalidJobException;

/**
 * MAC addresses as labs and firmware spell them: {@code 52:54:00:12:34:56} in a hosts file,
 * {@code 52-54-00-12-34-56} from iPXE's {@code ${mac:hexhyp}}, upper or lower case, Cisco's
 * {@code 5254.0012.3456}, or twelve bare hex digits. One canonical form, lower case with colons,
 * so that any spelling finds the same box.
 */
public final class Mac {

  private Mac() {}

  /** The canonical form; throws {@link InvalidJobException} saying why {@code raw} is not a MAC. */
  public static String normalize(String raw) {
    if (raw == null || raw.isBlank()) {
      throw new InvalidJobException("mac: required");
    }
    String t = raw.trim();
    StringBuilder hex = new StringBuilder(12);
    char separator = 0;
    for (int i = 0; i < t.length(); i++) {
      char c = t.charAt(i);
      if (Character.digit(c, 16) >= 0 && c < 128) {
        hex.append(Character.toLowerCase(c));
      } else if (c == ':' || c == '-' || c == '.') {
        // one kind of separator, never two in a row
        if ((separator != 0 && separator != c) || i == 0 || !isHex(t.charAt(i - 1))) {
          throw bad(raw);
        }
        separator = c;
      } else {
        throw bad(raw);
      }
    }
    if (hex.length() != 12 || !isHex(t.charAt(t.length() - 1)) || !groupsFit(t, separator)) {
      throw bad(raw);
    }
    StringBuilder out = new StringBuilder(17);
    for (int i = 0; i < 12; i += 2) {
      if (i > 0) {
        out.append(':');
      }
      out.append(hex, i, i + 2);
    }
    return out.toString();
  }

  /** iPXE's {@code ${mac:hexhyp}} spelling of a canonical MAC. */
  public static String hexhyp(String canonical) {
    return canonical.replace(':', '-');
  }

  /** Pairs for ':' and '-', groups of four for '.', none for bare digits. */
  private static boolean groupsFit(String t, char separator) {
    if (separator == 0) {
      return t.length() == 12;
    }
    int group = separator == '.' ? 4 : 2;
    String[] parts = t.split(java.util.regex.Pattern.quote(String.valueOf(separator)), -1);
    for (String p : parts) {
      if (p.length() != group) {
        return false;
      }
    }
    return parts.length == 12 / group;
  }

  private static boolean isHex(char c) {
    return c < 128 && Character.digit(c, 16) >= 0;
  }

  private static InvalidJobException bad(String raw) {
    String shown = raw.length() > 40 ? raw.substring(0, 40) + "..." : raw;
    return new InvalidJobException("mac: '" + shown.replaceAll("\\p{Cntrl}", "?").toLowerCase(Locale.ROOT)
        + "' is not a MAC address (like 52:54:00:12:34:56 or 52-54-00-12-34-56)");
  }
}
