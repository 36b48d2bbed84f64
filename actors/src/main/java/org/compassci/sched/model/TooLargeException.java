package org.compassci.sched.model;

/**
 * Input over one of the intake's size limits (too deep, too long a string or number, too many
 * jobs or fields): answered 413 with this message, which names the limit.
 */
public final class TooLargeException extends InvalidJobException {
  public TooLargeException(String message) {
    super(message);
  }
}
