package org.compassci.sched.persistence;

/** A hand-out to make durable: job {@code id} goes to {@code host} if it is still queued. */
public record Claim(long id, String host, String tokenHash, long timeMillis) {}
