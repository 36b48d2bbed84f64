package org.compassci.sched.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The settings of real testboxes: the lab's hosts/ folder, where the lab serves OS trees and
 * initrds, the key that seals secrets and package links, and the limits of result uploads.
 */
public record BootSettings(
    Optional<Path> labHostsDir,
    String osHttpPrefix,
    String initrdHttpPrefix,
    Optional<String> secretsKey,
    long maxUploadFileBytes,
    long maxUploadJobBytes) {

  /** Defaults for tests that build settings by hand. */
  public static BootSettings defaults() {
    return new BootSettings(Optional.empty(), "", "", Optional.empty(), 64L << 20, 1L << 30);
  }

  static BootSettings fromConfig(Config c) {
    String hosts = text(c, "lab.hosts-dir");
    long file = SchedulerSettings.bytes(c, "results.max-file-size");
    long job = SchedulerSettings.bytes(c, "results.max-job-size");
    if (job < file) {
      throw new BadSettingException("scheduler.results.max-job-size", "must not be below results.max-file-size");
    }
    return new BootSettings(
        hosts.isEmpty() ? Optional.empty() : Optional.of(Path.of(hosts).toAbsolutePath().normalize()),
        prefix(c, "boot.os-http-prefix"), prefix(c, "boot.initrd-http-prefix"),
        Optional.of(text(c, "secrets-key")).filter(k -> !k.isEmpty()),
        file, job);
  }

  private static String prefix(Config c, String key) {
    String v = text(c, key);
    if (!v.isEmpty() && !v.matches("https?://[A-Za-z0-9._~:/\\[\\]@!&()*+,;=%-]+")) {
      throw new BadSettingException("scheduler." + key, "'" + v + "' is not an http:// URL");
    }
    return v;
  }

  private static String text(Config c, String key) {
    try {
      return c.hasPath(key) ? c.getString(key).trim() : "";
    } catch (ConfigException e) {
      throw new BadSettingException("scheduler." + key, e.getMessage());
    }
  }
}
