package org.compassci.sched.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.time.Duration;

/**
 * The WebSocket endpoints: VM and container providers ({@code scheduler.providers.*}), watchers
 * ({@code scheduler.watch.*}) and the limits both share ({@code scheduler.websocket.*}).
 *
 * @param providerPing how long a provider socket may be quiet on our side before we ping it
 * @param providerIdle a provider that sends nothing (no message, no pong) this long is dropped
 * @param requestTtl how long a provider's standing request for work stands without a newer one
 * @param outbox messages queued for one provider socket before it counts as stuck and is closed
 * @param reportsInFlight providers' reports waiting for the store, all sockets together, before
 *     sockets are read no further
 * @param watchPing the same as {@code providerPing}, for watcher sockets
 * @param watchIdle the same as {@code providerIdle}, for watcher sockets
 * @param maxFrameChars the largest message either socket takes, in characters
 * @param maxFramesPerSecond more messages than this in one second from one socket close it
 */
public record SocketSettings(
    Duration providerPing,
    Duration providerIdle,
    Duration requestTtl,
    int outbox,
    int reportsInFlight,
    Duration watchPing,
    Duration watchIdle,
    int maxFrameChars,
    int maxFramesPerSecond) {

  /** Reads them from the {@code scheduler} block; throws {@link BadSettingException} naming a bad one. */
  public static SocketSettings fromConfig(Config scheduler) {
    return new SocketSettings(
        positive(scheduler, "providers.ping-interval"),
        positive(scheduler, "providers.idle-timeout"),
        positive(scheduler, "providers.request-ttl"),
        (int) range(scheduler, "providers.outbox", 1, 1_000_000),
        (int) range(scheduler, "providers.reports-in-flight", 1, 1_000_000),
        positive(scheduler, "watch.heartbeat"),
        positive(scheduler, "watch.idle-timeout"),
        (int) range(scheduler, "websocket.max-frame", 1024, 64L * 1024 * 1024),
        (int) range(scheduler, "websocket.max-frames-per-second", 1, 10_000_000));
  }

  private static Duration positive(Config c, String key) {
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

  /** A whole number, or for max-frame a size such as 64KiB. */
  private static long range(Config c, String key, long min, long max) {
    long v;
    try {
      v = key.endsWith("max-frame") ? c.getBytes(key) : c.getLong(key);
    } catch (ConfigException e) {
      throw new BadSettingException("scheduler." + key, e.getMessage());
    }
    if (v < min || v > max) {
      throw new BadSettingException("scheduler." + key, v + " is outside " + min + ".." + max);
    }
    return v;
  }
}
