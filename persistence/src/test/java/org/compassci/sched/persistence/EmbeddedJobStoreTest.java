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

import static org.junit.jupiter.api.Assertions.assertEquals;
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

  /**
   * A hand-out's host and token hash are stored as bytes since the dispatch bench found H2
   * writing them a character at a time at every commit; a store whose hand-outs were written
   * as text before converts them when it opens, and reads them back as they were.
   */
  @Test
  void handOutsStoredAsTextByAnEarlierVersionReadBackTheSame() throws SQLException {
    try (JobStore store = open()) {
      store.insert(List.of(rec(1, "submit"), rec(2, "submit")));
      assertEquals(2, store.claim(List.of(new Claim(1, "box-1", "ab12", 5), new Claim(2, "box-2", "cd34", 6))).size());
    }
    // the table as the earlier version made it: text columns (H2 converts the bytes as UTF-8)
    try (Connection c = connect(); java.sql.Statement s = c.createStatement()) {
      s.execute("ALTER TABLE handouts ALTER COLUMN host SET DATA TYPE VARCHAR(255)");
      s.execute("ALTER TABLE handouts ALTER COLUMN token_hash SET DATA TYPE VARCHAR(255)");
      assertEquals("CHARACTER VARYING", handoutColumnType(c, "TOKEN_HASH"));
    }
    try (JobStore store = open(); Connection c = connect()) {
      assertEquals("BINARY VARYING", handoutColumnType(c, "HOST"));
      assertEquals("BINARY VARYING", handoutColumnType(c, "TOKEN_HASH"));
      JobRecord r = store.find(1).orElseThrow();
      assertEquals(List.of("dispatch", "box-1", "ab12", 5L), List.of(r.stage(), r.host(), r.tokenHash(), r.dispatchTimeMillis()));
      assertEquals(List.of(1L, 2L), store.findByStage(List.of("dispatch"), 0, 10).stream().map(JobRecord::id).toList());
      // and a new hand-out beside them reads back the same way
      store.insert(List.of(rec(3, "submit")));
      store.claim(List.of(new Claim(3, "box-3", "ef56", 7)));
      JobRecord third = store.find(3).orElseThrow();
      assertEquals(List.of("dispatch", "box-3", "ef56"), List.of(third.stage(), third.host(), third.tokenHash()));
    }
  }

  /**
   * The jobs past the queue are found from candidate ids (hand-outs, jobs in flight), then read
   * and checked: a page of candidates that are not in the stage after all (a hand-out row left
   * over a job that moved on) must not end the paging before the jobs that are.
   */
  @Test
  void candidatesNotInTheStageDoNotCutThePagingShort() throws SQLException {
    try (JobStore store = open()) {
      store.insert(List.of(rec(1, "submit"), rec(2, "submit"), rec(3, "submit"), rec(4, "submit"),
          rec(5, "submit"), rec(6, "submit")));
      for (long id = 1; id <= 6; id++) {
        store.claim(List.of(new Claim(id, "box-" + id, "h" + id, id)));
      }
      try (Connection c = connect(); java.sql.Statement s = c.createStatement()) {
        // the jobs moved on, and their hand-out rows stayed
        s.execute("UPDATE jobs SET stage = 'finish' WHERE id <= 4");
      }
      assertEquals(List.of(5L, 6L), store.findByStage(List.of("dispatch"), Long.MIN_VALUE, 2).stream()
          .map(JobRecord::id).toList());
      assertEquals(List.of(5L), store.findByStage(List.of("dispatch"), Long.MIN_VALUE, 1).stream()
          .map(JobRecord::id).toList());
      assertEquals(List.of(6L), store.findByStage(List.of("dispatch"), 5, 1).stream().map(JobRecord::id).toList());
      assertEquals(List.of(), store.findByStage(List.of("dispatch"), 6, 3));
    }
  }

  private static String handoutColumnType(Connection c, String column) throws SQLException {
    try (java.sql.PreparedStatement ps = c.prepareStatement("SELECT DATA_TYPE FROM INFORMATION_SCHEMA.COLUMNS"
        + " WHERE TABLE_NAME = 'HANDOUTS' AND COLUMN_NAME = ?")) {
      ps.setString(1, column);
      try (java.sql.ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getString(1) : null;
      }
    }
  }

  @Override
  protected String expectedKind() {
    return "embedded";
  }
}
