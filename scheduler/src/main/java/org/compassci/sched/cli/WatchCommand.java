package org.compassci.sched.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(name = "watch", header = "Follow jobs live until they finish.",
    description = {"Prints a line '<time> <job_id> <stage> "
        + "[health=..] [testbox=..]' per change, then a summary line per job. Exit 1 if one "
        + "ends with a health other than success."})
final class WatchCommand implements Callable<Integer> {

  @ParentCommand Cli cli;
  @Spec CommandSpec spec;
  @Mixin HelpOption help;

  @Parameters(paramLabel = "ID", arity = "0..*", description = "job ids")
  List<String> ids = new ArrayList<>();

  @Option(names = "--submit-id", paramLabel = "SUBMIT_ID",
      description = "every job of one run of lkp-tests' submit (the submit_id it printed)")
  String submitId;

  @Option(names = "--ws",
      description = "follow over the WebSocket /scheduler/v1/client instead of Server-Sent Events")
  boolean ws;

  @Option(names = "--idle-timeout", paramLabel = "SECONDS",
      description = "open a stream again that has said nothing this long (the server sends a heartbeat "
          + "every 15 s by default); default: ${DEFAULT-VALUE}")
  long idleSeconds = JobWatch.DEFAULT_IDLE.toSeconds();

  @Override
  public Integer call() {
    if (idleSeconds < 1) {
      throw new ParameterException(spec.commandLine(), "--idle-timeout: give 1 or more seconds");
    }
    if (ids.isEmpty() && submitId == null) {
      throw new ParameterException(spec.commandLine(), "give job ids, or --submit-id of a run");
    }
    List<String> jobIds = new ArrayList<>(ids.stream().map(id -> JobIds.check(id, spec.commandLine())).toList());
    SchedulerClient client = cli.client(spec.commandLine());
    if (submitId != null) {
      JsonNode run = client.expectJson(client.get(SchedulerClient.V1 + "/jobs?submit_id="
          + URLEncoder.encode(submitId, StandardCharsets.UTF_8)));
      run.path("jobs").forEach(j -> jobIds.add(j.path("job_id").asText()));
      if (jobIds.isEmpty()) {
        throw CliFailure.refused("no job has submit_id " + submitId);
      }
      if (run.path("truncated").asBoolean(false)) {
        // following a part and exiting 0 would tell a script the whole run succeeded
        throw CliFailure.refused("run " + submitId + " has more than the " + run.path("total").asInt()
            + " jobs the server lists (scheduler.watch.max-jobs): watch them by id, in parts");
      }
    }
    JobWatch watch = cli.watch(client, spec.commandLine()).idleTimeout(java.time.Duration.ofSeconds(idleSeconds));
    return (ws ? watch.overSocket() : watch).follow(jobIds.stream().distinct().toList());
  }
}
