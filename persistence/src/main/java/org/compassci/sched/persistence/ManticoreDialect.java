package org.compassci.sched.persistence;

import java.util.List;
import java.util.Map;

/**
 * Manticore Search 6.x/7.x in RT mode, over the MySQL protocol (SphinxQL). Written from the
 * manual; not yet run against a live server. The table is also in conf/manticore/jobs.sql.
 */
final class ManticoreDialect implements SqlDialect {

  // Manticore has no DEFAULT: a column added to a table with documents reads '' and 0 in them,
  // what the other stores' defaults give
  private static final List<String> ADDED =
      List.of("host string", "token_hash string", "dispatch_time bigint");

  static final String CREATE_TABLE =
      "CREATE TABLE IF NOT EXISTS jobs (stage string, health string, readiness string,"
          + " tenant string, tbox_group string, submit_time bigint, j json, "
          + String.join(", ", ADDED) + ")";

  @Override
  public List<String> schema() {
    // id is Manticore's implicit 64-bit document key: naming it would be an error
    return List.of(CREATE_TABLE);
  }

  /** Beside the jobs; also in conf/manticore/accounts.sql. The document id is a hash of the key. */
  static final List<String> SIDE_TABLES = List.of(
      "CREATE TABLE IF NOT EXISTS accounts (name string, email string, display_name string, role string,"
          + " created bigint, token_digest string)",
      "CREATE TABLE IF NOT EXISTS submit_keys (account string, idem_key string, request_digest string,"
          + " created bigint, job_ids string, answer string)",
      "CREATE TABLE IF NOT EXISTS job_runs (submit_id string)",
      "CREATE TABLE IF NOT EXISTS registered_hosts (name string, info string, updated bigint)");

  @Override
  public List<String> sideTables() {
    return SIDE_TABLES;
  }

  @Override
  public String upsertInto(String table, List<String> columns) {
    return "REPLACE INTO " + table + " (" + String.join(", ", columns) + ") VALUES ("
        + SqlDialect.marks(columns.size()) + ")";
  }

  /**
   * A Manticore transaction holds changes to one RT table only: keys and runs are written just
   * before the jobs' transaction, and a key read back whose jobs are not all there is dropped.
   */
  @Override
  public boolean sideTablesInTransaction() {
    return false;
  }

  @Override
  public List<String> addedColumns() {
    // ALTER adds one column at a time to an RT table, and the table answers no query meanwhile
    return ADDED;
  }

  @Override
  public String describeTable() {
    return "DESCRIBE jobs";
  }

  @Override
  public String upsert() {
    // REPLACE writes the whole document, as the other stores' upserts do
    return "REPLACE INTO jobs (id, stage, health, readiness, tenant, tbox_group, submit_time, j,"
        + " host, token_hash, dispatch_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  }

  @Override
  public boolean batchesUpdates() {
    // with rewriteBatchedStatements the driver would send a batch of UPDATEs as one
    // multi-statement, which Manticore documents for searches only. UPDATE is outside
    // Manticore's transactions anyway: each claim applies at once, on its own.
    return false;
  }

  /**
   * Manticore's BEGIN ... COMMIT covers inserts and replaces of one RT table, not UPDATE: a
   * group commit stores its new jobs and changes in one transaction, then makes its claims
   * each on its own. What it can promise: the writes are all or nothing; a claim that fails
   * after them fails alone ({@link ClaimsFailedException}) and the writes stand.
   */
  @Override
  public boolean claimsInTransaction() {
    return false;
  }

  @Override
  public String documentColumn() {
    // the json attribute takes the document text and gives it back as text when selected
    return "j";
  }

  @Override
  public String selectSuffix(int limit) {
    // a SELECT answers at most max_matches rows (default 1000) whatever its LIMIT; a GROUP BY
    // with more groups than max_matches gives approximate counts
    return " LIMIT " + limit + " OPTION max_matches=" + Math.max(limit, 1);
  }

  @Override
  public long lowestAfterId() {
    // document ids are positive; -9223372036854775808 is a literal the parser may not take
    return 0;
  }

  @Override
  public String connectionInit() {
    // GROUP BY and ORDER BY on strings follow the collation, by default libc_ci, which would
    // count "Alice" and "alice" as one tenant; the other stores compare exact bytes
    return "SET collation_connection = binary";
  }

  @Override
  public Map<String, String> urlDefaults() {
    // Manticore 6.x has no server-side prepared statements; the driver's client-side ones
    // send plain SQL text. Batched REPLACEs become multi-row REPLACEs.
    // connectTimeout, socketTimeout: as for MySQL, a server that vanishes without closing the
    // connection (a power cut, a firewall) fails the call in seconds; without them a commit
    // waited on TCP keepalive, about two hours, and no other commit went out meanwhile
    return Map.of("useServerPrepStmts", "false", "rewriteBatchedStatements", "true",
        "connectTimeout", "5000", "socketTimeout", "30000");
  }
}
