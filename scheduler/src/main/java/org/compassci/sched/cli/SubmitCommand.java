package org.compassci.sched.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;
import java.util.concurrent.Callable;
import org.compassci.sched.model.InvalidJobException;
import org.compassci.sched.model.JobFile;
import org.compassci.sched.model.JobIntake;
import org.compassci.sched.model.LkpPrograms;
import org.compassci.sched.model.Json;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(name = "submit", sortOptions = false,
    header = "Submit the jobs of job files, and follow them with -m.",
    description = {"A job file is written as for lkp-tests' submit: YAML whose first document is a "
        + "job and whose later documents are variations of it, each list in it making one job per "
        + "value (README, \"Job files\"). A YAML list of jobs, or JSON, is taken as written.",
        "Prints 'submitted <job_id> result_root=<path>' for each job, then how many. Every file is "
        + "read before anything is sent."},
    footerHeading = "%nExamples:%n",
    footer = {"  java -jar scheduler.jar submit --dry-run hackbench.yaml",
        "  java -jar scheduler.jar submit hackbench.yaml -s testbox=vm-2p8g -m"})
final class SubmitCommand implements Callable<Integer> {

  /**
   * Most bytes of jobs sent in one request: half the server's default limit on a body
   * ({@code scheduler.http.max-body}, 1 MiB), so that a large file goes in a few requests.
   */
  static final int BATCH_BYTES = 512 * 1024;

  @ParentCommand Cli cli;
  @Spec CommandSpec spec;
  @Mixin HelpOption help;

  @Parameters(arity = "1..*", paramLabel = "FILE", description = "job files; - reads one from stdin")
  List<String> files;

  @Option(names = {"-s", "--set"}, paramLabel = "KEY=VALUE",
      description = "set a top-level field on every job, overriding the file before its lists are "
          + "expanded (repeatable); the value is read as YAML, so 8 is a number")
  List<String> settings = new ArrayList<>();

  @Option(names = "--lkp-src", paramLabel = "DIR",
      description = "an lkp-tests tree, in which the top-level keys of YAML job files that name its "
          + "tests, monitors, setup scripts and daemons are found, as lkp-tests' own submit finds them, "
          + "and moved under program:, monitor:, setup: and daemon: for job.sh to run; default: LKP_SRC")
  Path lkpSrc;

  @Option(names = "--dry-run",
      description = "print each job the files make, one line each with what varies between them, "
          + "and their count; send nothing")
  boolean dryRun;

  @Option(names = {"-m", "--monitor", "--watch"},
      description = "then follow the jobs until they finish, a line per stage change; exit 1 "
          + "if one ends with a health other than success")
  boolean monitor;

  /** A file's name as the user gave it, its jobs, and whether it was a YAML job file. */
  private record Loaded(String name, List<ObjectNode> jobs, boolean yaml) {}

  @Override
  public Integer call() {
    ObjectNode set;
    try {
      set = JobFile.settings(settings);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
    JobFile.Rules rules = cli.jobFileRules();
    LkpPrograms programs = programs();
    if (programs != null) {
      rules = rules.withPrograms(programs);
    }
    List<Loaded> loaded = new ArrayList<>(files.size());
    for (String file : files) {
      Loaded f = load(file, rules, set);
      warnIfNothingRuns(f, rules.programs().isPresent());
      loaded.add(f);
    }
    if (dryRun) {
      return dryRun(loaded);
    }
    SchedulerClient client = cli.client(spec.commandLine());
    List<String> ids = new ArrayList<>();
    for (Loaded f : loaded) {
      if (!send(client, f, ids)) {
        return Cli.REFUSED;
      }
    }
    PrintWriter out = spec.commandLine().getOut();
    out.println(count(ids.size()) + " submitted");
    out.flush();
    if (!monitor) {
      return Cli.OK;
    }
    return cli.watch(client, spec.commandLine()).follow(ids);
  }

  /**
   * The programs of the lkp-tests tree given (--lkp-src, else LKP_SRC); null when none is (then
   * scheduler.submit.lkp-src's, if set).
   */
  private LkpPrograms programs() {
    String given = lkpSrc != null ? lkpSrc.toString() : cli.env("LKP_SRC");
    if (given == null || given.isBlank()) {
      return null;
    }
    try {
      return LkpPrograms.scan(Path.of(given));
    } catch (IllegalArgumentException | java.io.UncheckedIOException e) {
      if (lkpSrc != null) {
        throw new ParameterException(spec.commandLine(), "--lkp-src: " + e.getMessage());
      }
      // a stale LKP_SRC in the environment (a checkout since removed) does not stop a submit
      // that may not need it: said, and left out
      PrintWriter err = spec.commandLine().getErr();
      err.println("warning: LKP_SRC: " + e.getMessage() + "; job files are read without an lkp-tests tree");
      err.flush();
      return null;
    }
  }

  /**
   * A YAML job file written for lkp-tests names its programs as top-level keys ({@code hackbench:}),
   * which only lkp-tests' tree tells from the job's own maps. A job that keeps such keys, with
   * neither lkp-tests' own functions (job2sh) nor a program in a section, boots and runs nothing
   * on an lkp-tests box, and reports success: said here, before it is sent. A job without such
   * keys (one for a box that reads the job as JSON) is not warned about.
   */
  private void warnIfNothingRuns(Loaded f, boolean lookedUp) {
    if (!f.yaml()) {
      return;
    }
    java.util.Set<String> keys = new java.util.LinkedHashSet<>();
    int idle = 0;
    for (ObjectNode job : f.jobs()) {
      List<String> likely = LkpPrograms.likelyPrograms(job);
      if (!likely.isEmpty() && !LkpPrograms.runsSomething(job)) {
        idle++;
        keys.addAll(likely);
      }
    }
    if (idle == 0) {
      return;
    }
    String why = f.name() + ": " + idle + " of " + count(f.jobs().size()) + (idle == 1 ? " runs" : " run")
        + " nothing on an lkp-tests box:"
        + " no program under setup:, daemon:, monitor: or program:, and no job2sh; "
        + (lookedUp ? "the lkp-tests tree has no program called " + String.join(", ", keys)
            : "lkp-tests' own submit looks " + String.join(", ", keys) + " up in its tree: give the tree with "
                + "--lkp-src DIR (or LKP_SRC), or list the programs under program:");
    PrintWriter err = spec.commandLine().getErr();
    err.println("warning: " + why);
    err.flush();
  }

  private Loaded load(String file, JobFile.Rules rules, ObjectNode set) {
    String name = file.equals("-") ? "stdin" : file;
    byte[] content = file.equals("-") ? stdin() : read(file);
    try {
      JobFile.Format format = JobFile.Format.of(content);
      return new Loaded(name, JobFile.read(content, format, rules, set), format == JobFile.Format.YAML);
    } catch (InvalidJobException e) {
      throw CliFailure.badJobFile(name + ": " + e.getMessage());
    }
  }

  private byte[] stdin() {
    try {
      return cli.stdin().readAllBytes();
    } catch (IOException e) {
      throw CliFailure.badJobFile("stdin: cannot read it: " + e.getMessage());
    }
  }

  private static byte[] read(String name) {
    Path file = Path.of(name);
    if (Files.isDirectory(file)) {
      throw CliFailure.badJobFile(name + ": is a folder, not a job file");
    }
    try {
      return Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw CliFailure.badJobFile(name + ": no such file");
    } catch (AccessDeniedException e) {
      throw CliFailure.badJobFile(name + ": permission denied");
    } catch (IOException e) {
      throw CliFailure.badJobFile(name + ": cannot read it: " + e.getMessage());
    }
  }

  /**
   * Each job on a line with what sets it apart, then the count; and, checked here by the
   * scheduler's own rules, the jobs it would refuse.
   */
  private int dryRun(List<Loaded> loaded) {
    PrintWriter out = spec.commandLine().getOut();
    List<String> refused = new ArrayList<>();
    int total = 0;
    for (Loaded f : loaded) {
      List<String> lines = VaryingParameters.describe(f.jobs());
      for (String line : lines) {
        out.println(f.name() + ": " + (line.isEmpty() ? "(as written)" : line));
      }
      refused.addAll(refusals(f));
      total += f.jobs().size();
    }
    StringJoiner perFile = new StringJoiner(", ", " (", ")");
    loaded.forEach(f -> perFile.add(f.name() + " " + f.jobs().size()));
    out.println(count(total) + " would be submitted" + (loaded.size() > 1 ? perFile : "") + "; nothing was sent");
    out.flush();
    if (refused.isEmpty()) {
      return Cli.OK;
    }
    PrintWriter err = spec.commandLine().getErr();
    refused.forEach(r -> err.println("scheduler: " + r));
    err.flush();
    return Cli.USAGE;
  }

  /** The scheduler's refusals of a file's jobs, one line per distinct reason. */
  private static List<String> refusals(Loaded f) {
    Map<String, Integer> why = new LinkedHashMap<>();
    for (ObjectNode job : f.jobs()) {
      try {
        JobIntake.prepare(job);
      } catch (InvalidJobException e) {
        why.merge(e.getMessage(), 1, Integer::sum);
      }
    }
    List<String> lines = new ArrayList<>();
    why.forEach((message, n) -> lines.add(f.name() + ": " + n + " of " + count(f.jobs().size())
        + " would be refused: " + message));
    return lines;
  }

  /**
   * Sends a file's jobs, in one request when they fit, which the server takes all or nothing.
   * A larger file goes in several, so its jobs are checked here first: only the server being
   * unable to store them can then split a file, and that is said. False when refused.
   */
  private boolean send(SchedulerClient client, Loaded f, List<String> ids) {
    List<List<ObjectNode>> batches = batches(f.jobs());
    if (batches.size() > 1) {
      List<String> refused = refusals(f);
      if (!refused.isEmpty()) {
        throw CliFailure.badJobFile(String.join("\nscheduler: ", refused) + "; nothing was sent");
      }
    }
    PrintWriter out = spec.commandLine().getOut();
    int sent = 0;
    for (List<ObjectNode> batch : batches) {
      String body = batch.size() == 1 && f.jobs().size() == 1
          ? Json.write(batch.get(0)) : Json.write(Json.MAPPER.valueToTree(batch));
      try {
        // one key per request: its retries (a refused connection, a timeout, a 503) make no second job
        SchedulerClient.Answer a = client.postRetrying(SchedulerClient.V1 + "/jobs/submit", body,
            "Idempotency-Key", java.util.UUID.randomUUID().toString());
        if (a.status() == 400 && batch.size() > 1) {
          refusedJobs(f, a, sent, batch.size());
          return false;
        }
        for (JsonNode j : client.expectJson(a)) {
          String id = j.path("job_id").asText();
          ids.add(id);
          out.println("submitted " + id + " result_root=" + j.path("result_root").asText());
        }
        out.flush();
      } catch (CliFailure failure) {
        if (sent == 0) {
          throw failure;
        }
        throw new CliFailure(failure.exitCode(), failure.getMessage() + "; " + partly(f, sent));
      }
      sent += batch.size();
    }
    return true;
  }

  /** Consecutive jobs whose JSON stays within BATCH_BYTES (a larger job goes alone). */
  private static List<List<ObjectNode>> batches(List<ObjectNode> jobs) {
    List<List<ObjectNode>> batches = new ArrayList<>();
    List<ObjectNode> batch = new ArrayList<>();
    long bytes = 0;
    for (ObjectNode job : jobs) {
      long size = Json.bytes(job).length + 1L;
      if (!batch.isEmpty() && bytes + size > BATCH_BYTES) {
        batches.add(batch);
        batch = new ArrayList<>();
        bytes = 0;
      }
      batch.add(job);
      bytes += size;
    }
    batches.add(batch);
    return batches;
  }

  /** The server answers a bad batch with one message per job, in the order they were sent. */
  private void refusedJobs(Loaded f, SchedulerClient.Answer a, int first, int count) {
    PrintWriter err = spec.commandLine().getErr();
    // with several files, which one; with one, the command line already says
    String file = files.size() > 1 ? f.name() + ": " : "";
    List<String> messages = SchedulerClient.messages(a);
    if (messages.size() != count) {
      err.println("scheduler: " + file + SchedulerClient.refusal(a));
    } else {
      for (int i = 0; i < count; i++) {
        err.println("scheduler: " + file + "job " + (first + i + 1) + " of " + f.jobs().size() + ": "
            + messages.get(i) + " (HTTP 400)");
      }
    }
    if (first > 0) {
      err.println("scheduler: " + partly(f, first));
    }
    err.flush();
  }

  private static String partly(Loaded f, int sent) {
    return f.name() + ": its first " + sent + " of " + count(f.jobs().size()) + " were submitted (above), the other "
        + (f.jobs().size() - sent) + " were not";
  }

  private static String count(int jobs) {
    return jobs + (jobs == 1 ? " job" : " jobs");
  }
}
