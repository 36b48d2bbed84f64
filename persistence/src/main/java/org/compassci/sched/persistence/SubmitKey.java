package org.compassci.sched.persistence;

import java.util.List;

/**
 * A submit made with an {@code Idempotency-Key}: stored in the same commit as its jobs, so that a
 * retry of the same request, even after a crash between the commit and the answer, gets the
 * first answer and makes no new job. {@code requestDigest} is the hex SHA-256 of the request
 * body (the same key with another body is refused); {@code answer} is the answer as first sent.
 */
public record SubmitKey(
    String account,
    String key,
    String requestDigest,
    long createdMillis,
    List<Long> jobIds,
    String answer) {

  public SubmitKey {
    jobIds = List.copyOf(jobIds);
  }
}
