package org.compassci.sched.persistence;

import java.util.List;

/**
 * The embedded store's dialect (H2 2.x). A hand-out is a row inserted into a small
 * {@code handouts} table rather than an update of the job's row: updating a random row of a
 * large table rewrites its page and a page of each stage index on every commit, which made the
 * hand-out fifteen times dearer. Every read joins the two and lays the hand-out over the job
 * (stage dispatch, host, token, time); the next write of the job replaces the row and drops the
 * hand-out. Only this process opens the file, so nothing else reads the table directly.
 *
 * <p>Jobs in flight (after the hand-out, before the end) are kept the same way: each later write
 * of such a job replaces its row in a small {@code in_flight} table, read over the job's own row,
 * and the job's row is written again only when the job ends or goes back to the queue. Moving
 * jobs to boot rewrote a random page of the jobs table and of both stage indexes per job.
 */
final class H2Dialect implements SqlDialect {

  private static final List<String> ADDED = List.of(
      "host VARCHAR(255) DEFAULT '' NOT NULL",
      "token_hash VARCHAR(255) DEFAULT '' NOT NULL",
      "dispatch_time BIGINT DEFAULT 0 NOT NULL");

  private static final String JOB_COLUMNS = "id BIGINT PRIMARY KEY, stage VARCHAR(32) NOT NULL,"
      + " health VARCHAR(64) NOT NULL, readiness VARCHAR(32) NOT NULL,"
      + " tenant VARCHAR(255) NOT NULL, tbox_group VARCHAR(255) NOT NULL,"
      + " submit_time BIGINT NOT NULL, doc CLOB NOT NULL, " + String.join(", ", ADDED);

  @Override
  public List<String> schema() {
    return List.of(
        "CREATE TABLE IF NOT EXISTS jobs (" + JOB_COLUMNS + ")",
        "CREATE INDEX IF NOT EXISTS jobs_stage ON jobs(stage, id)",
        // countByTenant and findByStageAndTenant read only this index
        "CREATE INDEX IF NOT EXISTS jobs_stage_tenant ON jobs(stage, tenant, id)",
        // host and token hash as UTF-8 bytes, not text: each commit writes every row of each page
        // it changed again, and H2 writes text a character at a time but bytes in one copy (JFR
        // of the dispatch bench: 10 % of the server's samples in H2's writeStringData, nearly
        // all of them these two columns). Reads cast them back, so the text is the same.
        "CREATE TABLE IF NOT EXISTS handouts (id BIGINT PRIMARY KEY, host VARBINARY(255) NOT NULL,"
            + " token_hash VARBINARY(255) NOT NULL, dispatch_time BIGINT NOT NULL)",
        // a store made before converts its rows (as UTF-8, the cast that reads them back);
        // on a table already converted, nothing happens. 255 bytes: a host is a plain (ASCII) name
        // of at most 255 characters, as in the jobs table
        "ALTER TABLE handouts ALTER COLUMN host SET DATA TYPE VARBINARY(255)",
        "ALTER TABLE handouts ALTER COLUMN token_hash SET DATA TYPE VARBINARY(255)",
        // the same columns as the jobs table: a job in flight is its whole row, newer
        "CREATE TABLE IF NOT EXISTS in_flight (" + JOB_COLUMNS + ")");
  }

  /** The stages a job ends in. */
  private static final java.util.Set<String> FINAL = java.util.Set.of(
      "finish", "cancel", "abort_invalid", "abort_wait", "abort_provider");

  /** The data readiness of a job whose data is still on its way: uploaded or extracted later. */
  private static final java.util.Set<String> UNSETTLED = java.util.Set.of("N/A", "uploading", "uploaded");

  /**
   * A job is in flight from its hand-out until it has ended and its data settled; its last
   * write goes back to the jobs table. An ended job whose data is still on its way stays in the
   * small table, where a restart finds it without a walk of every ended job.
   */
  @Override
  public boolean inFlight(String stage, String readiness) {
    return stage != null && !"submit".equals(stage) && (!FINAL.contains(stage) || UNSETTLED.contains(readiness));
  }

  /**
   * The jobs in flight only: an ended job whose data has not settled is one of them (see
   * {@link #inFlight}). One written so by a scheduler before that rule is in the jobs table, and
   * found only when something is asked of it.
   */
  @Override
  public String settlingCandidates(int stageCount, int readinessCount, int limit) {
    return "SELECT id FROM in_flight WHERE stage IN (" + SqlDialect.marks(stageCount) + ") AND readiness IN ("
        + SqlDialect.marks(readinessCount) + ") AND id > ? ORDER BY id LIMIT " + limit;
  }

  @Override
  public String upsertInFlight() {
    return mergeJobInto("in_flight");
  }

  @Override
  public List<String> afterUpsertInFlight() {
    return List.of("DELETE FROM handouts WHERE id = ?");
  }

  @Override
  public List<String> addedColumns() {
    return ADDED;
  }

  @Override
  public String addColumn(String column) {
    return "ALTER TABLE jobs ADD COLUMN IF NOT EXISTS " + column;
  }

  // a hand-out counts only over a job still in submit: any later write supersedes it (and a
  // job in flight has none: its write dropped it)
  private static final String HANDED_OUT = "h.id IS NOT NULL AND j.stage = 'submit'";

  /** A column as read: the job in flight's, else the hand-out's, else the job's own. */
  private static String handedOr(String fromHandout, String fromJob) {
    return "CASE WHEN f.id IS NOT NULL THEN f." + fromJob.substring(2) + " WHEN " + HANDED_OUT + " THEN "
        + fromHandout + " ELSE " + fromJob + " END";
  }

  private static String latest(String column) {
    return "CASE WHEN f.id IS NOT NULL THEN f." + column + " ELSE j." + column + " END";
  }

  @Override
  public List<String> afterColumns() {
    // reads went through this view once; H2 cannot page through a view in index order (each
    // page of a load read every row past it: 200,000 jobs took 6.3 s, joined directly 0.2 s)
    return List.of("DROP VIEW IF EXISTS job_view");
  }

  @Override
  public String readFrom() {
    return "jobs j LEFT JOIN in_flight f ON f.id = j.id LEFT JOIN handouts h ON h.id = j.id";
  }

  @Override
  public String columns() {
    return "j.id, " + stageColumn() + ", " + latest("health") + ", " + latest("readiness") + ", "
        + latest("tenant") + ", " + latest("tbox_group") + ", " + latest("submit_time") + ", "
        + latest("doc") + ", " + handedOr(text("h.host"), "j.host") + ", "
        + handedOr(text("h.token_hash"), "j.token_hash")
        + ", " + handedOr("h.dispatch_time", "j.dispatch_time");
  }

  /**
   * Every stage but submit: the jobs past the queue are rows of in_flight or handouts, or (written
   * before those tables existed) rows of the jobs table under their own stage. Those three give
   * the candidate ids by index, each part in id order and cut at the page, and the store reads the
   * candidates by id and checks their stage (a CASE over the join, which no index serves). Before,
   * the lifecycle's load of active jobs at a start read every queued job (0.4–0.7 s with 100,000
   * queued) beside the matcher's own load of them. And the candidates as an {@code IN} subquery
   * of one statement were read again for each row unless H2 could reuse its last result, which a
   * write anywhere ends: 900 jobs in flight took 1.7 s to load after a restart, 1,800 took 7.3 s.
   */
  @Override
  public String stageCandidates(java.util.Collection<String> stages, int limit) {
    if (!pastTheQueue(stages)) {
      return null;
    }
    String page = " ORDER BY id LIMIT " + limit + ")";
    String marks = SqlDialect.marks(stages.size());
    // a job in flight is in its row's stage: a sweep of the hand-outs reads none of the running
    return "SELECT id FROM ((SELECT id FROM in_flight WHERE stage IN (" + marks + ") AND id > ?" + page
        + " UNION (SELECT id FROM handouts WHERE id > ?" + page
        + " UNION (SELECT id FROM jobs WHERE stage IN (" + marks + ") AND id > ?" + page
        + ") c ORDER BY id LIMIT " + limit;
  }

  @Override
  public List<Object> byStageParams(java.util.Collection<String> stages, long afterId) {
    if (!pastTheQueue(stages)) {
      return SqlDialect.super.byStageParams(stages, afterId);
    }
    List<Object> params = new java.util.ArrayList<>(stages);
    params.add(afterId);
    params.add(afterId);
    params.addAll(stages);
    params.add(afterId);
    return params;
  }

  /** Whether every stage asked for is past the queue: then the candidates are looked up by index. */
  private static boolean pastTheQueue(java.util.Collection<String> stages) {
    return !stages.contains("submit");
  }

  @Override
  public String sync() {
    return "CHECKPOINT SYNC";
  }

  @Override
  public String idColumn() {
    return "j.id";
  }

  /** A column of UTF-8 bytes read as the text it was written from. */
  private static String text(String bytes) {
    return "CAST(" + bytes + " AS VARCHAR)";
  }

  @Override
  public String stageColumn() {
    return handedOr("'dispatch'", "j.stage");
  }

  @Override
  public String tenantColumn() {
    return "j.tenant";
  }

  /**
   * Parameters: host, token hash, dispatch time, id. The store reads the jobs first (it needs
   * their documents for the answer anyway) and inserts only for those still queued; a second
   * hand-out of one job would fail on the key.
   */
  @Override
  public String claim() {
    return "INSERT INTO handouts (host, token_hash, dispatch_time, id)"
        + " VALUES (CAST(? AS VARBINARY), CAST(? AS VARBINARY), ?, ?)";
  }

  @Override
  public boolean claimsByInsert() {
    return true;
  }

  @Override
  public List<String> afterUpsert() {
    return List.of("DELETE FROM handouts WHERE id = ?", "DELETE FROM in_flight WHERE id = ?");
  }

  @Override
  public List<String> sideTables() {
    return List.of(
        "CREATE TABLE IF NOT EXISTS accounts (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL UNIQUE,"
            + " email VARCHAR(255) NOT NULL, display_name VARCHAR(255) NOT NULL, role VARCHAR(16) NOT NULL,"
            + " created BIGINT NOT NULL, token_digest VARCHAR(64) NOT NULL)",
        "CREATE TABLE IF NOT EXISTS submit_keys (id BIGINT PRIMARY KEY, account VARCHAR(64) NOT NULL,"
            + " idem_key VARCHAR(255) NOT NULL, request_digest VARCHAR(64) NOT NULL, created BIGINT NOT NULL,"
            + " job_ids CLOB NOT NULL, answer CLOB NOT NULL)",
        "CREATE INDEX IF NOT EXISTS submit_keys_created ON submit_keys(created)",
        "CREATE TABLE IF NOT EXISTS job_runs (id BIGINT PRIMARY KEY, submit_id VARCHAR(255) NOT NULL)",
        "CREATE INDEX IF NOT EXISTS job_runs_submit ON job_runs(submit_id, id)",
        "CREATE TABLE IF NOT EXISTS registered_hosts (id BIGINT PRIMARY KEY, name VARCHAR(255) NOT NULL,"
            + " info CLOB NOT NULL, updated BIGINT NOT NULL)");
  }

  @Override
  public String upsertInto(String table, List<String> columns) {
    return "MERGE INTO " + table + " (" + String.join(", ", columns) + ") KEY(" + columns.get(0)
        + ") VALUES (" + SqlDialect.marks(columns.size()) + ")";
  }

  @Override
  public String upsert() {
    return mergeJobInto("jobs");
  }

  /** Parameters: the eleven columns of {@link JobRecord}, in record order. */
  private static String mergeJobInto(String table) {
    return "MERGE INTO " + table + " (id, stage, health, readiness, tenant, tbox_group, submit_time, doc,"
        + " host, token_hash, dispatch_time) KEY(id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  }
}
