package org.compassci.sched.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import org.junit.jupiter.api.Test;

class JobIdGeneratorTest {

  @Test
  void idsAreTimeThenWorkerAndStrictlyIncreasingEvenWhenTheClockStepsBack() {
    JobIdGenerator g = new JobIdGenerator(12);
    Instant t = Instant.parse("2025-11-28T08:27:00.012Z");
    long first = g.next(t);
    assertEquals(12, first % 100);
    assertEquals(17, Long.toString(first).length());
    long same = g.next(t);
    long back = g.next(t.minusSeconds(3600));
    assertTrue(same > first && back > same, first + " " + same + " " + back);
    assertEquals(12, back % 100);
    assertTrue(g.next(t.plusSeconds(1)) > back);
  }

  @Test
  void idsSeenInTheStoreAreNotGivenAgain() {
    JobIdGenerator g = new JobIdGenerator(1);
    long old = new JobIdGenerator(1).next(Instant.parse("2030-01-01T00:00:00Z"));
    g.observe(old);
    assertTrue(g.next(Instant.parse("2025-01-01T00:00:00Z")) > old);
  }

  @Test
  void workerIdOutsideTwoDigitsIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> new JobIdGenerator(100));
  }
}
