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

  /**
   * 507 when {@code e} says the disk is full or over quota (ENOSPC, EDQUOT, as the C library
   * spells them in English; a translated message gives 500), else 500: the fault is the
   * scheduler's, never the box's upload.
   */
  public static int writeStatus(java.io.IOException e) {
    String m = String.valueOf(e.getMessage());
    return m.contains("No space left on device") || m.contains("Disk quota exceeded") ? 507 : 500;
  }
}
