package org.compassci.sched.testkit;

/**
 * One job a submit made.
 *
 * @param id the job id
 * @param resultRoot where the job's results go, e.g. {@code /result/hackbench/2026-11-29/vm-2p8g/<id>}
 */
public record Submitted(long id, String resultRoot) {}
