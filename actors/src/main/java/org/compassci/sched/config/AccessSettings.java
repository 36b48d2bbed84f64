package org.compassci.sched.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.time.Duration;
import java.util.Locale;

/**
 * Who may do what, and how much one request or one account may ask: {@code scheduler.auth.*},
 * {@code scheduler.accounts.*}, {@code scheduler.submit.idempotency-ttl} and
 * {@code scheduler.http.max-query-params}.
 */
public record AccessSettings(
    boolean open,
    boolean privateReads,
    TokenlessWebdav tokenlessWebdav,
    Duration accountsRefresh,
    int maxQueued,
    Duration idempotencyTtl,
    int maxQueryParams) {

  /**
   * WebDAV uploads without the job's token (lkp-tests 2022 sends only the cookie JOBID):
   * refused, taken from the address the job's package went to, or taken from anyone.
   */
  public enum TokenlessWebdav { OFF, FROM_BOX, ANYWHERE }

  /** The shortest SCHED_ADMIN_TOKEN taken without a warning: shorter is a password, not a token. */
  public static final int MIN_ADMIN_TOKEN = 16;

  /** Defaults for tests that build settings by hand: tokens, reads open. */
  public static AccessSettings defaults() {
    return new AccessSettings(false, false, TokenlessWebdav.FROM_BOX, Duration.ofSeconds(10), 100_000, Duration.ofHours(24), 256);
  }

  /** The mode as configured and logged: tokens or open. */
  public String mode() {
    return open ? "open" : "tokens";
  }

  static AccessSettings fromConfig(Config c) {
    String mode = text(c, "auth.mode").toLowerCase(Locale.ROOT);
    if (!mode.equals("tokens") && !mode.equals("open")) {
      throw new BadSettingException("scheduler.auth.mode (SCHED_AUTH)", "'" + mode + "' is not tokens or open");
    }
    return new AccessSettings(mode.equals("open"), bool(c, "auth.private-reads"), tokenless(c),
        duration(c, "auth.refresh-interval"), number(c, "accounts.max-queued", 1, 100_000_000),
        duration(c, "submit.idempotency-ttl"), number(c, "http.max-query-params", 1, 100_000));
  }

  private static TokenlessWebdav tokenless(Config c) {
    String v = text(c, "auth.tokenless-webdav").toLowerCase(Locale.ROOT);
    return switch (v) {
      case "off", "false", "no" -> TokenlessWebdav.OFF;
      case "from-box" -> TokenlessWebdav.FROM_BOX;
      case "on", "true", "yes" -> TokenlessWebdav.ANYWHERE;
      default -> throw new BadSettingException("scheduler.auth.tokenless-webdav", "'" + v + "' is not off, from-box or on");
    };
  }

  private static String text(Config c, String key) {
    try {
      return c.getString(key).trim();
    } catch (ConfigException e) {
      throw new BadSettingException("scheduler." + key, e.getMessage());
    }
  }

  private static boolean bool(Config c, String key) {
    try {
      return c.getBoolean(key);
    } catch (ConfigException e) {
      throw new BadSettingException("scheduler." + key, "must be on or off");
    }
  }

  private static int number(Config c, String key, int min, int max) {
    String raw = text(c, key);
    try {
      int v = Integer.parseInt(raw);
      if (v < min || v > max) {
        throw new BadSettingException("scheduler." + key, v + " is outside " + min + ".." + max);
      }
      return v;
    } catch (NumberFormatException e) {
      throw new BadSettingException("scheduler." + key, "'" + raw + "' is not a whole number");
    }
  }

  private static Duration duration(Config c, String key) {
    try {
      Duration d = c.getDuration(key);
      if (d.isNegative() || d.isZero()) {
        throw new BadSettingException("scheduler." + key, "must be a positive duration");
      }
      return d;
    } catch (ConfigException e) {
      throw new BadSettingException("scheduler." + key, e.getMessage());
    }
  }
}
