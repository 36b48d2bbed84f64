package org.compassci.sched;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.compassci.sched.fixtures.HttpCalls;

/**
 * A scheduler cluster of real jars, each node a process on loopback, all on one MySQL database
 * of their own (dropped at {@link #close}). Nodes are numbered from 0; node 0 is the first seed.
 */
final class ClusterNodes implements AutoCloseable {

  static final String V1 = "/scheduler/v1";

  private final Path dir;
  final String database;
  private final int size;
  private final int[] httpPorts;
  private final int[] clusterPorts;
  private final Process[] processes;
  private final List<String> jvmOptions;

  ClusterNodes(Path dir, String name, int size, String... jvmOptions) throws IOException {
    // logs and data folders of its own: several clusters may share a test's folder
    this.dir = Files.createDirectories(dir.resolve(name));
    this.size = size;
    this.database = "sched_" + name + "_" + Long.toUnsignedString(System.nanoTime(), 36);
    this.httpPorts = new int[size];
    this.clusterPorts = new int[size];
    this.processes = new Process[size];
    this.jvmOptions = List.of(jvmOptions);
    // below the ephemeral range: the later nodes bind theirs only once the first is up
    int[] ports = org.compassci.sched.persistence.ListenPorts.reserve(2 * size);
    for (int i = 0; i < size; i++) {
      httpPorts[i] = ports[2 * i];
      clusterPorts[i] = ports[2 * i + 1];
    }
  }

  String jdbcUrl() {
    return "jdbc:mysql://127.0.0.1:3306/" + database + "?user=root";
  }

  String seeds() {
    List<String> seeds = new ArrayList<>();
    for (int p : clusterPorts) {
      seeds.add("127.0.0.1:" + p);
    }
    return String.join(",", seeds);
  }

  Path log(int node) {
    return dir.resolve("node" + node + ".log");
  }

  private final Map<Integer, HttpCalls> clients = new java.util.concurrent.ConcurrentHashMap<>();

  /** One client per node, shared by the test's threads (each has its own connection pool). */
  HttpCalls http(int node) {
    return clients.computeIfAbsent(node, n -> new HttpCalls("127.0.0.1", httpPorts[n]));
  }

  int size() {
    return size;
  }

  int httpPort(int node) {
    return httpPorts[node];
  }

  Process process(int node) {
    return processes[node];
  }

  boolean alive(int node) {
    return processes[node] != null && processes[node].isAlive();
  }

  /** Starts these nodes, without waiting for them. */
  void launch(int... nodes) throws IOException {
    for (int node : nodes) {
      launch(node, Map.of());
    }
  }

  void launch(int node, Map<String, String> extraEnv) throws IOException {
    String jar = System.getProperty("scheduler.jar", "target/scheduler.jar");
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    // small heaps and one GC thread: three JVMs share a 2-core machine with the test
    cmd.addAll(List.of("-Xmx200m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"));
    cmd.addAll(jvmOptions);
    cmd.addAll(List.of("-jar", jar));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log(node).toFile()));
    pb.environment().keySet().removeIf(k -> k.startsWith("SCHED_"));
    Map<String, String> env = new HashMap<>(Map.of(
        "SCHED_HOST", "127.0.0.1",
        "SCHED_PORT", Integer.toString(httpPorts[node]),
        "SCHED_DATA_DIR", dir.resolve("data" + node).toString(),
        "SCHED_STORE", "mysql",
        "SCHED_JDBC_URL", jdbcUrl(),
        "SCHED_AUTH", "open",
        "SCHED_CLUSTER_SEEDS", seeds(),
        "SCHED_CLUSTER_PORT", Integer.toString(clusterPorts[node])));
    env.putAll(extraEnv);
    pb.environment().putAll(env);
    processes[node] = pb.start();
  }

  /** Starts every node (the first seed first) and waits until all see all members Up with a singleton. */
  void startAll(Duration timeout) throws Exception {
    launch(0);
    assertTrue(http(0).awaitHealthy(Duration.ofSeconds(60)), "node 0 did not start: " + Files.readString(log(0)));
    for (int i = 1; i < size; i++) {
      launch(i);
    }
    long end = System.nanoTime() + timeout.toNanos();
    for (int i = 0; i < size; i++) {
      assertTrue(http(i).awaitHealthy(Duration.ofSeconds(60)), "node " + i + " did not start: " + Files.readString(log(i)));
    }
    while (System.nanoTime() < end) {
      boolean ready = true;
      for (int i = 0; i < size && ready; i++) {
        JsonNode c = cluster(i);
        ready = c != null && c.path("members").size() == size && !c.path("epoch").isNull() && c.has("epoch");
        for (JsonNode m : c == null ? List.<JsonNode>of() : c.path("members")) {
          ready &= m.path("status").asText().equals("Up");
        }
      }
      if (ready) {
        return;
      }
      Thread.sleep(200);
    }
    throw new AssertionError("the cluster did not form: " + Files.readString(log(0)));
  }

  /** manage/cluster of a node, or null when it does not answer. */
  JsonNode cluster(int node) {
    try {
      HttpCalls.Answer a = http(node).get(V1 + "/manage/cluster");
      return a.status() == 200 ? a.json() : null;
    } catch (RuntimeException e) {
      return null;
    }
  }

  /** The node the singletons run on, as an index. */
  int singletonNode(int askedNode) {
    String at = cluster(askedNode).path("singleton").asText();
    for (int i = 0; i < size; i++) {
      if (at.equals("127.0.0.1:" + clusterPorts[i])) {
        return i;
      }
    }
    throw new AssertionError("no node at " + at);
  }

  long epoch(int askedNode) {
    JsonNode c = cluster(askedNode);
    return c == null ? -1 : c.path("epoch").asLong(-1);
  }

  void signal(int node, String signal) throws Exception {
    Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(processes[node].pid())).start();
    assertTrue(kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0, "kill -" + signal);
  }

  /** One value of the store, read straight from MySQL. */
  long count(String sql) throws Exception {
    try (java.sql.Connection c = java.sql.DriverManager.getConnection(jdbcUrl());
        java.sql.Statement st = c.createStatement();
        java.sql.ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  @Override
  public void close() throws Exception {
    for (Process p : processes) {
      if (p != null) {
        p.destroyForcibly();
        p.waitFor(20, TimeUnit.SECONDS);
      }
    }
    try (java.sql.Connection c = java.sql.DriverManager.getConnection("jdbc:mysql://127.0.0.1:3306/?user=root");
        java.sql.Statement st = c.createStatement()) {
      st.execute("DROP DATABASE IF EXISTS " + database);
    }
  }
}
