package org.compassci.sched.match;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The fair-share accounts themselves, beyond what a queue's hand-outs show in a test's time. */
class FairShareTest {

  /**
   * Passes only grow, and a scheduler that runs for months would take one past
   * {@code Long.MAX_VALUE} (a tenant of weight 1 after about 9 million hand-outs): it turned
   * negative, and its tenant took every box until its jobs ran out. Here two tenants of weight
   * 1 start a few strides short of it and take turns throughout.
   */
  @Test
  void passesNearTheirLimitMoveDownAndTheTenantsStillTakeTurns() {
    FairShare share = new FairShare(Map.of(), 1);
    TenantQueue a = share.tenant("A", 3);
    TenantQueue b = share.tenant("B", 3);
    TenantQueue idle = share.tenant("C", 3);
    a.pass = Long.MAX_VALUE - 3 * a.stride;
    b.pass = a.pass + 1;
    idle.pass = 0;
    for (int i = 0; i < 10; i++) {
      share.queued(a);
      share.queued(b);
    }
    List<String> order = serveLeastPass(share, 20);
    for (int i = 1; i < order.size(); i++) {
      assertNotEquals(order.get(i - 1), order.get(i), "turns, in " + order);
    }
    assertTrue(a.pass > 0 && a.pass < FairShare.REBASE_ABOVE, "moved down: " + a.pass);
    // a tenant that becomes active afterwards starts beside them, not below (moved down too)
    share.queued(idle);
    share.queued(idle);
    share.queued(a);
    share.queued(b);
    List<String> next = serveLeastPass(share, 4);
    // C starts where the level last served, one stride before the others: first, then in turn
    assertEquals(List.of("C", "A", "B", "C"), next);
  }

  /** Serves the least pass of level 3 {@code n} times: the tenants, in order. */
  private static List<String> serveLeastPass(FairShare share, int n) {
    List<String> order = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      TenantQueue next = share.active().get(3).tenant(0);
      share.served(next);
      order.add(next.tenant);
    }
    return order;
  }
}
