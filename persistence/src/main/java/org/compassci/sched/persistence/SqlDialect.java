package org.compassci.sched.persistence;

import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * The SQL that differs between the stores that speak JDBC. Every statement the store runs comes
 * from here, so a dialect can be checked by reading its text, without a server.
 */
public interface SqlDialect {

  /** How many tenants {@link #countByTenant()} counts at most: far above any real lab. */
  int MAX_TENANTS = 100_000;

  /** Statements run once at start; each must be safe to run again. */
  List<String> schema();

  /**
   * Columns the jobs table gained after its first release, each as "name definition", in
   * order. {@link #schema()} creates them in a new table; a table made by an older scheduler
   * lacks them, and the store adds the missing ones at start.
   */
  List<String> addedColumns();

  /** Statements run at start once every column is there (views over them); each safe to run again. */
  default List<String> afterColumns() {
    return List.of();
  }

  /** Lists the jobs table's columns, a row each, the name first. */
  default String describeTable() {
    return "SHOW COLUMNS FROM jobs";
  }

  /** Adds one of {@link #addedColumns()}. */
  default String addColumn(String column) {
    return "ALTER TABLE jobs ADD COLUMN " + column;
  }

  /**
   * Indexes of the jobs table that a table made by an older scheduler may lack: the index's name
   * to the statement that adds it. Only those that {@link #describeIndexes()} does not list are
   * added, once.
   */
  default Map<String, String> addedIndexes() {
    return Map.of();
  }

  /** Lists the jobs table's indexes, a row each (a row per column is fine), the name first. */
  default String describeIndexes() {
    return null;
  }

  /** One statement with the eleven columns of {@link JobRecord} as parameters, in record order. */
  String upsert();

  /** Like {@link #upsert()}, but an id that exists already fails the statement. */
  default String insert() {
    return "INSERT INTO jobs (id, stage, health, readiness, tenant, tbox_group, submit_time, "
        + documentColumn() + ", host, token_hash, dispatch_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  }

  /**
   * Hands one job out if it is still queued. Parameters: host, token hash, dispatch time, id.
   * One row updated means the claim took; the document is left alone.
   */
  default String claim() {
    return "UPDATE jobs SET stage = 'dispatch', host = ?, token_hash = ?, dispatch_time = ?"
        + " WHERE id = ? AND stage = 'submit'";
  }

  /**
   * Run for each written record (parameter: its id) in the same transaction as an upsert: a
   * dialect that keeps hand-outs or jobs in flight beside the jobs table drops what the write
   * replaces.
   */
  default List<String> afterUpsert() {
    return List.of();
  }

  /**
   * Whether a job in {@code stage} with this data readiness that has a row in the jobs table
   * already is written to a
   * table of jobs in flight beside it (with {@link #upsertInFlight()}), rather than rewriting
   * its row in the large table: only a dialect with such a table says yes.
   */
  default boolean inFlight(String stage, String readiness) {
    return false;
  }

  /** Like {@link #upsert()}, into the table of jobs in flight; null when there is none. */
  default String upsertInFlight() {
    return null;
  }

  /**
   * The statement that forces what is committed onto the disk, where the database leaves that
   * to the operating system (see {@link JobStore#sync()}); null when the server does its own.
   */
  default String sync() {
    return null;
  }

  /** Run for each record written with {@link #upsertInFlight()} (parameter: its id). */
  default List<String> afterUpsertInFlight() {
    return List.of();
  }

  /** Parameters: {@code count} ids; answers those that have a row in the jobs table. */
  default String existingIds(int count) {
    return "SELECT id FROM jobs WHERE id IN (" + marks(count) + ")";
  }

  /** What every SELECT reads: the jobs table, or a view over it. */
  default String readFrom() {
    return "jobs";
  }

  /**
   * Whether {@link #claim()} is a plain insert of a hand-out row (parameters as for claim) made
   * after the jobs were read and found queued, in the same transaction. Only a store that no
   * other process writes may do so: nothing can take the job between the read and the insert.
   */
  default boolean claimsByInsert() {
    return false;
  }

  /**
   * Whether claims can run in the same transaction as inserts and upserts, so that a group
   * commit is one durable step. False where UPDATE is outside transactions (Manticore).
   */
  default boolean claimsInTransaction() {
    return true;
  }

  /** Whether a batch of claims may go to the server as one JDBC batch. */
  default boolean batchesUpdates() {
    return true;
  }

  /** The column that holds the whole job document. */
  default String documentColumn() {
    return "doc";
  }

  /**
   * Appended to every SELECT. The plain SQL stores only need the LIMIT; a server that caps its
   * answers below the LIMIT (Manticore's max_matches) raises the cap here.
   */
  default String selectSuffix(int limit) {
    return " LIMIT " + limit;
  }

  /** The lowest {@code afterId} worth sending: a server that keeps only positive ids says 0. */
  default long lowestAfterId() {
    return Long.MIN_VALUE;
  }

  /** A statement run on every new connection, or null. */
  default String connectionInit() {
    return null;
  }

  /** JDBC URL properties the store needs; added to the URL unless the operator set them. */
  default Map<String, String> urlDefaults() {
    return Map.of();
  }

  /** The select list, in {@link JobRecord} order. */
  default String columns() {
    return "id, stage, health, readiness, tenant, tbox_group, submit_time, " + documentColumn()
        + ", host, token_hash, dispatch_time";
  }

  /** How the reads name the job's id, stage and tenant in {@link #readFrom()}. */
  default String idColumn() {
    return "id";
  }

  default String stageColumn() {
    return "stage";
  }

  default String tenantColumn() {
    return "tenant";
  }

  /** The ids at or above one (its parameter), highest first, at most {@code limit}. */
  default String highestIdsFrom(int limit) {
    return "SELECT " + idColumn() + " FROM " + readFrom() + " WHERE " + idColumn() + " >= ? ORDER BY " + idColumn()
        + " DESC" + selectSuffix(limit);
  }

  default String selectById() {
    return "SELECT " + columns() + " FROM " + readFrom() + " WHERE " + idColumn() + " = ?" + selectSuffix(1);
  }

  default String selectByIds(int count) {
    return "SELECT " + columns() + " FROM " + readFrom() + " WHERE " + idColumn() + " IN (" + marks(count) + ")"
        + selectSuffix(count);
  }

  /** The query of {@link JobStore#findByStage} for these stages; its parameters: {@link #byStageParams}. */
  default String selectByStage(java.util.Collection<String> stages, int limit) {
    return selectByStage(stages.size(), limit);
  }

  /**
   * Where the jobs in these stages are best found in two steps: a query of the ids that may be
   * in them, after an id (its parameters: {@link #byStageParams}), in id order and at most
   * {@code limit}; the store then reads those jobs by id and keeps the ones in the stages. Null
   * (the default): {@link #selectByStage(java.util.Collection, int)} reads them directly.
   */
  default String stageCandidates(java.util.Collection<String> stages, int limit) {
    return null;
  }

  /** The parameters of {@link #selectByStage(java.util.Collection, int)}, in order (strings and longs). */
  default List<Object> byStageParams(java.util.Collection<String> stages, long afterId) {
    List<Object> params = new java.util.ArrayList<>(stages);
    params.add(afterId);
    return params;
  }

  /** Parameters: the {@code stageCount} stages, then the id to start after. */
  default String selectByStage(int stageCount, int limit) {
    return "SELECT " + columns() + " FROM " + readFrom() + " WHERE " + stageColumn() + " IN (" + marks(stageCount)
        + ") AND " + idColumn() + " > ? ORDER BY " + idColumn() + selectSuffix(limit);
  }

  default String readinessColumn() {
    return "readiness";
  }

  /**
   * The query of {@link JobStore#findSettling}. Parameters: the {@code stageCount}
   * stages, the {@code readinessCount} readiness values, then the id to start after.
   */
  default String selectSettling(int stageCount, int readinessCount, int limit) {
    return "SELECT " + columns() + " FROM " + readFrom() + " WHERE " + stageColumn() + " IN (" + marks(stageCount)
        + ") AND " + readinessColumn() + " IN (" + marks(readinessCount) + ") AND " + idColumn() + " > ? ORDER BY "
        + idColumn() + selectSuffix(limit);
  }

  /**
   * Like {@link #stageCandidates}, for {@link JobStore#findSettling}: the ids that may
   * be such jobs, with the parameters of {@link #selectSettling}; null (the default)
   * reads them directly.
   */
  default String settlingCandidates(int stageCount, int readinessCount, int limit) {
    return null;
  }

  /** Parameters: stage, tenant, the id to start after. */
  default String selectByStageAndTenant(int limit) {
    return "SELECT " + columns() + " FROM " + readFrom() + " WHERE " + stageColumn() + " = ? AND " + tenantColumn()
        + " = ? AND " + idColumn() + " > ? ORDER BY " + idColumn() + selectSuffix(limit);
  }

  /** Parameter: the stage. Answers rows of (tenant, count). */
  default String countByTenant() {
    return "SELECT " + tenantColumn() + ", COUNT(*) FROM " + readFrom() + " WHERE " + stageColumn() + " = ? GROUP BY "
        + tenantColumn() + selectSuffix(MAX_TENANTS);
  }

  // ---- beside the jobs: accounts, submit keys and runs ----

  /** How many accounts {@link #selectAccounts()} reads at most: far above any lab's. */
  int MAX_ACCOUNTS = 100_000;

  /** Columns of the accounts table, the row's id first (a stable hash of the name: {@link #idOf}). */
  List<String> ACCOUNT_COLUMNS =
      List.of("id", "name", "email", "display_name", "role", "created", "token_digest");

  /** Columns of the submit keys table, the row's id first (a hash of account and key). */
  List<String> KEY_COLUMNS =
      List.of("id", "account", "idem_key", "request_digest", "created", "job_ids", "answer");

  /** Columns of the runs table: the job's id and its submit_id. */
  List<String> RUN_COLUMNS = List.of("id", "submit_id");

  /** Columns of the registered hosts table, the row's id first (a hash of the name). */
  List<String> HOST_COLUMNS = List.of("id", "name", "info", "updated");

  /** The tables beside the jobs table (accounts, submit_keys, job_runs, registered_hosts); each statement safe to run again. */
  List<String> sideTables();

  /** Inserts a row, or replaces the one with the same id (the first of {@code columns}). */
  String upsertInto(String table, List<String> columns);

  /** Inserts a row; an existing id fails the statement. */
  default String insertInto(String table, List<String> columns) {
    return "INSERT INTO " + table + " (" + String.join(", ", columns) + ") VALUES ("
        + marks(columns.size()) + ")";
  }

  /**
   * Whether submit keys and runs can be written in the same transaction as the jobs. False where
   * a transaction covers one table only (Manticore): they are written just before the jobs, and
   * a key whose jobs never came is ignored when read.
   */
  default boolean sideTablesInTransaction() {
    return true;
  }

  default String insertAccount() {
    return insertInto("accounts", ACCOUNT_COLUMNS);
  }

  default String upsertAccount() {
    return upsertInto("accounts", ACCOUNT_COLUMNS);
  }

  default String selectAccounts() {
    return "SELECT name, email, display_name, role, created, token_digest FROM accounts ORDER BY name"
        + selectSuffix(MAX_ACCOUNTS);
  }

  /** Parameter: the account's id. */
  default String deleteAccount() {
    return "DELETE FROM accounts WHERE id = ?";
  }

  default String upsertHost() {
    return upsertInto("registered_hosts", HOST_COLUMNS);
  }

  default String selectHosts() {
    return "SELECT name, info, updated FROM registered_hosts ORDER BY updated" + selectSuffix(HostStore.MAX_HOSTS);
  }

  default String upsertSubmitKey() {
    return upsertInto("submit_keys", KEY_COLUMNS);
  }

  /** Parameter: the key's id; the caller checks account and key (ids are hashes). */
  default String selectSubmitKey() {
    return "SELECT account, idem_key, request_digest, created, job_ids, answer FROM submit_keys WHERE id = ?"
        + selectSuffix(1);
  }

  default String deleteSubmitKey() {
    return "DELETE FROM submit_keys WHERE id = ?";
  }

  /** Parameter: the oldest creation time kept, in milliseconds. */
  default String purgeSubmitKeys() {
    return "DELETE FROM submit_keys WHERE created < ?";
  }

  default String insertRun() {
    return insertInto("job_runs", RUN_COLUMNS);
  }

  /** Parameter: the submit_id. */
  default String selectRun(int limit) {
    return "SELECT id FROM job_runs WHERE submit_id = ? ORDER BY id" + selectSuffix(limit);
  }

  /**
   * A positive 63-bit row id for a text key (an account's name, an account and a submit key): the
   * first eight bytes of its SHA-256. Manticore needs a numeric document id; the others use the
   * same ids so that one store's rows read the same in another.
   */
  static long idOf(String... parts) {
    try {
      java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
      for (String p : parts) {
        md.update(p.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        md.update((byte) 0);
      }
      long id = java.nio.ByteBuffer.wrap(md.digest()).getLong() & Long.MAX_VALUE;
      return id == 0 ? 1 : id;
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JVM", e);
    }
  }

  /** {@code count} parameter marks, comma separated: the inside of an {@code IN (...)}. */
  static String marks(int count) {
    return String.join(", ", Collections.nCopies(count, "?"));
  }

  static SqlDialect h2() {
    return new H2Dialect();
  }

  static SqlDialect mysql() {
    return new MySqlDialect();
  }

  static SqlDialect manticore() {
    return new ManticoreDialect();
  }
}
