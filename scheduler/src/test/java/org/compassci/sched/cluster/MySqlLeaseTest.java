package org.compassci.sched.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.coordination.lease.javadsl.Lease;
import org.apache.pekko.coordination.lease.javadsl.LeaseProvider;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * The MySQL lease, loaded the way the singleton loads it (by config path through Pekko's
 * LeaseProvider), against the MariaDB of the CI, with timings short enough for a test.
 */
class MySqlLeaseTest {

  static final String DB = "sched_lease_" + Long.toUnsignedString(System.nanoTime(), 36);
  static final String URL = "jdbc:mysql://127.0.0.1:3306/" + DB + "?user=root&createDatabaseIfNotExist=true";

  static ActorTestKit node(String name) {
    Config c = ConfigFactory.parseString("scheduler.jdbc-url = \"" + URL + "\"\n"
            + "scheduler.cluster.mysql-lease.heartbeat-timeout = 5s\n"
            + "scheduler.cluster.mysql-lease.heartbeat-interval = 300ms\n")
        .withFallback(ConfigFactory.load());
    return ActorTestKit.create(name, c);
  }

  static final ActorTestKit a = node("a");
  static final ActorTestKit b = node("b");

  @AfterAll
  static void stop() throws Exception {
    a.shutdownTestKit();
    b.shutdownTestKit();
    try (var c = java.sql.DriverManager.getConnection("jdbc:mysql://127.0.0.1:3306/?user=root");
        var st = c.createStatement()) {
      st.execute("DROP DATABASE IF EXISTS " + DB);
    }
  }

  static Lease lease(ActorTestKit node, String name, String owner) {
    return LeaseProvider.get(node.system()).getLease(name, "scheduler.cluster.mysql-lease", owner);
  }

  static boolean get(java.util.concurrent.CompletionStage<Boolean> s) throws Exception {
    return s.toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @Test
  void oneOwnerAtATimeAndTheNextAfterARelease() throws Exception {
    Lease first = lease(a, "one-at-a-time", "node-a");
    Lease second = lease(b, "one-at-a-time", "node-b");
    assertTrue(first instanceof MySqlLease);
    assertTrue(get(first.acquire()));
    assertTrue(get(first.acquire()), "its owner may acquire again");
    assertTrue(first.checkLease());
    assertFalse(get(second.acquire()));
    Thread.sleep(6000);
    assertFalse(get(second.acquire()), "renewed by its owner's heartbeat, it does not expire");
    assertTrue(get(first.release()));
    assertFalse(first.checkLease());
    assertTrue(get(second.acquire()));
    assertTrue(get(second.release()));
  }

  /**
   * Every thread of the store's reads is busy (a burst of slow reads): a lease is still taken,
   * kept and let go. Its calls once queued behind those reads, and a renewal that came late lost
   * the lease and moved the singletons.
   */
  @Test
  void aLeaseNeedsNoThreadOfTheStoresReads() throws Exception {
    java.util.concurrent.CountDownLatch release = org.compassci.sched.persistence.BusyThreads.hold(
        a.system().dispatchers().lookup(
            org.apache.pekko.actor.typed.DispatcherSelector.fromConfig("scheduler.store-dispatcher")),
        a.system().settings().config().getInt("scheduler.store-dispatcher.thread-pool-executor.fixed-pool-size"));
    try {
      Lease lease = lease(a, "beside-the-reads", "node-a");
      assertTrue(get(lease.acquire()));
      assertTrue(lease.checkLease());
      assertTrue(get(lease.release()));
    } finally {
      release.countDown();
    }
  }

  /**
   * A renewal that waits on the row (a lock, a pause) sets the row's expiry from the moment it
   * was sent, as MySQL's NOW(3) is the statement's start: the holder counts from then too. It
   * used to count from the answer, and believed in a lease the row had already let go while
   * another node could take it.
   */
  @Test
  void aRenewalThatWaitedCountsFromWhenItWasSent() throws Exception {
    Lease holder = lease(a, "slow-renewal", "node-a");
    assertTrue(get(holder.acquire()));
    long held;
    try (var c = java.sql.DriverManager.getConnection(URL); var st = c.createStatement()) {
      c.setAutoCommit(false);
      // the heartbeat's next renewal (every 300 ms) waits on this lock for 5.6 s, past the 5 s timeout
      try (var rs = st.executeQuery("SELECT expires FROM scheduler_leases WHERE name = 'slow-renewal' FOR UPDATE")) {
        assertTrue(rs.next());
        held = rs.getLong(1);
      }
      Thread.sleep(5600);
      c.commit();
    }
    // the renewal that waited goes through now: its expiry counts from its start, already past
    long end = System.nanoTime() + 5_000_000_000L;
    boolean checked = false;
    while (System.nanoTime() < end && !checked) {
      try (var c = java.sql.DriverManager.getConnection(URL); var st = c.createStatement();
          var rs = st.executeQuery("SELECT expires, expires < ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000)"
              + " FROM scheduler_leases WHERE name = 'slow-renewal'")) {
        assertTrue(rs.next());
        if (rs.getLong(1) != held) {
          // renewed since the lock went; whatever the row says, its holder says the same
          boolean holds = holder.checkLease();
          assertEquals(!rs.getBoolean(2), holds, "the row " + (rs.getBoolean(2) ? "has let go" : "holds")
              + ", its holder says it " + (holds ? "holds" : "has let go"));
          checked = true;
        }
      }
      Thread.sleep(5);
    }
    assertTrue(checked, "the renewal that waited never went through");
    holder.release();
  }

  /**
   * A release while a renewal is out (its statement waiting on the row): the renewal lands
   * first, then the release's delete. The holder says it holds nothing. It used to take the
   * late renewal as its own and say it held the lease, whose row was gone, for heartbeat-timeout.
   */
  @Test
  void aReleaseWhileARenewalWaitsLeavesTheLeaseReleased() throws Exception {
    Lease holder = lease(a, "released-mid-renewal", "node-a");
    assertTrue(get(holder.acquire()));
    java.util.concurrent.CompletionStage<Boolean> released;
    try (var c = java.sql.DriverManager.getConnection(URL); var st = c.createStatement()) {
      c.setAutoCommit(false);
      try (var rs = st.executeQuery("SELECT expires FROM scheduler_leases WHERE name = 'released-mid-renewal' FOR UPDATE")) {
        assertTrue(rs.next());
      }
      // the heartbeat (every 300 ms) renews and waits on this lock; the release's delete queues behind it
      Thread.sleep(1000);
      released = holder.release();
      Thread.sleep(300);
      c.commit();
    }
    assertTrue(get(released));
    Thread.sleep(500);
    assertFalse(holder.checkLease(), "released, whatever the renewal that was out found");
    try (var c = java.sql.DriverManager.getConnection(URL); var st = c.createStatement();
        var rs = st.executeQuery("SELECT COUNT(*) FROM scheduler_leases WHERE name = 'released-mid-renewal'")) {
      assertTrue(rs.next());
      assertEquals(0, rs.getInt(1));
    }
    // held anew, it is renewed by the new holding's heartbeat
    assertTrue(get(holder.acquire()));
    Thread.sleep(1000);
    assertTrue(holder.checkLease());
    assertTrue(get(holder.release()));
  }

  @Test
  void aHolderThatStopsRenewingLosesTheLeaseAndHearsOfIt() throws Exception {
    Lease holder = lease(a, "taken-over", "node-a");
    CompletableFuture<Optional<Throwable>> lost = new CompletableFuture<>();
    assertTrue(get(holder.acquire(lost::complete)));
    // the row expires as if its holder had died: another owner takes it
    try (var c = java.sql.DriverManager.getConnection(URL); var st = c.createStatement()) {
      st.executeUpdate("UPDATE scheduler_leases SET owner = 'node-x', expires = 0 WHERE name = 'taken-over'");
    }
    assertEquals(Optional.empty(), lost.get(5, TimeUnit.SECONDS));
    assertFalse(holder.checkLease());
    Lease next = lease(b, "taken-over", "node-b");
    assertTrue(get(next.acquire()), "an expired row changes hands");
    assertTrue(get(next.release()));
  }
}
