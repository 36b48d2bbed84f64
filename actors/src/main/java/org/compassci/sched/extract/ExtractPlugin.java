package org.compassci.sched.extract;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;

/**
 * A step of statistics extraction, run when a job's results are uploaded. Plugins are found
 * with {@link java.util.ServiceLoader} (META-INF/services/org.compassci.sched.extract.ExtractPlugin)
 * and run in name order, off the actors' threads. A plugin that throws marks the job's data
 * incomplete, with its message recorded.
 */
public interface ExtractPlugin {

  /** Short name, recorded with an error and used for the order. */
  String name();

  /**
   * Reads what it needs from {@code job} (a copy) and {@code resultDir} (may not exist), and adds
   * to {@code stats}.
   */
  void extract(ObjectNode job, Path resultDir, ObjectNode stats) throws Exception;
}
