package org.compassci.sched.match;

import java.util.HashMap;
import java.util.Map;

/**
 * Shares the strings that many queued jobs repeat (tags, arch, tenant, machine group), so that
 * 100,000 jobs hold a few hundred strings rather than a few hundred thousand. Owned by the
 * matcher's thread; not thread-safe.
 */
final class Interner {
  private final Map<String, String> strings = new HashMap<>();

  String intern(String s) {
    if (s == null) {
      return null;
    }
    String known = strings.putIfAbsent(s, s);
    return known != null ? known : s;
  }

  int size() {
    return strings.size();
  }
}
