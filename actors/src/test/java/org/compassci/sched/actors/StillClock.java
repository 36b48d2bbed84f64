package org.compassci.sched.actors;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicReference;

/** A clock that stands still until moved: a deadline falls when the test says, not when a slow step ends. */
final class StillClock extends Clock {

  private final AtomicReference<Instant> now;

  StillClock(Instant start) {
    now = new AtomicReference<>(start);
  }

  StillClock() {
    this(Instant.now());
  }

  @Override
  public ZoneId getZone() {
    return ZoneOffset.UTC;
  }

  @Override
  public Clock withZone(ZoneId zone) {
    return this;
  }

  @Override
  public Instant instant() {
    return now.get();
  }

  void advance(Duration by) {
    now.updateAndGet(t -> t.plus(by));
  }
}
