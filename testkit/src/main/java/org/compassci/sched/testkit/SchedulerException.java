package org.compassci.sched.testkit;

/**
 * The scheduler refused a call the kit made for the test: the HTTP status and the scheduler's
 * own message, so that a test can assert on either ({@code assertEquals(409, e.status())}).
 */
public final class SchedulerException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  private final int status;
  private final String body;

  SchedulerException(String call, int status, String body) {
    super(call + ": HTTP " + status + " " + body);
    this.status = status;
    this.body = body;
  }

  /** The HTTP status, e.g. 404 for an unknown job, 409 for a stage that would go back. */
  public int status() {
    return status;
  }

  /** The answer's body as the scheduler sent it (JSON, or plain text on legacy routes). */
  public String body() {
    return body;
  }
}
