package org.compassci.sched.persistence;

import java.util.List;
import java.util.Map;

/** MySQL 8 and MariaDB 10.11 over MySQL Connector/J. */
final class MySqlDialect implements SqlDialect {

  // MySQL 8 has no ADD COLUMN IF NOT EXISTS (MariaDB has): the store lists the columns first.
  // Both add a column at the end of an InnoDB table in place, without copying the table.
  private static final List<String> ADDED = List.of(
      "host VARCHAR(255) NOT NULL DEFAULT ''",
      "token_hash VARCHAR(255) NOT NULL DEFAULT ''",
      "dispatch_time BIGINT NOT NULL DEFAULT 0");

  @Override
  public List<String> schema() {
    // MySQL has no CREATE INDEX IF NOT EXISTS, so the indexes live inside the CREATE TABLE.
    // utf8mb4_bin: tenants and groups compare as the embedded store compares them, by exact
    // bytes; the servers' default collations would merge "Alice" and "alice".
    return List.of(
        "CREATE TABLE IF NOT EXISTS jobs (id BIGINT NOT NULL PRIMARY KEY,"
            + " stage VARCHAR(32) NOT NULL, health VARCHAR(64) NOT NULL,"
            + " readiness VARCHAR(32) NOT NULL, tenant VARCHAR(255) NOT NULL,"
            + " tbox_group VARCHAR(255) NOT NULL, submit_time BIGINT NOT NULL, doc LONGTEXT NOT NULL,"
            + " " + String.join(", ", ADDED) + ","
            + " KEY jobs_stage (stage, id), KEY jobs_stage_tenant (stage, tenant, id), " + SETTLING + ")"
            + " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
  }

  /**
   * The ended jobs whose data has not settled, found by a restart (findSettling)
   * among all the ended ones in a few short ranges, without reading each ended job's row.
   */
  private static final String SETTLING = "KEY jobs_settling (stage, readiness, id)";

  @Override
  public Map<String, String> addedIndexes() {
    // InnoDB adds an index in place, reads and writes going on meanwhile
    return Map.of("jobs_settling", "ALTER TABLE jobs ADD " + SETTLING);
  }

  @Override
  public String describeIndexes() {
    return "SELECT index_name FROM information_schema.statistics WHERE table_schema = DATABASE()"
        + " AND table_name = 'jobs'";
  }

  @Override
  public List<String> addedColumns() {
    return ADDED;
  }

  @Override
  public String upsert() {
    // VALUES(col) rather than MySQL 8's "AS new" alias: MariaDB knows only the former, and
    // MySQL 8 still accepts it (with a deprecation note)
    return "INSERT INTO jobs (id, stage, health, readiness, tenant, tbox_group, submit_time, doc,"
        + " host, token_hash, dispatch_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        + " ON DUPLICATE KEY UPDATE stage = VALUES(stage),"
        + " health = VALUES(health), readiness = VALUES(readiness), tenant = VALUES(tenant),"
        + " tbox_group = VALUES(tbox_group), submit_time = VALUES(submit_time), doc = VALUES(doc),"
        + " host = VALUES(host), token_hash = VALUES(token_hash), dispatch_time = VALUES(dispatch_time)";
  }

  private static final String TABLE_OPTIONS = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";

  @Override
  public List<String> sideTables() {
    return List.of(
        "CREATE TABLE IF NOT EXISTS accounts (id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(64) NOT NULL,"
            + " email VARCHAR(255) NOT NULL, display_name VARCHAR(255) NOT NULL, role VARCHAR(16) NOT NULL,"
            + " created BIGINT NOT NULL, token_digest VARCHAR(64) NOT NULL, UNIQUE KEY accounts_name (name))"
            + TABLE_OPTIONS,
        "CREATE TABLE IF NOT EXISTS submit_keys (id BIGINT NOT NULL PRIMARY KEY, account VARCHAR(64) NOT NULL,"
            + " idem_key VARCHAR(255) NOT NULL, request_digest VARCHAR(64) NOT NULL, created BIGINT NOT NULL,"
            + " job_ids LONGTEXT NOT NULL, answer LONGTEXT NOT NULL, KEY submit_keys_created (created))"
            + TABLE_OPTIONS,
        "CREATE TABLE IF NOT EXISTS job_runs (id BIGINT NOT NULL PRIMARY KEY, submit_id VARCHAR(255) NOT NULL,"
            + " KEY job_runs_submit (submit_id, id))" + TABLE_OPTIONS,
        "CREATE TABLE IF NOT EXISTS registered_hosts (id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL,"
            + " info LONGTEXT NOT NULL, updated BIGINT NOT NULL)" + TABLE_OPTIONS);
  }

  @Override
  public String upsertInto(String table, List<String> columns) {
    StringBuilder update = new StringBuilder();
    for (String c : columns.subList(1, columns.size())) {
      update.append(update.length() == 0 ? "" : ", ").append(c).append(" = VALUES(").append(c).append(')');
    }
    return insertInto(table, columns) + " ON DUPLICATE KEY UPDATE " + update;
  }

  @Override
  public String connectionInit() {
    // a server configured without strict mode would store '' for a missing field or cut a long
    // tenant short, and the batch would "succeed"; strict, the whole batch fails and rolls back
    return "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'STRICT_ALL_TABLES')";
  }

  @Override
  public Map<String, String> urlDefaults() {
    // rewriteBatchedStatements: a batch of 10,000 jobs goes as a few multi-row INSERTs (split to
    // max_allowed_packet by the driver) instead of 10,000 round trips.
    // createDatabaseIfNotExist: the driver connects without the database and runs CREATE
    // DATABASE IF NOT EXISTS, so a fresh server needs no manual step.
    // connectTimeout, socketTimeout: a database that vanishes without closing the connection
    // (a cable, a firewall) fails the call in seconds instead of holding the commit for ever.
    return Map.of("rewriteBatchedStatements", "true", "createDatabaseIfNotExist", "true",
        "connectTimeout", "5000", "socketTimeout", "30000");
  }
}
