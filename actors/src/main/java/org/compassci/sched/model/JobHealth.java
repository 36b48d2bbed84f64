package org.compassci.sched.model;

import java.util.Locale;
import java.util.Optional;

/** What became of a job; anything but UNKNOWN and SUCCESS on an unfinished job ends it. */
public enum JobHealth {
  UNKNOWN, SUCCESS, FAIL, CANCEL, ABORT, ABORT_INVALID, ABORT_WAIT, ABORT_PROVIDER,
  WGET_KERNEL_FAIL, WGET_INITRD_FAIL, INITRD_BROKEN, LOAD_DISK_FAIL, ERROR_MOUNT,
  MICROCODE_MISMATCH, SOFT_TIMEOUT, NFS_HANG, OOM, KERNEL_PANIC, TERMINATE, DISTURBED,
  TIMEOUT_DISPATCH, TIMEOUT_BOOT, TIMEOUT_SETUP, TIMEOUT_WAIT_PEER, TIMEOUT_RUNNING,
  TIMEOUT_POST_RUN, TIMEOUT_MANUAL_CHECK;

  private final String wire = name().toLowerCase(Locale.ROOT);

  public String wireName() {
    return wire;
  }

  public boolean isBad() {
    return this != UNKNOWN && this != SUCCESS;
  }

  public static Optional<JobHealth> fromName(String name) {
    String n = Names.normalize(name);
    for (JobHealth h : values()) {
      if (h.wire.equals(n)) {
        return Optional.of(h);
      }
    }
    return Optional.empty();
  }
}
