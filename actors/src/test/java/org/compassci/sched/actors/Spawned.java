package org.compassci.sched.actors;

import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Actors a test spawns, stopped after it: none outlives the store its test closed (a persistence
 * actor would go on checking a closed store for the rest of the run).
 */
final class Spawned implements AfterEachCallback {

  private final ActorTestKit testKit;
  private final List<ActorRef<?>> refs = new ArrayList<>();

  Spawned(ActorTestKit testKit) {
    this.testKit = testKit;
  }

  <T> ActorRef<T> spawn(Behavior<T> behavior) {
    ActorRef<T> ref = testKit.spawn(behavior);
    refs.add(ref);
    return ref;
  }

  @Override
  public void afterEach(ExtensionContext context) {
    refs.forEach(testKit::stop);
    refs.clear();
  }
}
