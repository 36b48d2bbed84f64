package org.compassci.sched.persistence;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

/** A {@link JobStore} over JDBC and a HikariCP pool; the dialect holds what differs. */
public final class JdbcJobStore implements JobStore {

  private static final String COLUMNS =
      "id, stage, health, readiness, tenant, tbox_group, submit_time, doc";

  private final String kind;
  private final HikariDataSource pool;
  private final SqlDialect dialect;

  private JdbcJobStore(String kind, HikariDataSource pool, SqlDialect dialect) {
    this.kind = kind;
    this.pool = pool;
    this.dialect = dialect;
  }

  /**
   * The embedded store: an H2 file database in {@code dataDir}. WRITE_DELAY=0 makes every commit
   * reach the operating system before it returns, so a killed process loses no acknowledged job.
   */
  public static JdbcJobStore embedded(Path dataDir, int poolSize) {
    String url = "jdbc:h2:file:" + dataDir.toAbsolutePath().resolve("jobs") + ";WRITE_DELAY=0;DB_CLOSE_ON_EXIT=FALSE";
    // an embedded database is there or not: fail at once with H2's own reason (e.g. in use)
    return open("embedded", url, poolSize, SqlDialect.h2(), 1);
  }

  /** MySQL or MariaDB over MySQL Connector/J. */
  public static JdbcJobStore mysql(String jdbcUrl, int poolSize) {
    return open("mysql", jdbcUrl, poolSize, SqlDialect.mysql(), -1);
  }

  static JdbcJobStore open(String kind, String url, int poolSize, SqlDialect dialect,
      long initializationFailTimeout) {
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(url);
    config.setMaximumPoolSize(poolSize);
    config.setPoolName("job-store");
    config.setConnectionTimeout(Duration.ofSeconds(5).toMillis());
    // -1: a server store's pool comes up even while the database is down; ping() reports it
    config.setInitializationFailTimeout(initializationFailTimeout);
    HikariDataSource pool;
    try {
      pool = new HikariDataSource(config);
    } catch (RuntimeException e) {
      Throwable root = e;
      while (root.getCause() != null) {
        root = root.getCause();
      }
      throw new StoreUnavailableException("cannot open the " + kind + " store: "
          + root.getMessage().lines().findFirst().orElse(""), e);
    }
    JdbcJobStore store = new JdbcJobStore(kind, pool, dialect);
    try {
      store.createSchema();
    } catch (RuntimeException e) {
      pool.close();
      throw e;
    }
    return store;
  }

  private void createSchema() {
    try (Connection c = pool.getConnection(); Statement s = c.createStatement()) {
      for (String ddl : dialect.schema()) {
        s.execute(ddl);
      }
    } catch (SQLException e) {
      throw new StoreUnavailableException("cannot create the jobs table: " + e.getMessage(), e);
    }
  }

  @Override
  public String kind() {
    return kind;
  }

  @Override
  public void upsert(List<JobRecord> records) {
    if (records.isEmpty()) {
      return;
    }
    try (Connection c = pool.getConnection()) {
      c.setAutoCommit(false);
      try (PreparedStatement ps = c.prepareStatement(dialect.upsert())) {
        for (JobRecord r : records) {
          ps.setLong(1, r.id());
          ps.setString(2, r.stage());
          ps.setString(3, r.health());
          ps.setString(4, r.readiness());
          ps.setString(5, r.tenant());
          ps.setString(6, r.tboxGroup());
          ps.setLong(7, r.submitTimeMillis());
          ps.setString(8, r.document());
          ps.addBatch();
        }
        ps.executeBatch();
        c.commit();
      } catch (SQLException | RuntimeException e) {
        c.rollback();
        throw e;
      } finally {
        c.setAutoCommit(true);
      }
    } catch (SQLException e) {
      throw new StoreUnavailableException("write of " + records.size() + " jobs failed: " + e.getMessage(), e);
    }
  }

  @Override
  public Optional<JobRecord> find(long id) {
    String sql = "SELECT " + COLUMNS + " FROM jobs WHERE id = ?";
    try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setLong(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(read(rs)) : Optional.empty();
      }
    } catch (SQLException e) {
      throw new StoreUnavailableException("read of job " + id + " failed: " + e.getMessage(), e);
    }
  }

  @Override
  public List<JobRecord> findByIds(Collection<Long> ids) {
    if (ids.isEmpty()) {
      return List.of();
    }
    String marks = String.join(", ", java.util.Collections.nCopies(ids.size(), "?"));
    String sql = "SELECT " + COLUMNS + " FROM jobs WHERE id IN (" + marks + ")"
        + dialect.selectSuffix(ids.size());
    try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
      int i = 1;
      for (long id : ids) {
        ps.setLong(i++, id);
      }
      List<JobRecord> out = new ArrayList<>(ids.size());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(read(rs));
        }
      }
      return out;
    } catch (SQLException e) {
      throw new StoreUnavailableException("read of " + ids.size() + " jobs failed: " + e.getMessage(), e);
    }
  }

  @Override
  public List<JobRecord> findByStage(Collection<String> stages, long afterId, int limit) {
    if (stages.isEmpty()) {
      return List.of();
    }
    String marks = String.join(", ", java.util.Collections.nCopies(stages.size(), "?"));
    String sql = "SELECT " + COLUMNS + " FROM jobs WHERE stage IN (" + marks + ") AND id > ?"
        + " ORDER BY id" + dialect.selectSuffix(limit);
    try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
      int i = 1;
      for (String stage : stages) {
        ps.setString(i++, stage);
      }
      ps.setLong(i, afterId);
      List<JobRecord> out = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(read(rs));
        }
      }
      return out;
    } catch (SQLException e) {
      throw new StoreUnavailableException("query by stage failed: " + e.getMessage(), e);
    }
  }

  private static JobRecord read(ResultSet rs) throws SQLException {
    return new JobRecord(rs.getLong(1), rs.getString(2), rs.getString(3), rs.getString(4),
        rs.getString(5), rs.getString(6), rs.getLong(7), rs.getString(8));
  }

  @Override
  public void ping() {
    try (Connection c = pool.getConnection()) {
      if (!c.isValid(2)) {
        throw new StoreUnavailableException("store connection is not valid", null);
      }
    } catch (SQLException e) {
      throw new StoreUnavailableException("store unreachable: " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    pool.close();
  }
}
