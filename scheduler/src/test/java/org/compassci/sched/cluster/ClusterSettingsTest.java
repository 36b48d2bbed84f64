package org.compassci.sched.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.List;
import org.compassci.sched.config.BadSettingException;
import org.junit.jupiter.api.Test;

/** scheduler.cluster.*: standalone by default, and what cluster mode refuses, with the reason. */
class ClusterSettingsTest {

  static Config with(String cluster) {
    return ConfigFactory.parseString(cluster).withFallback(ConfigFactory.load());
  }

  @Test
  void noSeedsIsStandalone() {
    ClusterSettings s = ClusterSettings.fromConfig(ConfigFactory.load(), "embedded", "0.0.0.0");
    assertFalse(s.enabled());
    assertEquals(25520, s.port());
  }

  @Test
  void seedsMakeANodeThatNamesItselfByTheHttpHostOrItsOwn() {
    ClusterSettings s = ClusterSettings.fromConfig(with(
        "scheduler.cluster.seed-nodes = \"a:25520, b:25520 ,c:25520\"\nscheduler.cluster.port = 25521"),
        "mysql", "10.0.0.5");
    assertTrue(s.enabled());
    assertEquals(List.of("a:25520", "b:25520", "c:25520"), s.seeds());
    assertEquals("10.0.0.5:25521", s.self());
    Config pekko = s.pekkoConfig(with(""));
    assertEquals("cluster", pekko.getString("pekko.actor.provider"));
    assertEquals(List.of("pekko://scheduler@a:25520", "pekko://scheduler@b:25520", "pekko://scheduler@c:25520"),
        pekko.getStringList("pekko.cluster.seed-nodes"));
    assertEquals("keep-majority", pekko.getString("pekko.cluster.split-brain-resolver.active-strategy"));
    // the survivors start the singletons no sooner than the downed side's resolver has stopped
    // its own: only claims are fenced by epoch, the other writes of a stale singleton are not
    assertTrue(pekko.getDuration("pekko.cluster.down-removal-margin").compareTo(
        pekko.getDuration("pekko.cluster.split-brain-resolver.stable-after")) >= 0);
    // as a -D option or the lab's own application.conf sets it: before the configuration resolves
    Config slower = ConfigFactory.load(ConfigFactory.parseString("pekko.cluster.split-brain-resolver.stable-after = 9s")
        .withFallback(ConfigFactory.parseResources("application.conf")));
    assertEquals(java.time.Duration.ofSeconds(9), slower.getDuration("pekko.cluster.down-removal-margin"),
        "it follows stable-after");
    assertEquals("jackson-cbor", pekko.getString(
        "pekko.actor.serialization-bindings.\"org.compassci.sched.model.CborSerializable\""));
    assertFalse(pekko.getBoolean("pekko.actor.allow-java-serialization"));
    assertTrue(ClusterSettings.fromConfig(with("scheduler.cluster.seed-nodes = \"a:1\""), "mysql", "0.0.0.0")
        .host().length() > 0, "0.0.0.0 is no address to be reached at");
  }

  @Test
  void clusterModeRefusesOtherStoresBadSeedsAndTwoNodesWithoutALease() {
    BadSettingException store = assertThrows(BadSettingException.class, () -> ClusterSettings.fromConfig(
        with("scheduler.cluster.seed-nodes = \"a:1,b:1,c:1\""), "embedded", "0.0.0.0"));
    assertTrue(store.getMessage().contains("SCHED_STORE"), store.getMessage());
    BadSettingException seed = assertThrows(BadSettingException.class, () -> ClusterSettings.fromConfig(
        with("scheduler.cluster.seed-nodes = \"a\""), "mysql", "0.0.0.0"));
    assertTrue(seed.getMessage().contains("'a' is not host:port"), seed.getMessage());
    BadSettingException two = assertThrows(BadSettingException.class, () -> ClusterSettings.fromConfig(
        with("scheduler.cluster.seed-nodes = \"a:1,b:1\""), "mysql", "0.0.0.0"));
    assertTrue(two.getMessage().contains("SCHED_CLUSTER_LEASE"), two.getMessage());
    ClusterSettings leased = ClusterSettings.fromConfig(
        with("scheduler.cluster.seed-nodes = \"a:1,b:1\"\nscheduler.cluster.lease = mysql"), "mysql", "h");
    Config pekko = leased.pekkoConfig(with(""));
    assertEquals("scheduler.cluster.mysql-lease", pekko.getString("pekko.cluster.singleton.use-lease"));
    assertEquals("lease-majority", pekko.getString("pekko.cluster.split-brain-resolver.active-strategy"));
    assertThrows(BadSettingException.class, () -> ClusterSettings.fromConfig(
        with("scheduler.cluster.seed-nodes = \"a:1\"\nscheduler.cluster.lease = etcd"), "mysql", "h"));
    assertThrows(BadSettingException.class, () -> ClusterSettings.fromConfig(
        with("scheduler.cluster.seed-nodes = \"a:1\"\nscheduler.cluster.port = 70000"), "mysql", "h"));
  }
}
