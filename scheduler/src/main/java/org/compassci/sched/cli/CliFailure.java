package org.compassci.sched.cli;

/**
 * Why a command stopped, as one line for stderr and the exit code that tells scripts which kind
 * of trouble it was. Thrown instead of printed so that every command reports the same way.
 */
final class CliFailure extends RuntimeException {

  private final int exitCode;

  CliFailure(int exitCode, String line) {
    super(line, null, false, false);
    this.exitCode = exitCode;
  }

  int exitCode() {
    return exitCode;
  }

  static CliFailure badJobFile(String line) {
    return new CliFailure(Cli.USAGE, line);
  }

  static CliFailure unreachable(String server, String why) {
    return new CliFailure(Cli.UNREACHABLE, "cannot reach " + server + ": " + why);
  }

  static CliFailure refused(String line) {
    return new CliFailure(Cli.REFUSED, line);
  }
}
