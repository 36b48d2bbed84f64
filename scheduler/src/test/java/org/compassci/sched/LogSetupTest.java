package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The logging set up in code is the one conf/logback.xml describes (the file operators copy and
 * pass with -Dlogback.configurationFile), and a file given that way wins.
 */
class LogSetupTest {

  private static final List<String> LOGGERS = List.of(
      org.slf4j.Logger.ROOT_LOGGER_NAME, "com.zaxxer.hikari", "org.apache.pekko", "org.apache.pekko.io.TcpListener",
      "org.apache.pekko.http", "org.compassci.sched.Main");

  /** The context conf/logback.xml makes, read by Logback's own XML configurator. */
  private static LoggerContext fromFile() throws Exception {
    LoggerContext c = new LoggerContext();
    JoranConfigurator joran = new JoranConfigurator();
    joran.setContext(c);
    joran.doConfigure(Path.of("..", "conf", "logback.xml").toFile());
    return c;
  }

  /** LogSetup's answer for a new context, with -Dlogback.configurationFile as {@code given} (null: unset). */
  private static Configurator.ExecutionStatus configure(LoggerContext c, String given) {
    String before = System.getProperty("logback.configurationFile");
    setOrClear(given);
    try {
      LogSetup setup = new LogSetup();
      setup.setContext(c);
      return setup.configure(c);
    } finally {
      setOrClear(before);
    }
  }

  private static void setOrClear(String file) {
    if (file == null) {
      System.clearProperty("logback.configurationFile");
    } else {
      System.setProperty("logback.configurationFile", file);
    }
  }

  private static LoggerContext inCode() {
    LoggerContext c = new LoggerContext();
    assertEquals(Configurator.ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY, configure(c, null));
    return c;
  }

  @Test
  void theSameLevelsAppenderAndPatternAsConfLogbackXml() throws Exception {
    LoggerContext file = fromFile();
    LoggerContext code = inCode();
    for (String name : LOGGERS) {
      Level a = file.getLogger(name).getEffectiveLevel();
      Level b = code.getLogger(name).getEffectiveLevel();
      assertEquals(a, b, name);
    }
    ConsoleAppender<ILoggingEvent> fa = (ConsoleAppender<ILoggingEvent>) file.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).getAppender("STDERR");
    ConsoleAppender<ILoggingEvent> ca = (ConsoleAppender<ILoggingEvent>) code.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).getAppender("STDERR");
    assertNotNull(fa, "conf/logback.xml has its STDERR appender");
    assertNotNull(ca, "LogSetup has its STDERR appender");
    assertEquals(fa.getTarget(), ca.getTarget());
    assertEquals(((PatternLayoutEncoder) fa.getEncoder()).getPattern(),
        assertInstanceOf(PatternLayoutEncoder.class, ca.getEncoder()).getPattern());
    assertEquals(Level.OFF, code.getLogger("org.apache.pekko.io.TcpListener").getEffectiveLevel());
  }

  @Test
  void aFileGivenOnTheCommandLineWins() {
    LoggerContext c = new LoggerContext();
    assertEquals(Configurator.ExecutionStatus.INVOKE_NEXT_IF_ANY, configure(c, "my-logback.xml"));
    assertFalse(c.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).iteratorForAppenders().hasNext(),
        "LogSetup added an appender although a file was given");
  }
}
