package org.compassci.sched.cli;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.io.InputStream;
import java.io.PrintWriter;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.time.ZoneId;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.compassci.sched.config.BadSettingException;
import org.compassci.sched.config.SchedulerSettings;
import org.compassci.sched.model.JobFile;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/**
 * The command-line client: {@code java -jar scheduler.jar COMMAND ...}. It only talks to a running
 * scheduler over its HTTP API, like any other client would.
 */
@Command(name = "java -jar scheduler.jar",
    header = "Submit and follow jobs on a Compass-CI scheduler, through its HTTP API.",
    description = "Without any argument, the jar starts the scheduler server itself (see README).",
    subcommands = {SubmitCommand.class, WatchCommand.class, CancelCommand.class, JobCommand.class,
        QueueCommand.class, AccountsCommand.class, CommandLine.HelpCommand.class},
    synopsisSubcommandLabel = "COMMAND",
    footerHeading = "%nEnvironment:%n",
    footer = {"  SCHED_URL     the scheduler to talk to when --server is not given (a comma list for a cluster)",
        "  SCHED_TOKEN   the account's token when --token is not given; else my_token of",
        "                ~/.config/compass-ci/defaults/*.yaml (Compass-CI's account.yaml)"})
public final class Cli implements Callable<Integer> {

  public static final int OK = 0;
  public static final int UNHEALTHY = 1;
  public static final int USAGE = 2;
  public static final int UNREACHABLE = 3;
  public static final int REFUSED = 4;
  /** Not in the documented list: only a bug in this client ends with it. */
  public static final int BUG = 70;

  static final String DEFAULT_SERVER = "http://127.0.0.1:3000";

  private static final Map<String, String> EXIT_CODES = exitCodes();

  private static Map<String, String> exitCodes() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put(" " + OK, "done; every followed job ended with health success");
    m.put(" " + UNHEALTHY, "a followed job ended with another health (fail, timeout_..., cancel...)");
    m.put(" " + USAGE, "usage error, or a job file that is missing, unreadable, not valid, or makes jobs the "
        + "scheduler would refuse (found before anything is sent)");
    m.put(" " + UNREACHABLE, "the server cannot be reached");
    m.put(" " + REFUSED, "the server refused the request (its message is printed)");
    return m;
  }

  // inherited, so that both "--server URL submit ..." and "submit --server URL ..." work
  @Option(names = "--server", paramLabel = "URL", scope = ScopeType.INHERIT,
      description = "the scheduler, e.g. http://sched.lab:3000; for a cluster its nodes, comma-separated,"
          + " tried in turn when one is down or answers 503 (default: $SCHED_URL, else " + DEFAULT_SERVER + ")")
  String server;

  @Option(names = "--token", paramLabel = "TOKEN", scope = ScopeType.INHERIT,
      description = "the account's token (default: $SCHED_TOKEN, else my_token of "
          + "~/.config/compass-ci/defaults/*.yaml)")
  String token;

  @Option(names = "--retry-for", paramLabel = "SECONDS", scope = ScopeType.INHERIT, defaultValue = "60",
      description = "how long submit and cancel retry a refused connection, a timeout or a 503, "
          + "and how long watch reconnects a stream that keeps ending "
          + "(default: ${DEFAULT-VALUE}; a retried submit never makes a job twice)")
  int retryFor;

  @Mixin HelpOption help;

  @Spec CommandSpec spec;

  private final Map<String, String> env;
  private final InputStream stdin;

  public Cli(Map<String, String> env, InputStream stdin) {
    this.env = env;
    this.stdin = stdin;
  }

  /** Runs a command line as typed; the exit code for System.exit. */
  public static int run(String... args) {
    return commandLine(System.getenv(), System.in).execute(args);
  }

  /**
   * The configured command line; tests call it to give their own environment and stdin, and set
   * their own out and err writers on it.
   */
  public static CommandLine commandLine(Map<String, String> env, InputStream stdin) {
    CommandLine cl = new CommandLine(new Cli(env, stdin));
    cl.setParameterExceptionHandler(Cli::usageError);
    cl.setExecutionExceptionHandler((e, commandLine, parsed) -> failed(e, commandLine));
    document(cl);
    return cl;
  }

  private static void document(CommandLine cl) {
    cl.getCommandSpec().usageMessage()
        .descriptionHeading("%n").parameterListHeading("%nParameters:%n").optionListHeading("%nOptions:%n").commandListHeading("%nCommands:%n")
        .exitCodeListHeading("%nExit codes:%n").exitCodeList(EXIT_CODES);
    cl.getSubcommands().values().forEach(Cli::document);
  }

  @Override
  public Integer call() {
    throw new ParameterException(spec.commandLine(),
        "give a command: submit, watch, cancel, job, queue or accounts (no argument at all starts the server)");
  }

  /** The client for --server, else $SCHED_URL, else the local default. */
  SchedulerClient client(CommandLine asking) {
    String url = server != null ? server : env.getOrDefault("SCHED_URL", "");
    url = url.isBlank() ? DEFAULT_SERVER : url.strip();
    String from = server != null ? "--server" : "SCHED_URL";
    // several URLs, comma-separated: the nodes of a cluster, tried in turn
    for (String one : url.split(",")) {
      URI uri;
      try {
        uri = new URI(one.strip());
      } catch (URISyntaxException e) {
        throw new ParameterException(asking, from + ": '" + one.strip() + "' is not a URL");
      }
      if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme()) || uri.getHost() == null) {
        throw new ParameterException(asking, from + ": '" + one.strip() + "' is not an http:// or https:// URL");
      }
    }
    if (retryFor < 0) {
      throw new ParameterException(asking, "--retry-for: give 0 or more seconds");
    }
    // the API's paths are absolute: a trailing slash would double them
    return new SchedulerClient(url.replaceAll("/+$", ""), Credentials.find(token, env).token(),
        Duration.ofSeconds(retryFor));
  }

  JobWatch watch(SchedulerClient client, CommandLine asking) {
    return new JobWatch(client, asking.getOut(), asking.getErr(), ZoneId.systemDefault(),
        Duration.ofSeconds(retryFor));
  }

  /** The job-file rules of this jar's configuration, the server's defaults (and any -D). */
  JobFile.Rules jobFileRules() {
    try {
      return SchedulerSettings.jobFileRules(ConfigFactory.load());
    } catch (BadSettingException | ConfigException e) {
      throw new CliFailure(USAGE, e.getMessage());
    }
  }

  InputStream stdin() {
    return stdin;
  }

  /** The environment's value of {@code name}, or null. */
  String env(String name) {
    return env.get(name);
  }

  private static int usageError(ParameterException e, String[] args) {
    CommandLine cl = e.getCommandLine();
    PrintWriter err = cl.getErr();
    err.println("scheduler: " + describe(e));
    CommandLine.UnmatchedArgumentException.printSuggestions(e, err);
    err.println("Try '" + cl.getCommandSpec().qualifiedName() + " --help'.");
    err.flush();
    return USAGE;
  }

  /** Picocli's own words, except for a mistyped command, which it calls an unmatched argument. */
  private static String describe(ParameterException e) {
    if (e instanceof CommandLine.UnmatchedArgumentException u && !u.getUnmatched().isEmpty()
        && !u.getCommandLine().getSubcommands().isEmpty() && !u.getUnmatched().get(0).startsWith("-")) {
      return "'" + u.getUnmatched().get(0) + "' is not a command";
    }
    return e.getMessage();
  }

  private static int failed(Exception e, CommandLine cl) {
    PrintWriter err = cl.getErr();
    if (e instanceof CliFailure f) {
      err.println("scheduler: " + f.getMessage());
      err.flush();
      return f.exitCode();
    }
    err.println("scheduler: internal error, please report it:");
    e.printStackTrace(err);
    err.flush();
    return BUG;
  }
}
