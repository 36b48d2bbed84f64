package org.compassci.sched.model;

import com.fasterxml.jackson.databind.node.ObjectNode;

/** The answer to a request about one job; the HTTP edge turns the status into a status code. */
public record Outcome(Status status, String message, ObjectNode job) implements CborSerializable {

  /**
   * {@code DAMAGED}: the job's stored row cannot be read. Unlike {@code UNAVAILABLE} (the store is
   * away), asking again will not help.
   */
  public enum Status { OK, INVALID, NOT_FOUND, CONFLICT, LOCKED, UNAVAILABLE, DAMAGED }

  public static Outcome ok(ObjectNode job) {
    return new Outcome(Status.OK, "", job);
  }

  public static Outcome of(Status status, String message) {
    return new Outcome(status, message, null);
  }
}
