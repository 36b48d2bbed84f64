package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import org.compassci.sched.cluster.ClusterSettings;
import org.compassci.sched.config.SchedulerSettings;
import org.compassci.sched.persistence.Claim;
import org.compassci.sched.persistence.RedisClaims;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The name a scheduler's Redis claims carry, against the real Redis on 127.0.0.1:6379: the nodes
 * of one cluster are one scheduler, two standalone schedulers are two.
 */
class RedisHolderTest {

  @TempDir Path a;
  @TempDir Path b;

  private static Config node(Path dataDir, String seeds) {
    return ConfigFactory.parseString("scheduler.data-dir = \"" + dataDir.toString().replace("\\", "/") + "\"\n"
        + "scheduler.cluster.seed-nodes = \"" + seeds + "\"").withFallback(ConfigFactory.load());
  }

  private static String holder(Config config, String store, String host) {
    SchedulerSettings settings = SchedulerSettings.fromConfig(config);
    return SchedulerApp.redisHolder(settings, ClusterSettings.fromConfig(config, store, host));
  }

  @Test
  void theNextNodeOfAClusterTakesOverTheKeysOfTheOneThatDied() {
    // seeds listed in another order on the other node: the same cluster
    String nodeA = holder(node(a, "10.0.0.1:25520,10.0.0.2:25520,10.0.0.3:25520"), "mysql", "10.0.0.1");
    String nodeB = holder(node(b, "10.0.0.3:25520, 10.0.0.1:25520,10.0.0.2:25520"), "mysql", "10.0.0.2");
    assertEquals(nodeA, nodeB);
    String standaloneA = holder(node(a, ""), "embedded", "0.0.0.0");
    String standaloneB = holder(node(b, ""), "embedded", "0.0.0.0");
    assertNotEquals(standaloneA, standaloneB, "two schedulers on one machine, two data directories");
    java.nio.file.Path spaced = a.resolveSibling(a.getFileName() + " b");
    String withSpace = holder(node(spaced, ""), "embedded", "0.0.0.0");
    assertTrue(!withSpace.contains(" ") && !withSpace.startsWith(standaloneA + " "),
        "a data dir with a space owns no key of the one named by its first word: " + withSpace);

    long id = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE / 2);
    String url = "redis://127.0.0.1:6379";
    try (RedisClaims dead = new RedisClaims(url, 60_000, nodeA)) {
      // node A's matcher hands job id out, then node A dies with the key in Redis
      assertEquals(1, dead.take(List.of(new Claim(id, "h1", "x", 1))).size());
    }
    try (RedisClaims next = new RedisClaims(url, 60_000, nodeB);
        RedisClaims elsewhere = new RedisClaims(url, 60_000, standaloneA)) {
      assertEquals(0, elsewhere.take(List.of(new Claim(id, "h3", "z", 2))).size(), "another scheduler's claim stands");
      assertEquals(1, next.take(List.of(new Claim(id, "h2", "y", 2))).size(),
          "the job's requeue and next hand-out on node B are not held up for the key's TTL");
      next.release(List.of(id));
    }
  }
}
