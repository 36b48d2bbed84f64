package org.compassci.sched.cli;

import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
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

  @Parameters(paramLabel = "ID", arity = "1..*", description = "job ids")
  List<String> ids;

  @picocli.CommandLine.Option(names = "--ws",
      description = "follow over the WebSocket /scheduler/v1/client instead of Server-Sent Events")
  boolean ws;

  @Override
  public Integer call() {
    List<String> jobIds = ids.stream().map(id -> JobIds.check(id, spec.commandLine())).distinct().toList();
    JobWatch watch = cli.watch(cli.client(spec.commandLine()), spec.commandLine());
    return (ws ? watch.overSocket() : watch).follow(jobIds);
  }
}
