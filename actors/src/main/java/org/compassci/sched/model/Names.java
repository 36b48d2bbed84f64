package org.compassci.sched.model;

import java.util.Locale;

final class Names {
  private Names() {}

  /** lkp-tests reports names in any case and sometimes with dashes: post-run, OOM. */
  static String normalize(String name) {
    return name == null ? "" : name.trim().toLowerCase(Locale.ROOT).replace('-', '_');
  }
}
