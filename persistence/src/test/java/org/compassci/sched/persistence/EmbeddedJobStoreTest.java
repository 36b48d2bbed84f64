package org.compassci.sched.persistence;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** The contract on the embedded H2 store, one fresh folder per test. */
class EmbeddedJobStoreTest extends JobStoreContract {

  @TempDir Path dir;

  @Override
  protected JobStore open() {
    return JdbcJobStore.embedded(dir, 2);
  }

  @Override
  protected String expectedKind() {
    return "embedded";
  }
}
