package org.compassci.sched.persistence;

import java.util.List;

/** The embedded store's dialect (H2 2.x). */
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
        "CREATE INDEX IF NOT EXISTS jobs_stage_tenant ON jobs(stage, tenant, id)");
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
  public String upsert() {
    return "MERGE INTO jobs (id, stage, health, readiness, tenant, tbox_group, submit_time, doc,"
        + " host, token_hash, dispatch_time) KEY(id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  }
}
