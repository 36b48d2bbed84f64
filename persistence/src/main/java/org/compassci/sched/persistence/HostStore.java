package org.compassci.sched.persistence;

import java.util.List;

/**
 * Where hand registrations of testboxes live: beside the jobs, so that a box known only by its
 * registration (a MAC to boot from, its memory) is known again after a restart. Implementations
 * block: callers run them on the store dispatcher, never on an actor's thread.
 */
public interface HostStore {

  /** Most registrations read back: as many boxes as the host registry keeps. */
  int MAX_HOSTS = 100_000;

  /** Every registration, at most {@link #MAX_HOSTS}. */
  List<RegisteredHost> registeredHosts();

  /** Stores the registration, replacing an earlier one of the same name. */
  void saveHost(RegisteredHost host);
}
