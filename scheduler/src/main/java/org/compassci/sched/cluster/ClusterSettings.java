package org.compassci.sched.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.compassci.sched.config.BadSettingException;

/**
 * {@code scheduler.cluster.*}: whether this process is one node of a Pekko Cluster, and how it
 * reaches the others. With no seed nodes the scheduler is one standalone process, as before.
 *
 * @param seeds {@code host:port} of the seed nodes; empty: standalone
 * @param host  the address the other nodes reach this one at (Artery's canonical host name)
 * @param port  this node's Artery port
 * @param lease {@code ""} or {@code mysql}: a lease the singletons (and the SBR) must hold
 */
public record ClusterSettings(List<String> seeds, String host, int port, String lease) {

  public boolean enabled() {
    return !seeds.isEmpty();
  }

  /** This node as {@code host:port}, how {@code manage/cluster} and the epoch row name it. */
  public String self() {
    return host + ":" + port;
  }

  /**
   * Reads and checks the settings; {@code store} is the store's kind, which cluster mode
   * constrains. Throws {@link BadSettingException} naming the first bad one.
   */
  public static ClusterSettings fromConfig(Config root, String store, String httpHost) {
    Config c = root.getConfig("scheduler.cluster");
    List<String> seeds = new ArrayList<>();
    for (String s : c.getString("seed-nodes").split(",")) {
      String seed = s.trim();
      if (seed.isEmpty()) {
        continue;
      }
      int colon = seed.lastIndexOf(':');
      if (colon <= 0 || !seed.substring(colon + 1).matches("\\d{1,5}")
          || Integer.parseInt(seed.substring(colon + 1)) > 65535) {
        throw new BadSettingException("scheduler.cluster.seed-nodes (SCHED_CLUSTER_SEEDS)",
            "'" + seed + "' is not host:port");
      }
      seeds.add(seed);
    }
    int port;
    try {
      port = c.getInt("port");
    } catch (RuntimeException e) {
      throw new BadSettingException("scheduler.cluster.port (SCHED_CLUSTER_PORT)", "not a number");
    }
    if (port < 1 || port > 65535) {
      throw new BadSettingException("scheduler.cluster.port (SCHED_CLUSTER_PORT)", port + " is not a port (1..65535)");
    }
    String lease = c.getString("lease").trim().toLowerCase(Locale.ROOT);
    if (!lease.isEmpty() && !lease.equals("mysql")) {
      throw new BadSettingException("scheduler.cluster.lease (SCHED_CLUSTER_LEASE)",
          "'" + lease + "' is not one of: (empty), mysql");
    }
    String host = c.getString("host").trim();
    if (host.isEmpty()) {
      host = httpHost.equals("0.0.0.0") || httpHost.equals("::") ? localAddress() : httpHost;
    }
    ClusterSettings s = new ClusterSettings(List.copyOf(seeds), host, port, lease);
    if (!s.enabled()) {
      return s;
    }
    if (!store.equals("mysql")) {
      // the queue moves between nodes through the store, and the claims are fenced in it
      throw new BadSettingException("scheduler.store (SCHED_STORE)",
          "cluster mode (SCHED_CLUSTER_SEEDS) needs the mysql store shared by every node, not " + store);
    }
    if (seeds.size() == 2 && lease.isEmpty()) {
      // SBR keep-majority: when two nodes lose sight of each other each side is one of two,
      // neither a majority; the side with the lowest address is kept, so when that is the node
      // that died, the survivor downs itself and the lab has no scheduler at all
      throw new BadSettingException("scheduler.cluster.seed-nodes (SCHED_CLUSTER_SEEDS)",
          "2 nodes need scheduler.cluster.lease = mysql (SCHED_CLUSTER_LEASE): with keep-majority "
              + "neither of two nodes is a majority, so losing the wrong one stops both; use 3 or 5 nodes, or a lease");
    }
    return s;
  }

  private static String localAddress() {
    try {
      return InetAddress.getLocalHost().getHostAddress();
    } catch (UnknownHostException e) {
      return "127.0.0.1";
    }
  }

  /**
   * What cluster mode sets in Pekko on top of application.conf: the provider, this node's
   * Artery address and the seeds. The rest (downing, failure detector, serialization) is in
   * application.conf, where it is documented and inert while the provider is local.
   */
  public Config pekkoConfig(Config root) {
    StringBuilder seedList = new StringBuilder();
    for (String seed : seeds) {
      seedList.append(seedList.length() == 0 ? "" : ", ").append('"').append("pekko://scheduler@").append(seed).append('"');
    }
    StringBuilder conf = new StringBuilder()
        .append("pekko.actor.provider = cluster\n")
        .append("pekko.remote.artery.canonical.hostname = \"").append(host).append("\"\n")
        .append("pekko.remote.artery.canonical.port = ").append(port).append('\n')
        .append("pekko.cluster.seed-nodes = [").append(seedList).append("]\n")
        // a node the others downed has nothing left to serve: it exits, for its supervisor to start again
        .append("pekko.coordinated-shutdown.exit-jvm = on\n");
    if (lease.equals("mysql")) {
      conf.append("pekko.cluster.singleton.use-lease = \"scheduler.cluster.mysql-lease\"\n")
          .append("pekko.cluster.split-brain-resolver.active-strategy = lease-majority\n")
          .append("pekko.cluster.split-brain-resolver.lease-majority.lease-implementation = \"scheduler.cluster.mysql-lease\"\n");
    }
    return ConfigFactory.parseString(conf.toString()).withFallback(root);
  }
}
