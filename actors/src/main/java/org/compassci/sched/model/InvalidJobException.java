package org.compassci.sched.model;

/** Input that cannot be accepted; the message says what is wrong and becomes a 4xx answer. */
public class InvalidJobException extends RuntimeException {
  public InvalidJobException(String message) {
    super(message);
  }
}
