package org.compassci.sched.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
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
    header = "Submit the jobs of a YAML job file, and follow them with -m.",
    description = {"One job per YAML document; documents are separated by ---. Prints "
        + "'submitted <job_id> result_root=<path>' for each job."},
    footerHeading = "%nExample:%n",
    footer = {"  java -jar scheduler.jar submit hackbench.yaml -s nr_threads=8 -m"})
final class SubmitCommand implements Callable<Integer> {

  @ParentCommand Cli cli;
  @Spec CommandSpec spec;
  @Mixin HelpOption help;

  @Parameters(paramLabel = "FILE", description = "the job file; - reads it from stdin")
  String file;

  @Option(names = {"-s", "--set"}, paramLabel = "KEY=VALUE",
      description = "set a top-level field on every job, overriding the file (repeatable); "
          + "the value is read as YAML, so 8 is a number")
  List<String> settings = new ArrayList<>();

  @Option(names = {"-m", "--monitor"},
      description = "then follow the jobs until they finish, a line per stage change; exit 1 "
          + "if one ends with a health other than success")
  boolean monitor;

  @Override
  public Integer call() {
    SchedulerClient client = cli.client(spec.commandLine());
    List<ObjectNode> jobs = JobFile.read(file, cli.stdin());
    try {
      JobFile.set(jobs, settings);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
    String body;
    if (jobs.size() == 1) {
      body = Json.write(jobs.get(0));
    } else {
      ArrayNode all = Json.MAPPER.createArrayNode();
      jobs.forEach(all::add);
      body = Json.write(all);
    }
    SchedulerClient.Answer a = client.post(SchedulerClient.V1 + "/jobs/submit", body);
    if (a.status() == 400 && jobs.size() > 1) {
      refusedJobs(a, jobs.size());
      return Cli.REFUSED;
    }
    JsonNode answer = client.expectJson(a);
    PrintWriter out = spec.commandLine().getOut();
    List<String> ids = new ArrayList<>();
    for (JsonNode j : answer) {
      String id = j.path("job_id").asText();
      ids.add(id);
      out.println("submitted " + id + " result_root=" + j.path("result_root").asText());
    }
    out.flush();
    if (!monitor) {
      return Cli.OK;
    }
    return cli.watch(client, spec.commandLine()).follow(ids);
  }

  /** The server answers a bad batch with one message per job, in the order they were sent. */
  private void refusedJobs(SchedulerClient.Answer a, int count) {
    PrintWriter err = spec.commandLine().getErr();
    List<String> messages = SchedulerClient.messages(a);
    if (messages.size() != count) {
      err.println("scheduler: " + SchedulerClient.refusal(a));
    } else {
      for (int i = 0; i < count; i++) {
        err.println("scheduler: job " + (i + 1) + " of " + count + ": " + messages.get(i) + " (HTTP 400)");
      }
    }
    err.flush();
  }
}
