package org.compassci.sched.model;

import java.util.Set;

/**
 * What a job needs of a testbox: k=v tags that must all be offered, hostnames it may run on
 * (empty: any), and memory in MB. The sorted tag set is the job's signature.
 */
public record Requirements(Set<String> tags, Set<String> targetMachines, long memoryMb) {

  public Requirements {
    tags = Set.copyOf(tags);
    targetMachines = Set.copyOf(targetMachines);
  }

  public boolean fitsTags(Testbox box) {
    return box.tags().containsAll(tags);
  }

  public boolean fitsTarget(Testbox box) {
    return targetMachines.isEmpty() || targetMachines.contains(box.hostname());
  }

  public boolean fitsMemory(Testbox box) {
    return memoryMb <= box.freeMemMb();
  }

  public boolean fits(Testbox box) {
    return fitsTags(box) && fitsTarget(box) && fitsMemory(box);
  }
}
