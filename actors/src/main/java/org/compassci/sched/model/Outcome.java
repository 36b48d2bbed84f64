package org.compassci.sched.model;

import com.fasterxml.jackson.databind.node.ObjectNode;

/** The answer to a request about one job; the HTTP edge turns the status into a status code. */
public record Outcome(Status status, String message, ObjectNode job) implements CborSerializable {

  public enum Status { OK, INVALID, NOT_FOUND, CONFLICT, LOCKED, UNAVAILABLE }

  public static Outcome ok(ObjectNode job) {
    return new Outcome(Status.OK, "", job);
  }

  public static Outcome of(Status status, String message) {
    return new Outcome(status, message, null);
  }
}
