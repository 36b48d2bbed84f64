package org.compassci.sched.cluster;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.apache.pekko.actor.Cancellable;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.coordination.lease.LeaseSettings;
import org.apache.pekko.coordination.lease.javadsl.Lease;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.concurrent.ExecutionContextExecutor;

/**
 * Pekko's {@link Lease} on a row of {@code scheduler_leases} in the scheduler's MySQL database
 * ({@code scheduler.cluster.lease = mysql}): the singletons hold one, and with 2 nodes the Split
 * Brain Resolver's lease-majority holds another. A holder renews its row every
 * heartbeat-interval; a row not renewed for heartbeat-timeout may be taken by another owner.
 * Expiry is judged by the database's clock alone, so the nodes' clocks need not agree.
 */
public final class MySqlLease extends Lease {

  private static final Logger LOG = LoggerFactory.getLogger(MySqlLease.class);
  private static final String NOW_MS = "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)";

  private final LeaseSettings settings;
  private final ExtendedActorSystem system;
  private final HikariDataSource pool;
  /** Blocking JDBC runs on the store's dispatcher, never on the actors' threads. */
  static final String DISPATCHER = "scheduler.lease-dispatcher";
  private final ExecutionContextExecutor blocking;
  private final long ttlMillis;
  /** When this holder last renewed (System.nanoTime), or 0 while it holds nothing. */
  private volatile long renewedAt;
  private final AtomicReference<Cancellable> heartbeat = new AtomicReference<>();
  /**
   * The holding a renewal is for; guarded by this. A release or a new acquire starts another: a
   * renewal still out for the one before (its statement waiting on a lock) must then neither
   * mark the lease held again nor stop the new holding's heartbeat.
   */
  private long holding;

  public MySqlLease(LeaseSettings settings, ExtendedActorSystem system) {
    this.settings = settings;
    this.system = system;
    this.ttlMillis = settings.timeoutSettings().getHeartbeatTimeout().toMillis();
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(system.settings().config().getString("scheduler.jdbc-url"));
    // two: a renewal never waits behind an acquire of another lease of this node
    config.setMaximumPoolSize(2);
    config.setPoolName("lease-" + settings.leaseName());
    config.setConnectionTimeout(settings.timeoutSettings().getOperationTimeout().toMillis());
    config.addDataSourceProperty("socketTimeout", Long.toString(settings.timeoutSettings().getOperationTimeout().toMillis()));
    config.setInitializationFailTimeout(-1);
    // NOW() is read in the session's time zone and UNIX_TIMESTAMP() converts it back: in a zone
    // with daylight saving the hour the clocks go back maps twice, and expiries would jump
    config.setConnectionInitSql("SET time_zone = '+00:00'");
    this.pool = new HikariDataSource(config);
    // not the store's: behind its reads (each may wait 5 s for a connection) a renewal came
    // late enough to lose the lease and move the singletons
    this.blocking = system.dispatchers().lookup(DISPATCHER);
    system.registerOnTermination(pool::close);
  }

  @Override
  public LeaseSettings getSettings() {
    return settings;
  }

  @Override
  public CompletionStage<Boolean> acquire() {
    return acquire(lost -> {});
  }

  @Override
  public CompletionStage<Boolean> acquire(Consumer<Optional<Throwable>> leaseLostCallback) {
    return CompletableFuture.supplyAsync(() -> {
      try (Connection c = pool.getConnection()) {
        createTable(c);
        long sent;
        // MySQL applies the assignments in order: owner first, so expires is moved only when the
        // row is (now) ours; an expired row changes hands, a live one of another owner does not
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO scheduler_leases (name, owner, expires)"
            + " VALUES (?, ?, " + NOW_MS + " + ?) ON DUPLICATE KEY UPDATE"
            + " owner = IF(owner = VALUES(owner) OR expires < " + NOW_MS + ", VALUES(owner), owner),"
            + " expires = IF(owner = VALUES(owner), VALUES(expires), expires)")) {
          ps.setString(1, settings.leaseName());
          ps.setString(2, settings.ownerName());
          ps.setLong(3, ttlMillis);
          sent = System.nanoTime();
          ps.executeUpdate();
        }
        boolean ours = settings.ownerName().equals(owner(c));
        if (ours) {
          synchronized (this) {
            holding++;
            renewedAt = sent;
            startHeartbeat(leaseLostCallback, holding);
          }
        }
        return ours;
      } catch (SQLException e) {
        throw new IllegalStateException("lease " + settings.leaseName() + ": " + e.getMessage(), e);
      }
    }, blocking);
  }

  private static void createTable(Connection c) throws SQLException {
    try (Statement st = c.createStatement()) {
      st.execute("CREATE TABLE IF NOT EXISTS scheduler_leases (name VARCHAR(255) NOT NULL PRIMARY KEY,"
          + " owner VARCHAR(255) NOT NULL, expires BIGINT NOT NULL) ENGINE=InnoDB");
    }
  }

  private String owner(Connection c) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT owner FROM scheduler_leases WHERE name = ?")) {
      ps.setString(1, settings.leaseName());
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getString(1) : "";
      }
    }
  }

  private void startHeartbeat(Consumer<Optional<Throwable>> lost, long of) {
    Duration every = settings.timeoutSettings().getHeartbeatInterval();
    Cancellable old = heartbeat.getAndSet(system.scheduler().scheduleWithFixedDelay(every, every,
        () -> renew(lost, of), blocking));
    if (old != null) {
      old.cancel();
    }
  }

  /** On the store dispatcher: keeps the row ours, or gives the lease up and says so. */
  private void renew(Consumer<Optional<Throwable>> lost, long of) {
    if (renewedAt == 0) {
      return;
    }
    Optional<Throwable> failure = Optional.empty();
    try (Connection c = pool.getConnection();
        PreparedStatement ps = c.prepareStatement("UPDATE scheduler_leases SET expires = " + NOW_MS + " + ?"
            + " WHERE name = ? AND owner = ?")) {
      ps.setLong(1, ttlMillis);
      ps.setString(2, settings.leaseName());
      ps.setString(3, settings.ownerName());
      // the row's new expiry counts from the statement's start (NOW(3) in MySQL), so does ours:
      // stamped after the answer, a renewal that waited on a lock (or a pause) left this node
      // believing in a lease the row had already let go, for as long as it waited
      long sent = System.nanoTime();
      if (ps.executeUpdate() == 1) {
        synchronized (this) {
          if (holding == of) {
            renewedAt = sent;
          }
        }
        return;
      }
      LOG.warn("lease {} was taken by another node", settings.leaseName());
    } catch (SQLException e) {
      // not yet lost: the row is ours until heartbeat-timeout has passed without a renewal
      if (System.nanoTime() - renewedAt < ttlMillis * 1_000_000L) {
        LOG.warn("lease {} not renewed, trying again: {}", settings.leaseName(), e.getMessage());
        return;
      }
      failure = Optional.of(e);
    }
    synchronized (this) {
      if (holding != of) {
        // released, or held anew, while this renewal was out: not this renewal's to end
        return;
      }
      letGo();
    }
    lost.accept(failure);
  }

  /** Ends the holding: held no more, and its heartbeat stopped; under this object's lock. */
  private void letGo() {
    holding++;
    renewedAt = 0;
    Cancellable beat = heartbeat.getAndSet(null);
    if (beat != null) {
      beat.cancel();
    }
  }

  @Override
  public CompletionStage<Boolean> release() {
    synchronized (this) {
      letGo();
    }
    return CompletableFuture.supplyAsync(() -> {
      try (Connection c = pool.getConnection();
          PreparedStatement ps = c.prepareStatement("DELETE FROM scheduler_leases WHERE name = ? AND owner = ?")) {
        ps.setString(1, settings.leaseName());
        ps.setString(2, settings.ownerName());
        ps.executeUpdate();
        return true;
      } catch (SQLException e) {
        throw new IllegalStateException("lease " + settings.leaseName() + ": " + e.getMessage(), e);
      }
    }, blocking);
  }

  /** Held, as far as this node can tell without asking: renewed within heartbeat-timeout. */
  @Override
  public boolean checkLease() {
    long at = renewedAt;
    return at != 0 && System.nanoTime() - at < ttlMillis * 1_000_000L;
  }
}
