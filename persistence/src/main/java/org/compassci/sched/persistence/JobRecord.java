package org.compassci.sched.persistence;

/**
 * One job as the store keeps it: the plain attributes that queries filter on, and the whole
 * job document as JSON text. The attributes stage, health and readiness, and the hand-out
 * attributes host, tokenHash and dispatchTimeMillis, win over the document's copies: a
 * hand-out ({@link JobStore#claim}) changes only attributes, never the document.
 */
public record JobRecord(
    long id,
    String stage,
    String health,
    String readiness,
    String tenant,
    String tboxGroup,
    long submitTimeMillis,
    String document,
    String host,
    String tokenHash,
    long dispatchTimeMillis) {

  /** A job that was never handed out. */
  public JobRecord(long id, String stage, String health, String readiness, String tenant,
      String tboxGroup, long submitTimeMillis, String document) {
    this(id, stage, health, readiness, tenant, tboxGroup, submitTimeMillis, document, "", "", 0L);
  }
}
