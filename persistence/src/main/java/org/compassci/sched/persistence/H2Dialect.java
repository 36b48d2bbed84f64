package org.compassci.sched.persistence;

import java.util.List;

/**
 * The embedded store's dialect (H2 2.x). A hand-out is a row inserted into a small
 * {@code handouts} table rather than an update of the job's row: updating a random row of a
 * large table rewrites its page and a page of each stage index on every commit, which made the
 * hand-out fifteen times dearer. The {@code job_view} that every read goes through lays the
 * hand-out over the job (stage dispatch, host, token, time); the next write of the job replaces
 * the row and drops the hand-out. Only this process opens the file, so nothing else reads the
 * table directly.
 */
final class H2Dialect implements SqlDialect {

  private static final List<String> ADDED = List.of(
      "host VARCHAR(255) DEFAULT '' NOT NULL",
      "token_hash VARCHAR(255) DEFAULT '' NOT NULL",
      "dispatch_time BIGINT DEFAULT 0 NOT NULL");

  @Override
  public List<String> schema() {
    return List.of(
        "CREATE TABLE IF NOT EXISTS jobs (id BIGINT PRIMARY KEY, stage VARCHAR(32) NOT NULL,"
            + " health VARCHAR(64) NOT NULL, readiness VARCHAR(32) NOT NULL,"
            + " tenant VARCHAR(255) NOT NULL, tbox_group VARCHAR(255) NOT NULL,"
            + " submit_time BIGINT NOT NULL, doc CLOB NOT NULL, " + String.join(", ", ADDED) + ")",
        "CREATE INDEX IF NOT EXISTS jobs_stage ON jobs(stage, id)",
        // countByTenant and findByStageAndTenant read only this index
        "CREATE INDEX IF NOT EXISTS jobs_stage_tenant ON jobs(stage, tenant, id)",
        "CREATE TABLE IF NOT EXISTS handouts (id BIGINT PRIMARY KEY, host VARCHAR(255) NOT NULL,"
            + " token_hash VARCHAR(255) NOT NULL, dispatch_time BIGINT NOT NULL)");
  }

  @Override
  public List<String> addedColumns() {
    return ADDED;
  }

  @Override
  public String addColumn(String column) {
    return "ALTER TABLE jobs ADD COLUMN IF NOT EXISTS " + column;
  }

  @Override
  public List<String> afterColumns() {
    return List.of(
        // a hand-out counts only over a job still in submit: any later write supersedes it
        "CREATE OR REPLACE VIEW job_view AS SELECT j.id,"
            + " CASE WHEN h.id IS NOT NULL AND j.stage = 'submit' THEN 'dispatch' ELSE j.stage END AS stage,"
            + " j.health, j.readiness, j.tenant, j.tbox_group, j.submit_time, j.doc,"
            + " CASE WHEN h.id IS NOT NULL AND j.stage = 'submit' THEN h.host ELSE j.host END AS host,"
            + " CASE WHEN h.id IS NOT NULL AND j.stage = 'submit' THEN h.token_hash ELSE j.token_hash END AS token_hash,"
            + " CASE WHEN h.id IS NOT NULL AND j.stage = 'submit' THEN h.dispatch_time ELSE j.dispatch_time END AS dispatch_time"
            + " FROM jobs j LEFT JOIN handouts h ON h.id = j.id");
  }

  @Override
  public String readFrom() {
    return "job_view";
  }

  /**
   * Parameters: host, token hash, dispatch time, id. The store reads the jobs first (it needs
   * their documents for the answer anyway) and inserts only for those still queued; a second
   * hand-out of one job would fail on the key.
   */
  @Override
  public String claim() {
    return "INSERT INTO handouts (host, token_hash, dispatch_time, id) VALUES (?, ?, ?, ?)";
  }

  @Override
  public boolean claimsByInsert() {
    return true;
  }

  @Override
  public String afterUpsert() {
    return "DELETE FROM handouts WHERE id = ?";
  }

  @Override
  public String upsert() {
    return "MERGE INTO jobs (id, stage, health, readiness, tenant, tbox_group, submit_time, doc,"
        + " host, token_hash, dispatch_time) KEY(id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  }
}
