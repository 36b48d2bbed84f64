package org.compassci.sched.config;

/** A setting that cannot be used; the message names it and says why. */
public final class BadSettingException extends RuntimeException {
  public BadSettingException(String setting, String reason) {
    super(setting + ": " + reason);
  }
}
