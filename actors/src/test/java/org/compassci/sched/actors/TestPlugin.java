package org.compassci.sched.actors;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import org.compassci.sched.extract.ExtractPlugin;

/** An extraction plugin made of a name and a body, for tests that need a slow or stuck one. */
final class TestPlugin {

  private TestPlugin() {}

  @FunctionalInterface
  interface Body {
    void extract(ObjectNode job, ObjectNode stats) throws Exception;
  }

  static ExtractPlugin named(String name, Body body) {
    return new ExtractPlugin() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public void extract(ObjectNode job, Path resultDir, ObjectNode stats) throws Exception {
        body.extract(job, stats);
      }
    };
  }
}
