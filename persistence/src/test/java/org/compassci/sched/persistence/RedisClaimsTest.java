package org.compassci.sched.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;

/** Against the real Redis on 127.0.0.1:6379 (CI starts it). */
class RedisClaimsTest {

  @Test
  void aClaimIsTakenOnceUntilReleased() {
    long base = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE / 2);
    try (RedisClaims a = new RedisClaims("redis://127.0.0.1:6379", 60_000);
        RedisClaims b = new RedisClaims("redis://127.0.0.1:6379", 60_000)) {
      a.ping();
      List<Claim> first = a.take(List.of(new Claim(base, "h1", "x", 1), new Claim(base + 1, "h1", "x", 1)));
      assertEquals(2, first.size());
      assertEquals(List.of(new Claim(base + 2, "h2", "y", 2)),
          b.take(List.of(new Claim(base, "h2", "y", 2), new Claim(base + 2, "h2", "y", 2))),
          "another scheduler cannot take a held claim");
      a.release(List.of(base));
      assertEquals(1, b.take(List.of(new Claim(base, "h2", "y", 2))).size());
      a.release(List.of(base, base + 1, base + 2));
    }
  }

  @Test
  void claimsExpire() throws InterruptedException {
    long id = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE / 2);
    // a TTL of seconds: b's first call opens its connection, and a slow one must not outlast the key
    try (RedisClaims a = new RedisClaims("redis://127.0.0.1:6379", 5000);
        RedisClaims b = new RedisClaims("redis://127.0.0.1:6379", 5000)) {
      b.ping();
      assertEquals(1, a.take(List.of(new Claim(id, "h1", "x", 1))).size());
      assertEquals(0, b.take(List.of(new Claim(id, "h2", "x", 1))).size());
      Thread.sleep(5500);
      assertEquals(1, b.take(List.of(new Claim(id, "h2", "x", 1))).size());
      b.release(List.of(id));
    }
  }

  /**
   * A key a scheduler left (it died between the key and the store's commit, or Redis timed out
   * after setting it) is its own after a restart, under the same name: taken over at once, its
   * job still queued. Another scheduler's key is never taken over, nor released by anyone else.
   */
  @Test
  void aSchedulersOwnLeftKeyIsTakenOverAndAnothersIsLeftAlone() {
    long id = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE / 2);
    String url = "redis://127.0.0.1:6379";
    try (RedisClaims before = new RedisClaims(url, 60_000, "worker-1@h:/data-" + id)) {
      assertEquals(1, before.take(List.of(new Claim(id, "h1", "x", 1))).size());
    }
    try (RedisClaims restarted = new RedisClaims(url, 60_000, "worker-1@h:/data-" + id);
        RedisClaims other = new RedisClaims(url, 60_000, "worker-2@h:/data-" + id)) {
      assertEquals(0, other.take(List.of(new Claim(id, "h2", "y", 1))).size(), "held by another");
      assertEquals(List.of(new Claim(id, "h1", "x", 2)), restarted.take(List.of(new Claim(id, "h1", "x", 2))),
          "its own key, left before the restart");
      other.release(List.of(id));
      assertEquals(0, other.take(List.of(new Claim(id, "h2", "y", 1))).size(), "another's release leaves it");
      restarted.release(List.of(id));
      assertEquals(1, other.take(List.of(new Claim(id, "h2", "y", 1))).size(), "released by its holder");
      other.release(List.of(id));
    }
  }
}
