package org.compassci.sched.model;

import java.util.Optional;

/** How far a job's result data has come; the last three let a finished job retire. */
public enum DataReadiness {
  NA("N/A"), UPLOADING("uploading"), UPLOADED("uploaded"), COMPLETE("complete"),
  INCOMPLETE("incomplete"), NORUN("norun");

  private final String wire;

  DataReadiness(String wire) {
    this.wire = wire;
  }

  public String wireName() {
    return wire;
  }

  public boolean isSettled() {
    return this == COMPLETE || this == INCOMPLETE || this == NORUN;
  }

  public static Optional<DataReadiness> fromName(String name) {
    String n = Names.normalize(name);
    for (DataReadiness r : values()) {
      if (r.wire.equalsIgnoreCase(n)) {
        return Optional.of(r);
      }
    }
    return Optional.empty();
  }
}
