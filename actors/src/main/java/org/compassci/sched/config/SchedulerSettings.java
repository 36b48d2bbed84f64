package org.compassci.sched.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import org.compassci.sched.model.JobFile;

/** Every setting of the {@code scheduler} namespace, read and checked once at start. */
public record SchedulerSettings(
    String host,
    int port,
    Path dataDir,
    String store,
    Optional<String> jdbcUrl,
    Optional<String> redisUrl,
    Optional<String> adminToken,
    int workerId,
    Duration askTimeout,
    long maxBodyBytes,
    String resultsRoot,
    int storePoolSize,
    int storeBatchMax,
    boolean syncEachCommit,
    Map<String, Integer> queueLevels,
    Map<String, Integer> fairShareWeights,
    int fairShareDefaultWeight,
    org.compassci.sched.model.Timeouts timeouts,
    Duration resyncInterval,
    Duration redisClaimTtl,
    Path resultsDir,
    Duration extractTimeout,
    Duration hostsOfflineAfter,
    Duration waitTimeout,
    Duration watchHeartbeat,
    int watchMaxJobs,
    Duration statsInterval,
    JobFile.Rules jobFiles,
    BootSettings boot,
    AccessSettings access,
    SocketSettings sockets) {

  private static final Set<String> STORES = Set.of("embedded", "mysql", "manticore");

  /** The same settings with another resync interval; zero turns the resync off. */
  public SchedulerSettings withResyncInterval(Duration interval) {
    return new SchedulerSettings(host, port, dataDir, store, jdbcUrl, redisUrl, adminToken, workerId,
        askTimeout, maxBodyBytes, resultsRoot, storePoolSize, storeBatchMax, syncEachCommit, queueLevels,
        fairShareWeights, fairShareDefaultWeight, timeouts, interval, redisClaimTtl, resultsDir,
        extractTimeout, hostsOfflineAfter, waitTimeout, watchHeartbeat, watchMaxJobs, statsInterval, jobFiles, boot,
        access, sockets);
  }

  /** {@code scheduler.store-sync}: the embedded store forces its file to disk at each commit, or once a second. */
  private static boolean syncEachCommit(Config c) {
    String sync = text(c, "store-sync").strip().toLowerCase(Locale.ROOT);
    if (!sync.equals("commit") && !sync.equals("second")) {
      throw new BadSettingException("scheduler.store-sync", "'" + sync + "' is not commit or second");
    }
    return sync.equals("commit");
  }

  /** Reads {@code scheduler.*}; throws {@link BadSettingException} naming the first bad one. */
  public static SchedulerSettings fromConfig(Config root) {
    Config c = root.getConfig("scheduler");
    String store = text(c, "store").toLowerCase(Locale.ROOT);
    if (!STORES.contains(store)) {
      throw new BadSettingException("scheduler.store (SCHED_STORE)",
          "'" + store + "' is not one of embedded, mysql, manticore");
    }
    Optional<String> jdbc = optional(c, "jdbc-url");
    if (!store.equals("embedded") && jdbc.isEmpty()) {
      throw new BadSettingException("scheduler.jdbc-url (SCHED_JDBC_URL)",
          "required when the store is " + store);
    }
    if (jdbc.isPresent() && !jdbc.get().startsWith("jdbc:mysql:") && !jdbc.get().startsWith("jdbc:mariadb:")) {
      throw new BadSettingException("scheduler.jdbc-url (SCHED_JDBC_URL)",
          "'" + jdbc.get() + "' is not a jdbc:mysql:// URL");
    }
    Optional<String> redis = optional(c, "redis-url");
    if (redis.isPresent() && !redis.get().matches("rediss?://.+")) {
      throw new BadSettingException("scheduler.redis-url (SCHED_REDIS_URL)",
          "'" + redis.get() + "' is not a redis://host:port URL");
    }
    int port = integer(c, "port", "SCHED_PORT", 0, 65535);
    int worker = integer(c, "worker-id", "SCHED_WORKER_ID", 0, 99);
    String host = text(c, "host");
    if (host.isBlank()) {
      throw new BadSettingException("scheduler.host (SCHED_HOST)", "must not be empty");
    }
    String data = text(c, "data-dir");
    if (data.isBlank()) {
      throw new BadSettingException("scheduler.data-dir (SCHED_DATA_DIR)", "must not be empty");
    }
    Map<String, Integer> levels = new TreeMap<>();
    Config lc = c.getConfig("queue-levels");
    for (String q : lc.root().keySet()) {
      levels.put(q, integer(lc, q, "scheduler.queue-levels." + q, 0, 1000));
    }
    Map<String, Integer> weights = new TreeMap<>();
    Config wc = c.getConfig("fair-share.weights");
    for (String t : wc.root().keySet()) {
      weights.put(t, integer(wc, "\"" + t + "\"", "scheduler.fair-share.weights." + t, 1, 1_000_000));
    }
    // a short one is the operator's choice, as the contract leaves it: taken, with a warning at start
    Optional<String> adminToken = optional(c, "admin-token");
    return new SchedulerSettings(
        host, port, Path.of(data).toAbsolutePath().normalize(), store, jdbc, redis,
        adminToken, worker,
        positive(c, "http.ask-timeout"),
        bytes(c, "http.max-body"),
        text(c, "results-root"),
        integer(c, "store-pool-size", "scheduler.store-pool-size", 1, 256),
        integer(c, "store-batch-max", "scheduler.store-batch-max", 1, 100_000),
        syncEachCommit(c),
        Map.copyOf(levels), Map.copyOf(weights),
        integer(c, "fair-share.default-weight", "scheduler.fair-share.default-weight", 1, 1_000_000),
        new org.compassci.sched.model.Timeouts(
            positive(c, "timeouts.dispatch"), positive(c, "timeouts.dispatch-ack"),
            positive(c, "timeouts.boot"), positive(c, "timeouts.boot-vm"),
            positive(c, "timeouts.boot-dc"), positive(c, "timeouts.setup"),
            positive(c, "timeouts.wait_peer"), positive(c, "timeouts.running"),
            positive(c, "timeouts.post_run"), positive(c, "timeouts.manual_check"),
            integer(c, "requeue.max", "scheduler.requeue.max", 0, 100)),
        positive(c, "store-resync-interval"),
        positive(c, "redis-claim-ttl"),
        Path.of(text(c, "extract.results-dir")).toAbsolutePath().normalize(),
        positive(c, "extract.timeout"),
        positive(c, "hosts.offline-after"),
        positive(c, "wait.timeout"),
        positive(c, "watch.heartbeat"),
        integer(c, "watch.max-jobs", "scheduler.watch.max-jobs", 1, 100_000),
        positive(c, "stats.interval"),
        jobFileRules(root),
        BootSettings.fromConfig(c),
        AccessSettings.fromConfig(c),
        SocketSettings.fromConfig(c));
  }

  /**
   * Reads {@code scheduler.submit.*} alone: the command line expands job files by the same rules
   * as the server, without needing the server's other settings to be valid.
   */
  public static JobFile.Rules jobFileRules(Config root) {
    Config c = root.getConfig("scheduler");
    int max = integer(c, "submit.max-jobs-per-file", "scheduler.submit.max-jobs-per-file", 1, 10_000_000);
    List<String> keys;
    try {
      keys = c.getStringList("submit.list-keys");
    } catch (ConfigException e) {
      throw new BadSettingException("scheduler.submit.list-keys", e.getMessage());
    }
    org.compassci.sched.model.IntakeLimits limits;
    try {
      limits = new org.compassci.sched.model.IntakeLimits(
          integer(c, "submit.max-depth", "scheduler.submit.max-depth", 2, 10_000),
          integer(c, "submit.max-string-length", "scheduler.submit.max-string-length", 1, Integer.MAX_VALUE),
          integer(c, "submit.max-number-length", "scheduler.submit.max-number-length", 1, 100_000),
          integer(c, "submit.max-fields-per-job", "scheduler.submit.max-fields-per-job", 1, 100_000_000));
    } catch (IllegalArgumentException e) {
      throw new BadSettingException("scheduler.submit", e.getMessage());
    }
    long maxBytes;
    try {
      maxBytes = c.getBytes("submit.max-expanded-size");
    } catch (ConfigException e) {
      throw new BadSettingException("scheduler.submit.max-expanded-size", e.getMessage());
    }
    if (maxBytes < 1) {
      throw new BadSettingException("scheduler.submit.max-expanded-size", "must be at least 1 byte, got " + maxBytes);
    }
    JobFile.Rules rules = new JobFile.Rules(Set.copyOf(keys), max, limits).withMaxBytes(maxBytes);
    String lkpSrc;
    try {
      lkpSrc = c.getString("submit.lkp-src").trim();
    } catch (ConfigException e) {
      throw new BadSettingException("scheduler.submit.lkp-src", e.getMessage());
    }
    if (lkpSrc.isEmpty()) {
      return rules;
    }
    try {
      return rules.withPrograms(org.compassci.sched.model.LkpPrograms.scan(java.nio.file.Path.of(lkpSrc)));
    } catch (IllegalArgumentException | java.io.UncheckedIOException e) {
      throw new BadSettingException("scheduler.submit.lkp-src (SCHED_LKP_SRC)", e.getMessage());
    }
  }

  private static String text(Config c, String key) {
    try {
      return c.getString(key).trim();
    } catch (ConfigException e) {
      throw new BadSettingException("scheduler." + key, e.getMessage());
    }
  }

  private static Optional<String> optional(Config c, String key) {
    if (!c.hasPath(key)) {
      return Optional.empty();
    }
    String v = text(c, key);
    return v.isEmpty() ? Optional.empty() : Optional.of(v);
  }

  private static int integer(Config c, String key, String name, int min, int max) {
    String raw = text(c, key);
    int v;
    try {
      v = Integer.parseInt(raw);
    } catch (NumberFormatException e) {
      throw new BadSettingException(name, "'" + raw + "' is not a whole number");
    }
    if (v < min || v > max) {
      throw new BadSettingException(name, v + " is outside " + min + ".." + max);
    }
    return v;
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

  /** A positive size such as {@code 1MiB} under {@code scheduler.}; a bad one names its key. */
  static long bytes(Config c, String key) {
    try {
      long b = c.getBytes(key);
      if (b <= 0) {
        throw new BadSettingException("scheduler." + key, "must be positive");
      }
      return b;
    } catch (ConfigException e) {
      throw new BadSettingException("scheduler." + key, e.getMessage());
    }
  }

  /** The priority level of a queue name; unknown queues and no queue are the default level. */
  public int levelOf(String queue) {
    Integer l = queueLevels.get(queue);
    return l != null ? l : queueLevels.getOrDefault("default", 3);
  }

  /** The queues served before jobs of no queue (vip): their level is above the default's. */
  /**
   * The queues any account may name, besides its own: the lab's project queues (the tenants
   * {@code fair-share.weights} names) and the queues served after the default level (idle). A
   * queue is a tenant of its own, so a name made up by a user would be one more share of the boxes.
   */
  public java.util.Set<String> projectQueues() {
    int normal = queueLevels().getOrDefault("default", 3);
    java.util.Set<String> open = new java.util.TreeSet<>(fairShareWeights().keySet());
    queueLevels().forEach((q, level) -> {
      if (level < normal) {
        open.add(q);
      }
    });
    return open;
  }

  public java.util.Set<String> raisedQueues() {
    int normal = queueLevels().getOrDefault("default", 3);
    java.util.Set<String> raised = new java.util.TreeSet<>();
    queueLevels().forEach((q, level) -> {
      if (level > normal) {
        raised.add(q);
      }
    });
    return raised;
  }
}
