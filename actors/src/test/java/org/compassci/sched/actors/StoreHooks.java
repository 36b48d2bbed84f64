package org.compassci.sched.actors;

import java.util.function.Consumer;
import org.compassci.sched.persistence.JobStore;

/** The real store, with something done before or after each of its calls, by the call's name. */
final class StoreHooks {

  private StoreHooks() {}

  /** What runs before a call, with the method's name; what it throws is what the caller sees. */
  @FunctionalInterface
  interface Before {
    void run(String method) throws Exception;
  }

  /** A slow store's delay, for an {@code afterCall}: the interrupt kept for the caller. */
  static void pause(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * {@code afterCall} runs once the real call has returned, with the method's name; what it
   * throws is what the caller sees (a store that committed and then lost its answer, say).
   */
  static JobStore after(JobStore real, Consumer<String> afterCall) {
    return around(real, m -> {}, afterCall);
  }

  /** {@code beforeCall} runs before the real call: a store away, or a commit held at a gate. */
  static JobStore before(JobStore real, Before beforeCall) {
    return around(real, beforeCall, m -> {});
  }

  /**
   * A store whose commits fail (store unavailable, with {@code why}) while {@code away} holds:
   * a store gone, or one that answers its ping but takes no write.
   */
  static JobStore commitsFailWhile(JobStore real, java.util.concurrent.atomic.AtomicBoolean away, String why) {
    return before(real, method -> {
      if (method.equals("commit") && away.get()) {
        throw new org.compassci.sched.persistence.StoreUnavailableException(why, null);
      }
    });
  }

  /**
   * A store whose next commit, once armed, is written and then reported failed: the answer
   * lost on the way back (MySQL), a batch that failed half done (Manticore).
   */
  static JobStore nextCommitAnswerLost(JobStore real, java.util.concurrent.atomic.AtomicBoolean armed) {
    return after(real, call -> {
      if (call.equals("commit") && armed.compareAndSet(true, false)) {
        throw new org.compassci.sched.persistence.StoreUnavailableException("the answer was lost", null);
      }
    });
  }

  /**
   * A gate for one commit, a {@link Before} hook: once armed, the next commit waits at it (the
   * store's thread held there) until it is opened, and the test can see it waiting.
   */
  static final class CommitGate implements Before {
    private final java.util.concurrent.atomic.AtomicBoolean armed = new java.util.concurrent.atomic.AtomicBoolean();
    private final java.util.concurrent.CountDownLatch held = new java.util.concurrent.CountDownLatch(1);
    private final java.util.concurrent.CountDownLatch open = new java.util.concurrent.CountDownLatch(1);

    void arm() {
      armed.set(true);
    }

    /** Whether the armed commit reached the gate within {@code seconds}. */
    boolean awaitHeld(long seconds) throws InterruptedException {
      return held.await(seconds, java.util.concurrent.TimeUnit.SECONDS);
    }

    void open() {
      open.countDown();
    }

    @Override
    public void run(String method) throws Exception {
      if (method.equals("commit") && armed.compareAndSet(true, false)) {
        held.countDown();
        open.await(30, java.util.concurrent.TimeUnit.SECONDS);
      }
    }
  }

  private static JobStore around(JobStore real, Before beforeCall, Consumer<String> afterCall) {
    return (JobStore) java.lang.reflect.Proxy.newProxyInstance(StoreHooks.class.getClassLoader(),
        new Class<?>[] {JobStore.class}, (proxy, m, args) -> {
          beforeCall.run(m.getName());
          Object r;
          try {
            r = m.invoke(real, args);
          } catch (java.lang.reflect.InvocationTargetException e) {
            throw e.getCause();
          }
          afterCall.accept(m.getName());
          return r;
        });
  }
}
