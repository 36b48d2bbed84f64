package org.compassci.sched.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.Callable;
import org.compassci.sched.model.Json;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(name = "job", header = "Show a job as the server has it, as indented JSON.")
final class JobCommand implements Callable<Integer> {

  @ParentCommand Cli cli;
  @Spec CommandSpec spec;
  @Mixin HelpOption help;

  @Parameters(paramLabel = "ID", description = "the job id")
  String id;

  @Option(names = {"-f", "--fields"}, paramLabel = "FIELD", split = ",",
      description = "only these fields, e.g. -f job_stage,job_health")
  List<String> fields = List.of();

  @Override
  public Integer call() throws JsonProcessingException {
    String jobId = JobIds.check(id, spec.commandLine());
    SchedulerClient client = cli.client(spec.commandLine());
    String query = fields.isEmpty() ? ""
        : "?fields=" + URLEncoder.encode(String.join(",", fields), StandardCharsets.UTF_8);
    JsonNode job = client.expectJson(client.get(SchedulerClient.V1 + "/jobs/" + jobId + query));
    spec.commandLine().getOut().println(Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(job));
    spec.commandLine().getOut().flush();
    return Cli.OK;
  }
}
