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
    try (RedisClaims a = new RedisClaims("redis://127.0.0.1:6379", 200)) {
      assertEquals(1, a.take(List.of(new Claim(id, "h1", "x", 1))).size());
      assertEquals(0, a.take(List.of(new Claim(id, "h2", "x", 1))).size());
      Thread.sleep(400);
      assertEquals(1, a.take(List.of(new Claim(id, "h2", "x", 1))).size());
      a.release(List.of(id));
    }
  }
}
