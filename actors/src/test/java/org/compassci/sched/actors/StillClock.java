package org.compassci.sched.actors;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicReference;

/** A clock that stands still until moved: a deadline falls when the test says, not when a slow step ends. */
final class StillClock extends UtcClock {

  private final AtomicReference<Instant> now;

  StillClock(Instant start) {
    now = new AtomicReference<>(start);
  }

  StillClock() {
    this(Instant.now());
  }

  @Override
  public Instant instant() {
    return now.get();
  }

  void advance(Duration by) {
    now.updateAndGet(t -> t.plus(by));
  }
}
