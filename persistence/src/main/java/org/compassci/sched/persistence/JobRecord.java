package org.compassci.sched.persistence;

/**
 * One job as the store keeps it: the plain attributes that queries filter on, and the whole
 * job document as JSON text. The document is the truth; the attributes are copies for indexes.
 */
public record JobRecord(
    long id,
    String stage,
    String health,
    String readiness,
    String tenant,
    String tboxGroup,
    long submitTimeMillis,
    String document) {}
