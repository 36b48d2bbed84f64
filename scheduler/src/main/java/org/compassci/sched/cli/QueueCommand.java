package org.compassci.sched.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(name = "queue", header = "Show how many jobs wait for a testbox, in total and per group.")
final class QueueCommand implements Callable<Integer> {

  /** The dimensions the server counts queued jobs by; an enum so that a typo is a usage error. */
  enum GroupBy { tbox_group, my_account, arch, queue }

  @ParentCommand Cli cli;
  @Spec CommandSpec spec;
  @Mixin HelpOption help;

  @Option(names = "--by", paramLabel = "DIMENSION", defaultValue = "tbox_group",
      description = "group by one of: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})")
  GroupBy by;

  @Override
  public Integer call() {
    SchedulerClient client = cli.client(spec.commandLine());
    JsonNode pending = client.expectJson(
        client.get(SchedulerClient.V1 + "/dashboard/jobs/pending?group_by=" + by.name()));
    PrintWriter out = spec.commandLine().getOut();
    out.println("pending " + pending.path("total").asLong());
    JsonNode groups = pending.path("groups");
    if (groups.size() > 0) {
      String heading = by.name().toUpperCase(Locale.ROOT);
      int width = heading.length();
      for (Iterator<String> names = groups.fieldNames(); names.hasNext(); ) {
        width = Math.max(width, names.next().length());
      }
      String row = "%-" + width + "s  %6s%n";
      out.printf(row, heading, "JOBS");
      // the server sends the largest groups first; that order is kept
      for (Iterator<Map.Entry<String, JsonNode>> it = groups.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> g = it.next();
        out.printf(row, g.getKey(), g.getValue().asText());
      }
    }
    out.flush();
    return Cli.OK;
  }
}
