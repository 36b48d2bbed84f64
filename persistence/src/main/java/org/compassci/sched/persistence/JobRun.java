package org.compassci.sched.persistence;

/**
 * A job of a run: lkp-tests' {@code submit} sends one {@code submit_id} with every job it makes
 * in one run, so that the run can be listed and followed as a whole.
 */
public record JobRun(long jobId, String submitId) {}
