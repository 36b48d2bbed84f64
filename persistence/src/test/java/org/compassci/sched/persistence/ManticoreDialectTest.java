package org.compassci.sched.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The SQL the manticore store sends. No Manticore server runs here, so this checks the text
 * against what the Manticore manual asks for; nothing more.
 */
class ManticoreDialectTest {

  private final SqlDialect dialect = SqlDialect.manticore();

  @Test
  void theTableHasPlainAttributesAndTheDocumentAsJson() {
    assertEquals(List.of("CREATE TABLE IF NOT EXISTS jobs (stage string, health string,"
        + " readiness string, tenant string, tbox_group string, submit_time bigint, j json,"
        + " host string, token_hash string, dispatch_time bigint)"),
        dialect.schema());
  }

  @Test
  void anOlderTableGainsTheHandOutColumnsOneAtATime() {
    assertEquals("DESCRIBE jobs", dialect.describeTable());
    assertEquals(List.of("ALTER TABLE jobs ADD COLUMN host string",
            "ALTER TABLE jobs ADD COLUMN token_hash string",
            "ALTER TABLE jobs ADD COLUMN dispatch_time bigint"),
        dialect.addedColumns().stream().map(dialect::addColumn).collect(Collectors.toList()));
  }

  @Test
  void theAlterStatementsInConfAreTheOnesTheStoreRuns() throws IOException {
    String file = Files.readString(Path.of("..", "conf", "manticore", "jobs.sql"));
    for (String column : dialect.addedColumns()) {
      assertTrue(file.contains("--   " + dialect.addColumn(column) + ";"), column);
    }
  }

  @Test
  void aClaimUpdatesOnlyTheHandOutAttributesOfAQueuedJob() {
    assertEquals("UPDATE jobs SET stage = 'dispatch', host = ?, token_hash = ?, dispatch_time = ?"
        + " WHERE id = ? AND stage = 'submit'", dialect.claim());
    // no multi-statement batches: each claim is an UPDATE of its own
    assertFalse(dialect.batchesUpdates());
  }

  @Test
  void theTableInConfIsTheOneTheStoreCreates() throws IOException {
    // surefire runs in the module folder; conf/ is beside it
    Path file = Path.of("..", "conf", "manticore", "jobs.sql");
    String sql = Files.readAllLines(file).stream()
        .filter(line -> !line.startsWith("--"))
        .collect(Collectors.joining(" ")).trim();
    assertTrue(sql.endsWith(";"), sql);
    assertEquals(dialect.schema().get(0), sql.substring(0, sql.length() - 1).trim());
    assertTrue(Files.readString(file).contains("Manticore Search 6.x/7.x SphinxQL, not yet run against a live server"));
  }

  @Test
  void upsertReplacesTheWholeDocument() {
    assertEquals("REPLACE INTO jobs (id, stage, health, readiness, tenant, tbox_group, submit_time, j,"
        + " host, token_hash, dispatch_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", dialect.upsert());
  }

  @Test
  void selectsReadTheDocumentFromJ() {
    assertEquals("id, stage, health, readiness, tenant, tbox_group, submit_time, j, host, token_hash,"
        + " dispatch_time", dialect.columns());
  }

  @Test
  void everySelectRaisesMaxMatchesToItsLimit() {
    String cols = "SELECT id, stage, health, readiness, tenant, tbox_group, submit_time, j, host,"
        + " token_hash, dispatch_time FROM jobs";
    assertEquals(cols + " WHERE id = ? LIMIT 1 OPTION max_matches=1", dialect.selectById());
    assertEquals(cols + " WHERE id IN (?, ?, ?) LIMIT 3 OPTION max_matches=3", dialect.selectByIds(3));
    assertEquals(cols + " WHERE id IN (" + String.join(", ", java.util.Collections.nCopies(5000, "?"))
        + ") LIMIT 5000 OPTION max_matches=5000", dialect.selectByIds(5000));
    assertEquals(cols + " WHERE stage IN (?, ?) AND id > ? ORDER BY id LIMIT 20000 OPTION max_matches=20000",
        dialect.selectByStage(2, 20000));
    assertEquals(cols + " WHERE stage = ? AND tenant = ? AND id > ? ORDER BY id LIMIT 2500"
        + " OPTION max_matches=2500", dialect.selectByStageAndTenant(2500));
    assertEquals("SELECT tenant, COUNT(*) FROM jobs WHERE stage = ? GROUP BY tenant"
        + " LIMIT 100000 OPTION max_matches=100000", dialect.countByTenant());
    assertTrue(dialect.selectByStage(1, 0).endsWith(" OPTION max_matches=1"));
  }

  @Test
  void pagingStartsAtThePositiveIds() {
    assertEquals(0, dialect.lowestAfterId());
  }

  @Test
  void connectionsCompareStringsByExactBytes() {
    assertEquals("SET collation_connection = binary", dialect.connectionInit());
  }

  @Test
  void theUrlAsksForClientSidePreparedStatementsAndTimeouts() {
    assertEquals("jdbc:mysql://10.0.0.5:9306/?connectTimeout=5000&rewriteBatchedStatements=true"
        + "&socketTimeout=30000&useServerPrepStmts=false",
        JdbcJobStore.withDefaults("jdbc:mysql://10.0.0.5:9306/", dialect.urlDefaults()));
    assertEquals("jdbc:mysql://10.0.0.5:9306/?useServerPrepStmts=false&connectTimeout=5000"
        + "&rewriteBatchedStatements=true&socketTimeout=30000",
        JdbcJobStore.withDefaults("jdbc:mysql://10.0.0.5:9306/?useServerPrepStmts=false",
            dialect.urlDefaults()));
  }

  @Test
  void theSideTablesInConfAreTheOnesTheStoreCreates() throws IOException {
    List<String> statements = Files.readAllLines(Path.of("..", "conf", "manticore", "accounts.sql")).stream()
        .filter(line -> !line.startsWith("--") && !line.isBlank())
        .map(line -> line.substring(0, line.length() - 1))
        .collect(Collectors.toList());
    assertEquals(dialect.sideTables(), statements);
  }

  @Test
  void accountsKeysAndRunsAreWrittenByDocumentId() {
    assertEquals("INSERT INTO accounts (id, name, email, display_name, role, created, token_digest)"
        + " VALUES (?, ?, ?, ?, ?, ?, ?)", dialect.insertAccount());
    assertEquals("REPLACE INTO accounts (id, name, email, display_name, role, created, token_digest)"
        + " VALUES (?, ?, ?, ?, ?, ?, ?)", dialect.upsertAccount());
    assertEquals("SELECT name, email, display_name, role, created, token_digest FROM accounts ORDER BY name"
        + " LIMIT 100000 OPTION max_matches=100000", dialect.selectAccounts());
    assertEquals("DELETE FROM accounts WHERE id = ?", dialect.deleteAccount());
    assertEquals("REPLACE INTO submit_keys (id, account, idem_key, request_digest, created, job_ids, answer)"
        + " VALUES (?, ?, ?, ?, ?, ?, ?)", dialect.upsertSubmitKey());
    assertEquals("SELECT account, idem_key, request_digest, created, job_ids, answer FROM submit_keys"
        + " WHERE id = ? LIMIT 1 OPTION max_matches=1", dialect.selectSubmitKey());
    assertEquals("DELETE FROM submit_keys WHERE created < ?", dialect.purgeSubmitKeys());
    assertEquals("INSERT INTO job_runs (id, submit_id) VALUES (?, ?)", dialect.insertRun());
    assertEquals("SELECT id FROM job_runs WHERE submit_id = ? ORDER BY id LIMIT 1000 OPTION max_matches=1000",
        dialect.selectRun(1000));
    // one table per transaction: keys go before their jobs, and are checked when read
    assertFalse(dialect.sideTablesInTransaction());
  }

  @Test
  void documentIdsArePositiveAndStable() {
    long id = SqlDialect.idOf("alice");
    assertTrue(id > 0);
    assertEquals(id, SqlDialect.idOf("alice"));
    assertTrue(SqlDialect.idOf("alice", "k") != SqlDialect.idOf("alic", "ek"), "parts are separated");
  }
}
