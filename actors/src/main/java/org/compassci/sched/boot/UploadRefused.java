package org.compassci.sched.boot;

/** An upload that is not taken: the HTTP status that says why, and the reason. */
public final class UploadRefused extends RuntimeException {

  private final int status;

  public UploadRefused(int status, String message) {
    super(message, null, false, false);
    this.status = status;
  }

  public int status() {
    return status;
  }
}
