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

  @Override
  public Integer call() {
    List<String> jobIds = ids.stream().map(id -> JobIds.check(id, spec.commandLine())).distinct().toList();
    return cli.watch(cli.client(spec.commandLine()), spec.commandLine()).follow(jobIds);
  }
}
