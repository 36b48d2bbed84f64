package org.compassci.sched.persistence;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;

/**
 * The lines one class logs at INFO and above while a test runs, for tests that check what an
 * operator reads; closing it puts the logger back as it was. Shared with the other modules'
 * tests through this module's test jar.
 */
public final class LogLines implements AutoCloseable {

  private final Logger logger;
  private final Level before;
  private final ListAppender<ILoggingEvent> lines = new ListAppender<>();

  private LogLines(Class<?> source) {
    logger = (Logger) org.slf4j.LoggerFactory.getLogger(source);
    before = logger.getLevel();
    lines.start();
    logger.setLevel(Level.INFO);
    logger.addAppender(lines);
  }

  /** Starts catching what {@code source} logs. */
  public static LogLines of(Class<?> source) {
    return new LogLines(source);
  }

  /** The messages so far, formatted. */
  public List<String> messages() {
    // the appender adds under this lock, from whatever thread logs
    synchronized (lines) {
      return lines.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
    }
  }

  @Override
  public void close() {
    logger.detachAppender(lines);
    logger.setLevel(before);
  }
}
