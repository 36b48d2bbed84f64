package org.compassci.sched.persistence;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/** For tests: every thread of a fixed pool kept busy, as a burst of slow calls would. */
public final class BusyThreads {

  private BusyThreads() {}

  /**
   * Occupies all {@code threads} threads of {@code pool} until the latch returned is counted
   * down; returns once each of them is held.
   */
  public static CountDownLatch hold(Executor pool, int threads) throws InterruptedException {
    CountDownLatch busy = new CountDownLatch(threads);
    CountDownLatch release = new CountDownLatch(1);
    for (int i = 0; i < threads; i++) {
      pool.execute(() -> {
        busy.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
    }
    if (!busy.await(10, TimeUnit.SECONDS)) {
      release.countDown();
      throw new IllegalStateException("the pool's " + threads + " threads were not all taken within 10 s");
    }
    return release;
  }
}
