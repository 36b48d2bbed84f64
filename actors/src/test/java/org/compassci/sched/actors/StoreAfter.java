package org.compassci.sched.actors;

import java.util.function.Consumer;
import org.compassci.sched.persistence.JobStore;

/** The real store, with something done after each of its calls, by the call's name. */
final class StoreAfter {

  private StoreAfter() {}

  /**
   * {@code afterCall} runs once the real call has returned, with the method's name; what it
   * throws is what the caller sees (a store that committed and then lost its answer, say).
   */
  /** A slow store's delay, for an {@code afterCall}: the interrupt kept for the caller. */
  static void pause(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  static JobStore each(JobStore real, Consumer<String> afterCall) {
    return (JobStore) java.lang.reflect.Proxy.newProxyInstance(StoreAfter.class.getClassLoader(),
        new Class<?>[] {JobStore.class}, (proxy, m, args) -> {
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
