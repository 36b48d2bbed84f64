package org.compassci.sched.http;

import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;

/**
 * An asynchronous semaphore: at most {@code max} holders at once; the others wait, first come
 * first served, without a thread. Providers' reports take one each while the store writes them,
 * so that however many sockets report, the scheduler holds a bounded number of them and every
 * socket beyond that is simply not read for a while.
 */
final class Permits {

  private static final CompletableFuture<Void> GRANTED = CompletableFuture.completedFuture(null);

  private final int max;
  private int held;
  private final ArrayDeque<CompletableFuture<Void>> waiting = new ArrayDeque<>();

  Permits(int max) {
    this.max = max;
  }

  /** Completes when a permit is held; give it back with {@link #release}. */
  synchronized CompletableFuture<Void> acquire() {
    if (held < max) {
      held++;
      return GRANTED;
    }
    CompletableFuture<Void> turn = new CompletableFuture<>();
    waiting.add(turn);
    return turn;
  }

  void release() {
    CompletableFuture<Void> next;
    synchronized (this) {
      next = waiting.poll();
      if (next == null) {
        held--;
        return;
      }
    }
    // the permit passes to the next in line, outside the lock
    next.complete(null);
  }

  synchronized int held() {
    return held;
  }
}
