package org.compassci.sched.actors;

import java.time.Clock;
import java.time.Instant;

/** Messages handled and the last one's time; owned by one actor, touched on its thread only. */
final class Activity {
  private final Clock clock;
  private long messages;
  private Instant last = Instant.EPOCH;

  Activity(Clock clock) {
    this.clock = clock;
  }

  void touch() {
    messages++;
    last = clock.instant();
  }

  long messages() {
    return messages;
  }

  Instant last() {
    return last;
  }
}
