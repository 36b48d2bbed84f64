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
        + "server refuses (exit 4). Only the job's owner or an admin may cancel it. A refused "
        + "connection, a timeout or a 503 is retried for --retry-for seconds."})
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
    SchedulerClient.Answer a = client.postRetrying(SchedulerClient.V1 + "/jobs/" + jobId + "/cancel", "");
    // a retry after a lost answer finds the job cancelled already: that is what was asked
    boolean doneBefore = a.attempts() > 1 && a.status() == 409 && SchedulerClient.messages(a).stream()
        .anyMatch(m -> m.contains(" is cancel;"));
    if (!doneBefore) {
      client.expectJson(a);
    }
    spec.commandLine().getOut().println("cancelled " + jobId);
    spec.commandLine().getOut().flush();
    return Cli.OK;
  }
}
