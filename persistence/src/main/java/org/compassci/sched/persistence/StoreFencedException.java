package org.compassci.sched.persistence;

/**
 * Cluster mode: the commit was refused whole because another node's matcher has taken the
 * current epoch, so this process's singletons have been replaced. Nothing of it is to be kept
 * and written again: the rows are the successor's now, and a downed node never becomes the
 * singleton again in the same process.
 */
public class StoreFencedException extends StoreUnavailableException {
  public StoreFencedException(String message, Throwable cause) {
    super(message, cause);
  }
}
