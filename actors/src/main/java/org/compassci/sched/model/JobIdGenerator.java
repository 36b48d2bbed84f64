package org.compassci.sched.model;

import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;

/**
 * Compass-CI job ids: yyMMddHHmmssSSS then a two-digit worker id, e.g. 25112816270001201.
 * Strictly increasing within a process: when the clock gives an id not above the last one (two
 * ids in one millisecond, or the clock stepped back) the next free millisecond is taken. Not
 * thread-safe: one actor owns it.
 */
public final class JobIdGenerator {

  private static final DateTimeFormatter STAMP =
      DateTimeFormatter.ofPattern("yyMMddHHmmssSSS").withZone(ZoneId.systemDefault());

  private final int workerId;
  private long last;

  public JobIdGenerator(int workerId) {
    if (workerId < 0 || workerId > 99) {
      throw new IllegalArgumentException("worker id must be 0..99, got " + workerId);
    }
    this.workerId = workerId;
  }

  public long next(Instant now) {
    long candidate = Long.parseLong(STAMP.format(now)) * 100 + workerId;
    if (candidate <= last) {
      candidate = last + 100;
    }
    last = candidate;
    return candidate;
  }

  /** The lowest id any worker gives at {@code t}. */
  public static long firstIdAt(Instant t) {
    return Long.parseLong(STAMP.format(t)) * 100;
  }

  /** Ids already given out (found in the store at start) are never given again. */
  public void observe(long existingId) {
    if (existingId > last && existingId % 100 == workerId) {
      last = existingId;
    }
  }
}
