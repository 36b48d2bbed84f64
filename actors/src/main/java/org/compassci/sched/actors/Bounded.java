package org.compassci.sched.actors;

import java.util.LinkedHashMap;
import java.util.Map;

/** What an actor remembers "lately": a map that forgets its eldest entry past a size. */
final class Bounded {

  private Bounded() {}

  /**
   * At most {@code max} entries; the eldest goes first, by insertion or, with
   * {@code accessOrder}, by last use.
   */
  static <K, V> LinkedHashMap<K, V> map(int max, boolean accessOrder) {
    return new LinkedHashMap<>(Math.min(max, 1024), 0.75f, accessOrder) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<K, V> eldest) {
        return size() > max;
      }
    };
  }
}
