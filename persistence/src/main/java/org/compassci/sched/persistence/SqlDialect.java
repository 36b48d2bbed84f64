package org.compassci.sched.persistence;

import java.util.List;

/** The SQL that differs between the stores that speak JDBC. */
public interface SqlDialect {

  /** Statements run once at start; each must be safe to run again. */
  List<String> schema();

  /** One statement with the eight columns of {@link JobRecord} as parameters, in record order. */
  String upsert();

  /** Appended to a SELECT that may return more rows than the server returns by default. */
  default String selectSuffix(int limit) {
    return " LIMIT " + limit;
  }

  static SqlDialect h2() {
    return new SqlDialect() {
      @Override
      public List<String> schema() {
        return List.of(
            "CREATE TABLE IF NOT EXISTS jobs (id BIGINT PRIMARY KEY, stage VARCHAR(32) NOT NULL,"
                + " health VARCHAR(64) NOT NULL, readiness VARCHAR(32) NOT NULL,"
                + " tenant VARCHAR(255) NOT NULL, tbox_group VARCHAR(255) NOT NULL,"
                + " submit_time BIGINT NOT NULL, doc CLOB NOT NULL)",
            "CREATE INDEX IF NOT EXISTS jobs_stage ON jobs(stage, id)");
      }

      @Override
      public String upsert() {
        return "MERGE INTO jobs (id, stage, health, readiness, tenant, tbox_group, submit_time, doc)"
            + " KEY(id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
      }
    };
  }

  static SqlDialect mysql() {
    return new SqlDialect() {
      @Override
      public List<String> schema() {
        return List.of(
            "CREATE TABLE IF NOT EXISTS jobs (id BIGINT PRIMARY KEY, stage VARCHAR(32) NOT NULL,"
                + " health VARCHAR(64) NOT NULL, readiness VARCHAR(32) NOT NULL,"
                + " tenant VARCHAR(255) NOT NULL, tbox_group VARCHAR(255) NOT NULL,"
                + " submit_time BIGINT NOT NULL, doc LONGTEXT NOT NULL,"
                + " KEY jobs_stage (stage, id)) DEFAULT CHARSET=utf8mb4");
      }

      @Override
      public String upsert() {
        return "INSERT INTO jobs (id, stage, health, readiness, tenant, tbox_group, submit_time, doc)"
            + " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE stage = VALUES(stage),"
            + " health = VALUES(health), readiness = VALUES(readiness), tenant = VALUES(tenant),"
            + " tbox_group = VALUES(tbox_group), submit_time = VALUES(submit_time), doc = VALUES(doc)";
      }
    };
  }
}
