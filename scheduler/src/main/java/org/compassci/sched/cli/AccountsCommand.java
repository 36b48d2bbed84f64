package org.compassci.sched.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import org.compassci.sched.model.Json;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code accounts add|list|rotate|remove}: an admin's management of accounts. A new token is
 * printed once, as the lines of Compass-CI's {@code ~/.config/compass-ci/defaults/account.yaml}.
 */
@Command(name = "accounts", header = "Make, list, rotate and remove accounts (an admin's token is needed).",
    subcommands = {AccountsCommand.Add.class, AccountsCommand.ListAll.class, AccountsCommand.Rotate.class,
        AccountsCommand.Remove.class},
    synopsisSubcommandLabel = "COMMAND")
final class AccountsCommand implements Callable<Integer> {

  @ParentCommand Cli cli;
  @Spec CommandSpec spec;
  @Mixin HelpOption help;

  @Override
  public Integer call() {
    throw new CommandLine.ParameterException(spec.commandLine(), "give a command: add, list, rotate or remove");
  }

  static final String ACCOUNTS = SchedulerClient.V1 + "/accounts";

  /** The token as account.yaml lines on stdout; the warning on stderr, so a redirect keeps only the file. */
  static void printToken(CommandLine cl, JsonNode a) {
    PrintWriter out = cl.getOut();
    out.println("my_account: " + a.path("name").asText());
    if (!a.path("email").asText().isEmpty()) {
      out.println("my_email: " + a.path("email").asText());
    }
    if (!a.path("display_name").asText().isEmpty()) {
      out.println("my_name: " + a.path("display_name").asText());
    }
    out.println("my_token: " + a.path("token").asText());
    out.flush();
    cl.getErr().println("scheduler: the token of " + a.path("name").asText() + " (" + a.path("role").asText()
        + ") is shown this once; keep it in ~/.config/compass-ci/defaults/account.yaml (mode 0600)");
    cl.getErr().flush();
  }

  static String path(String name) {
    return ACCOUNTS + "/" + URLEncoder.encode(name, StandardCharsets.UTF_8).replace("+", "%20");
  }

  @Command(name = "add", header = "Make an account and print its token, once.")
  static final class Add implements Callable<Integer> {
    @ParentCommand AccountsCommand parent;
    @Spec CommandSpec spec;
    @Mixin HelpOption help;

    @Parameters(paramLabel = "NAME", description = "the account's name: the my_account of its jobs")
    String name;

    @Option(names = "--email", paramLabel = "E", required = true, description = "the account's email (my_email)")
    String email;

    @Option(names = "--name", paramLabel = "DISPLAY", description = "a display name (my_name)")
    String displayName;

    @Option(names = "--admin", description = "an admin: may manage, and submit or cancel for any account")
    boolean admin;

    @Override
    public Integer call() {
      SchedulerClient client = parent.cli.client(spec.commandLine());
      String body = Json.write(Json.object().put("name", name).put("email", email)
          .put("display_name", displayName == null ? "" : displayName).put("role", admin ? "admin" : "user"));
      printToken(spec.commandLine(), client.expectJson(client.post(ACCOUNTS, body)));
      return Cli.OK;
    }
  }

  @Command(name = "list", header = "List the accounts: name, role, email, when made.")
  static final class ListAll implements Callable<Integer> {
    @ParentCommand AccountsCommand parent;
    @Spec CommandSpec spec;
    @Mixin HelpOption help;

    @Override
    public Integer call() {
      SchedulerClient client = parent.cli.client(spec.commandLine());
      JsonNode all = client.expectJson(client.get(ACCOUNTS));
      int width = 4;
      for (JsonNode a : all.path("accounts")) {
        width = Math.max(width, a.path("name").asText().length());
      }
      PrintWriter out = spec.commandLine().getOut();
      out.println(String.format("%-" + width + "s  %-5s  %-30s  %s", "NAME", "ROLE", "EMAIL", "CREATED"));
      for (JsonNode a : all.path("accounts")) {
        out.println(String.format("%-" + width + "s  %-5s  %-30s  %s", a.path("name").asText(),
            a.path("role").asText(), a.path("email").asText(), a.path("created").asText()));
      }
      out.flush();
      return Cli.OK;
    }
  }

  @Command(name = "rotate", header = "Give an account a new token (the old one stops working) and print it, once.")
  static final class Rotate implements Callable<Integer> {
    @ParentCommand AccountsCommand parent;
    @Spec CommandSpec spec;
    @Mixin HelpOption help;

    @Parameters(paramLabel = "NAME")
    String name;

    @Override
    public Integer call() {
      SchedulerClient client = parent.cli.client(spec.commandLine());
      printToken(spec.commandLine(), client.expectJson(client.post(path(name) + "/token", "")));
      return Cli.OK;
    }
  }

  @Command(name = "remove", header = "Remove an account; its token stops working (its jobs stay).")
  static final class Remove implements Callable<Integer> {
    @ParentCommand AccountsCommand parent;
    @Spec CommandSpec spec;
    @Mixin HelpOption help;

    @Parameters(paramLabel = "NAME")
    String name;

    @Override
    public Integer call() {
      SchedulerClient client = parent.cli.client(spec.commandLine());
      client.expectJson(client.delete(path(name)));
      spec.commandLine().getOut().println("removed " + name);
      spec.commandLine().getOut().flush();
      return Cli.OK;
    }
  }
}
