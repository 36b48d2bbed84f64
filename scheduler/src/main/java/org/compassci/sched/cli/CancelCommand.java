package org.compassci.sched.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(name = "cancel", header = "Cancel a job that is still queued.",
    description = {"Only a job in stage submit can be cancelled; once a testbox has it, the "
        + "server refuses (exit 4)."})
final class CancelCommand implements Callable<Integer> {

  @ParentCommand Cli cli;
  @Spec CommandSpec spec;
  @Mixin HelpOption help;

  @Parameters(paramLabel = "ID", description = "the job id")
  String id;

  @Override
  public Integer call() {
    String jobId = JobIds.check(id, spec.commandLine());
    SchedulerClient client = cli.client(spec.commandLine());
    client.expectJson(client.post(SchedulerClient.V1 + "/jobs/" + jobId + "/cancel", ""));
    spec.commandLine().getOut().println("cancelled " + jobId);
    spec.commandLine().getOut().flush();
    return Cli.OK;
  }
}
