package org.compassci.sched;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.util.concurrent.ExecutionException;
import org.compassci.sched.cli.Cli;
import org.compassci.sched.config.BadSettingException;
import org.compassci.sched.config.SchedulerSettings;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code java -jar scheduler.jar} starts the scheduler; with arguments it is the command-line
 * client instead ({@code java -jar scheduler.jar --help}).
 */
public final class Main {

  private Main() {}

  public static void main(String[] args) {
    if (args.length > 0) {
      System.exit(Cli.run(args));
    }
    serve();
  }

  private static void serve() {
    Config config;
    SchedulerSettings settings;
    try {
      config = ConfigFactory.load();
      settings = SchedulerSettings.fromConfig(config);
    } catch (BadSettingException e) {
      fail("bad setting " + e.getMessage(), 2);
      return;
    } catch (ConfigException e) {
      fail("bad configuration: " + e.getMessage(), 2);
      return;
    }
    Logger log = LoggerFactory.getLogger(Main.class);
    try {
      SchedulerApp.Running r = SchedulerApp.start(config, settings).toCompletableFuture().get();
      settings.boot().labHostsDir().ifPresent(dir -> {
        // SIGHUP: the lab's hosts/ folder is read again, edits apply without a restart
        sun.misc.Signal.handle(new sun.misc.Signal("HUP"), sig -> r.reloadLab());
        log.info("lab hosts from {}; SIGHUP reads them again", dir);
      });
      log.info("scheduler listening on http://{}:{} store={} data={}",
          settings.host(), r.address().getPort(), r.store(),
          settings.store().equals("embedded") ? settings.dataDir()
              : masked(settings.jdbcUrl().orElse("")));
    } catch (BadSettingException e) {
      fail("bad setting " + e.getMessage(), 2);
    } catch (ExecutionException e) {
      fail("cannot start: " + e.getCause().getMessage(), 1);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      fail("interrupted while starting", 1);
    } catch (RuntimeException e) {
      fail("cannot start: " + e.getMessage(), 1);
    }
  }

  /** A JDBC URL fit for a log: a password in it, as user info or a parameter, shows as ***. */
  static String masked(String jdbcUrl) {
    return jdbcUrl
        .replaceAll("(?i)([?&;](?:password|pwd|pass)=)[^&;]*", "$1***")
        .replaceAll("(//[^/@:?&;]+:)[^/@?&;]*@", "$1***@");
  }

  private static void fail(String line, int code) {
    System.err.println("scheduler: " + line);
    System.exit(code);
  }
}
