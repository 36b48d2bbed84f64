package org.compassci.sched.cli;

import picocli.CommandLine;
import picocli.CommandLine.ParameterException;

/** Job ids as the server writes them: 64-bit numbers in decimal. */
final class JobIds {

  private JobIds() {}

  /**
   * The id in the server's spelling. Checked here because the server's answer to a path that is
   * not a number is a bare 404 that would not say what was wrong.
   */
  static String check(String text, CommandLine asking) {
    String t = text.strip();
    if (t.isEmpty() || !t.chars().allMatch(c -> c >= '0' && c <= '9')) {
      throw new ParameterException(asking, "'" + text + "' is not a job id (a number)");
    }
    try {
      return Long.toString(Long.parseLong(t));
    } catch (NumberFormatException e) {
      throw new ParameterException(asking, "'" + text + "' is too large for a job id");
    }
  }
}
