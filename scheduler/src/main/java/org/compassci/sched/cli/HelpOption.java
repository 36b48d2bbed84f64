package org.compassci.sched.cli;

import picocli.CommandLine.Option;

/** -h/--help on every command; a mixin, not an inherited option, because "help" has its own. */
final class HelpOption {

  @Option(names = {"-h", "--help"}, usageHelp = true, description = "show this help and exit")
  boolean help;
}
