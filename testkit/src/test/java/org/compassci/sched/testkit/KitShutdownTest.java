package org.compassci.sched.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Files;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** A kit leaves nothing behind: no folder, no thread (no kit of another test is alive here). */
class KitShutdownTest {

  @Test
  void aKitThatShutDownLeavesNoThreadAndNoFolder() throws InterruptedException {
    Set<String> before = schedulerThreads();
    SchedulerTestKit kit = SchedulerTestKit.create();
    long id = kit.client().submitOne("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}");
    kit.testbox("parked", "tbox_type=dc").longPoll(java.time.Duration.ofSeconds(30));
    kit.events(id);
    kit.shutdown();
    kit.shutdown();
    assertFalse(Files.exists(kit.dataDir().getParent()));
    Set<String> left = started(before);
    // pools stop a moment after their last actor: wait for that, not for a timer
    for (int i = 0; i < 100 && !left.isEmpty(); i++) {
      Thread.sleep(50);
      left = started(before);
    }
    assertEquals(Set.of(), left, "the kit's thread pools are gone");
  }

  /** Threads of a scheduler started since {@code before} and still alive. */
  private static Set<String> started(Set<String> before) {
    Set<String> now = schedulerThreads();
    now.removeAll(before);
    return now;
  }

  private static Set<String> schedulerThreads() {
    Set<String> names = new TreeSet<>();
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.isAlive() && t.getName().startsWith("scheduler-")) {
        names.add(t.getName() + "#" + t.getId());
      }
    }
    return names;
  }
}
