package org.compassci.sched.model;

import java.util.Locale;
import java.util.Optional;

/** The stages of a job, in the order they may pass; the ordinal is the stage order of DOMAIN.md. */
public enum JobStage {
  SUBMIT, DISPATCH, BOOT, SETUP, WAIT_PEER, RUNNING, POST_RUN, MANUAL_CHECK, RENEW, FINISH,
  CANCEL, ABORT_INVALID, ABORT_WAIT, ABORT_PROVIDER;

  private final String wire = name().toLowerCase(Locale.ROOT);

  public String wireName() {
    return wire;
  }

  /** Finish and the terminal alternatives: nothing moves a job out of these. */
  public boolean isFinal() {
    return ordinal() >= FINISH.ordinal();
  }

  /** Stages after the job left the queue and before it ended. */
  public boolean isActive() {
    return this != SUBMIT && !isFinal();
  }

  /** The field that records when a job entered this stage. */
  public String timeField() {
    return wire + "_time";
  }

  public static Optional<JobStage> fromName(String name) {
    String n = Names.normalize(name);
    for (JobStage s : values()) {
      if (s.wire.equals(n)) {
        return Optional.of(s);
      }
    }
    return Optional.empty();
  }
}
