package org.compassci.sched.persistence;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.List;
import org.h2.engine.Database;
import org.h2.engine.SessionLocal;
import org.h2.jdbc.JdbcConnection;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertFalse;

/** The contract on the embedded H2 store, one fresh folder per test. */
class EmbeddedJobStoreTest extends JobStoreContract {

  @TempDir Path dir;

  @Override
  protected JobStore open() {
    return JdbcJobStore.embedded(dir, 2);
  }

  @Override
  protected Connection connect() throws SQLException {
    return DriverManager.getConnection("jdbc:h2:file:" + dir.toAbsolutePath().resolve("jobs"));
  }

  @Override
  protected List<String> previousSchema() {
    return List.of(
        "CREATE TABLE IF NOT EXISTS jobs (id BIGINT PRIMARY KEY, stage VARCHAR(32) NOT NULL,"
            + " health VARCHAR(64) NOT NULL, readiness VARCHAR(32) NOT NULL,"
            + " tenant VARCHAR(255) NOT NULL, tbox_group VARCHAR(255) NOT NULL,"
            + " submit_time BIGINT NOT NULL, doc CLOB NOT NULL)",
        "CREATE INDEX IF NOT EXISTS jobs_stage ON jobs(stage, id)",
        "CREATE INDEX IF NOT EXISTS jobs_stage_tenant ON jobs(stage, tenant, id)");
  }

  /**
   * H2 would keep every statement's last result for a repeat that never comes: the queue's load
   * pages, 5,000 whole documents each, stayed on the heap after the load (8 MB of 33 with 10,000
   * queued). The setting is the database's, so a second connection sees what the store opened.
   */
  @Test
  void theStoreKeepsNoQueryResultForReuse() throws SQLException {
    // INFORMATION_SCHEMA.SETTINGS does not list this one: ask the database object itself
    try (JobStore store = open(); Connection c = connect()) {
      Database db = ((SessionLocal) c.unwrap(JdbcConnection.class).getSession()).getDatabase();
      assertFalse(db.getOptimizeReuseResults());
    }
  }

  @Override
  protected String expectedKind() {
    return "embedded";
  }
}
