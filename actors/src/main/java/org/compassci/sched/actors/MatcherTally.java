package org.compassci.sched.actors;

import java.util.Arrays;
import java.util.Map;

/**
 * What the matcher counted since the stats actor last asked. Counted in the matcher itself, so
 * the dispatch path sends no message for it; the stats actor collects it once a second.
 */
public record MatcherTally(long submitted, long dispatched, long cancelled, long requestsAnswered,
    long requestsEmpty, long[] waitMillis, Map<String, Integer> pendingByAccount,
    Map<String, Integer> pendingByGroup) implements org.compassci.sched.model.CborSerializable {

  /** The matcher's running counts; owned by the matcher, touched on its thread only. */
  static final class Counter {
    /** Samples of submit-to-dispatch waits kept between two collections; more are not sampled. */
    private static final int MAX_SAMPLES = 200_000;
    private long submitted;
    private long dispatched;
    private long cancelled;
    private long answered;
    private long empty;
    private long[] waits = new long[1024];
    private int samples;

    void submitted(int n) {
      submitted += n;
    }

    void dispatched(long waitMillis) {
      dispatched++;
      answered++;
      if (samples < MAX_SAMPLES) {
        if (samples == waits.length) {
          waits = Arrays.copyOf(waits, Math.min(MAX_SAMPLES, waits.length * 2));
        }
        waits[samples++] = Math.max(0, waitMillis);
      }
    }

    void empty() {
      empty++;
    }

    void cancelled() {
      cancelled++;
    }

    MatcherTally take(Map<String, Integer> byAccount, Map<String, Integer> byGroup) {
      MatcherTally t = new MatcherTally(submitted, dispatched, cancelled, answered, empty,
          Arrays.copyOf(waits, samples), byAccount, byGroup);
      submitted = dispatched = cancelled = answered = empty = 0;
      samples = 0;
      if (waits.length > 4096) {
        waits = new long[1024];
      }
      return t;
    }
  }
}
