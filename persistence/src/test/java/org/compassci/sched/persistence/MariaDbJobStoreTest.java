package org.compassci.sched.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The contract on the mysql store against the real MariaDB on 127.0.0.1:3306 (user root, no
 * password), which .ci/run starts. A server that is down fails these tests: a silent skip
 * would let the mysql store break unnoticed.
 */
class MariaDbJobStoreTest extends JobStoreContract {

  private static final String SERVER = "jdbc:mysql://127.0.0.1:3306/";
  private static final String DATABASE =
      "sched_test_" + Long.toUnsignedString(new SecureRandom().nextLong(), 36);

  @BeforeAll
  static void serverIsUp() {
    try (Connection c = admin()) {
      c.isValid(2);
    } catch (SQLException e) {
      fail("MariaDB is not reachable on 127.0.0.1:3306 as root without password;"
          + " start it (.ci/run does) before running the persistence tests: " + e.getMessage());
    }
  }

  /** Each test starts without the database: the store must create it, and its table. */
  @BeforeEach
  void startWithoutTheDatabase() throws SQLException {
    dropDatabase();
  }

  @AfterAll
  static void dropDatabase() throws SQLException {
    try (Connection c = admin(); Statement s = c.createStatement()) {
      s.execute("DROP DATABASE IF EXISTS " + DATABASE);
    }
  }

  private static Connection admin() throws SQLException {
    return DriverManager.getConnection(SERVER + "?user=root&connectTimeout=3000");
  }

  @Override
  protected JobStore open() {
    return JdbcJobStore.mysql(SERVER + DATABASE + "?user=root", 2);
  }

  @Override
  protected Connection connect() throws SQLException {
    return DriverManager.getConnection(SERVER + DATABASE + "?user=root&createDatabaseIfNotExist=true");
  }

  @Override
  protected List<String> previousSchema() {
    return List.of(
        "CREATE TABLE IF NOT EXISTS jobs (id BIGINT NOT NULL PRIMARY KEY,"
            + " stage VARCHAR(32) NOT NULL, health VARCHAR(64) NOT NULL,"
            + " readiness VARCHAR(32) NOT NULL, tenant VARCHAR(255) NOT NULL,"
            + " tbox_group VARCHAR(255) NOT NULL, submit_time BIGINT NOT NULL, doc LONGTEXT NOT NULL,"
            + " KEY jobs_stage (stage, id), KEY jobs_stage_tenant (stage, tenant, id))"
            + " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
  }

  @Override
  protected String expectedKind() {
    return "mysql";
  }

  /**
   * Cluster mode: an epoch request that comes late never takes the epoch from the matcher that
   * replaced its asker. The store locks the epoch row only before its asker's deadline, and only
   * for the newest asker of the process; an attempt whose commit landed though its answer was
   * lost counts as the process's own, so the process does not fence itself when it asks again.
   */
  @Test
  void aLateEpochRequestTakesNothingFromTheSuccessor() throws SQLException {
    try (JobStore node = open(); JobStore successor = open(); JobStore fresh = open()) {
      long first = node.nextEpoch("a:25520", 1).epoch();
      long second = successor.nextEpoch("b:25520", 2).epoch();
      assertEquals(first + 1, second);
      // a process whose matcher asked, then was handed over: its request runs past the deadline
      org.junit.jupiter.api.Assertions.assertThrows(StoreFencedException.class,
          () -> fresh.nextEpoch("c:25520", 3, fresh.epochTicket(), System.nanoTime() - 1));
      assertEquals(second, successor.currentEpoch().orElseThrow().epoch());

      // two requests of one process run out of order: the older asker's is refused
      long older = successor.epochTicket();
      long newer = successor.epochTicket();
      long third = successor.nextEpoch("b:25520", 4, newer, System.nanoTime() + 5_000_000_000L).epoch();
      org.junit.jupiter.api.Assertions.assertThrows(StoreFencedException.class,
          () -> successor.nextEpoch("b:25520", 5, older, System.nanoTime() + 5_000_000_000L));
      assertEquals(third, successor.currentEpoch().orElseThrow().epoch());

      // an attempt whose commit landed and whose answer was lost: here the row is moved as that
      // commit would have moved it, after the attempt itself was refused
      org.junit.jupiter.api.Assertions.assertThrows(StoreFencedException.class,
          () -> successor.nextEpoch("b:25520", 6, successor.epochTicket(), System.nanoTime() - 1));
      try (Connection c = connect(); Statement st = c.createStatement()) {
        st.executeUpdate("UPDATE matcher_epoch SET epoch = epoch + 1, node = 'b:25520', since = 6");
      }
      assertEquals(third + 2, successor.nextEpoch("b:25520", 7).epoch());
      successor.commit(List.of(rec(9, "submit")), List.of(), List.of());
      assertEquals("submit", successor.find(9).orElseThrow().stage());
    }
  }

  /**
   * Cluster mode: once another node's matcher has taken the current epoch, nothing a replaced
   * node commits lands, neither its changes nor its new jobs nor its hand-outs; its successor's
   * do. Before, only the hand-outs were refused, and a replaced node's requeue could put back in
   * the queue a job its successor had just seen running. A matcher restarted on the same node
   * (a newer epoch, same node) has its earlier incarnation's hand-outs refused, and the writes
   * beside them still land.
   */
  @Test
  void aReplacedNodesWritesAreRefusedByEpochWholeAndItsSuccessorsLand() {
    try (JobStore node = open(); JobStore successor = open()) {
      // before any epoch, as a standalone process: not fenced
      node.commit(List.of(rec(1, "submit"), rec(2, "dispatch"), rec(3, "submit")), List.of(), List.of());
      long first = node.nextEpoch("a:25520", 1).epoch();
      node.commit(List.of(), List.of(rec(2, "running")), List.of());
      long second = node.nextEpoch("a:25520", 2).epoch();
      org.junit.jupiter.api.Assertions.assertThrows(ClaimsFailedException.class, () -> node.commit(
          List.of(rec(5, "submit")), List.of(), List.of(new Claim(3, "vm-2p8g--early", "t", 4, first))));
      assertEquals("submit", successor.find(5).orElseThrow().stage(), "the restarted matcher's node still writes");
      assertEquals(1, node.fencedClaims());

      assertEquals(second + 1, successor.nextEpoch("b:25520", 3).epoch());
      StoreFencedException changes = org.junit.jupiter.api.Assertions.assertThrows(StoreFencedException.class,
          () -> node.commit(List.of(rec(4, "submit")), List.of(rec(2, "submit")), List.of()));
      org.junit.jupiter.api.Assertions.assertTrue(changes.getMessage().contains("job writes refused by epoch"),
          changes.getMessage());
      Claim late = new Claim(3, "vm-2p8g--late", "t", 5, second);
      org.junit.jupiter.api.Assertions.assertThrows(StoreFencedException.class,
          () -> node.commit(List.of(), List.of(rec(1, "finish")), List.of(late)));
      assertEquals("running", successor.find(2).orElseThrow().stage());
      assertEquals("submit", successor.find(1).orElseThrow().stage());
      assertEquals("", successor.find(3).orElseThrow().host());
      assertEquals(java.util.Optional.empty(), successor.find(4));
      assertEquals(2, node.fencedClaims());

      successor.commit(List.of(rec(4, "submit")), List.of(rec(2, "finish")),
          List.of(new Claim(3, "vm-2p8g--new", "t", 6, second + 1)));
      assertEquals("finish", successor.find(2).orElseThrow().stage());
      assertEquals("vm-2p8g--new", successor.find(3).orElseThrow().host());
      assertEquals("submit", successor.find(4).orElseThrow().stage());

      // its matcher restarted by its supervisor while it is cut off takes no epoch from the successor
      org.junit.jupiter.api.Assertions.assertThrows(StoreFencedException.class, () -> node.nextEpoch("a:25520", 6));
      assertEquals(second + 1, successor.currentEpoch().orElseThrow().epoch());

      // a new process under the first one's name (a stable hostname): the first one, cut off,
      // is still refused
      try (JobStore sameName = open()) {
        sameName.nextEpoch("a:25520", 7);
        org.junit.jupiter.api.Assertions.assertThrows(StoreFencedException.class,
            () -> node.commit(List.of(), List.of(rec(4, "finish")), List.of()));
        sameName.commit(List.of(), List.of(rec(4, "running")), List.of());
        assertEquals("running", successor.find(4).orElseThrow().stage());
      }
    }
  }

  @Test
  void theTableHasTheIndexesTheQueriesUse() throws SQLException {
    try (JobStore store = open()) {
      store.ping();
    }
    assertEquals(EXPECTED_INDEXES, indexes());
  }

  /**
   * A row larger than the server takes in one packet (max_allowed_packet, 16 MB here) is refused
   * for good, like a value too long: no retry will make it fit.
   */
  @Test
  void aRowOverThePacketLimitIsRefusedAsSuch() throws SQLException {
    long limit;
    try (Connection c = admin(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT @@max_allowed_packet")) {
      rs.next();
      limit = rs.getLong(1);
    }
    org.junit.jupiter.api.Assumptions.assumeTrue(limit < 200L << 20, "max_allowed_packet " + limit);
    String big = "{\"pad\":\"" + "x".repeat((int) limit + 1024) + "\"}";
    try (JobStore store = open()) {
      JobRecord tooBig = new JobRecord(1, "submit", "unknown", "N/A", "alice", "vm-2p8g", 1, big);
      org.junit.jupiter.api.Assertions.assertThrows(StoreRefusedException.class, () -> store.upsert(List.of(tooBig)));
      store.ping();
    }
  }

  private static final Set<String> EXPECTED_INDEXES = Set.of("PRIMARY(id)", "jobs_stage(stage,id)",
      "jobs_stage_tenant(stage,tenant,id)", "jobs_settling(stage,readiness,id)");

  /** A table an older scheduler made gains the newer index at the next start, and once only. */
  @Test
  void aTableOfThePreviousSchemaGainsTheSettlingIndex() throws SQLException {
    try (Connection c = connect(); Statement s = c.createStatement()) {
      for (String ddl : previousSchema()) {
        s.execute(ddl);
      }
    }
    List<String> logged;
    try (LogLines lines = LogLines.of(JdbcJobStore.class)) {
      for (int start = 0; start < 2; start++) {
        try (JobStore store = open()) {
          store.ping();
        }
        assertEquals(EXPECTED_INDEXES, indexes());
      }
      logged = lines.messages();
    }
    assertEquals(1, logged.stream().filter(m -> m.startsWith("adding index jobs_settling"))
        .count(), "added at the first start only: " + logged);
  }

  private static Set<String> indexes() throws SQLException {
    List<String> indexes = new ArrayList<>();
    try (Connection c = admin(); PreparedStatement ps = c.prepareStatement(
        "SELECT index_name, GROUP_CONCAT(column_name ORDER BY seq_in_index) FROM information_schema.statistics"
            + " WHERE table_schema = ? AND table_name = 'jobs' GROUP BY index_name")) {
      ps.setString(1, DATABASE);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          indexes.add(rs.getString(1) + "(" + rs.getString(2) + ")");
        }
      }
    }
    return Set.copyOf(indexes);
  }
}
