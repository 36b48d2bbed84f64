package org.compassci.sched.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

/**
 * What every {@link JobStore} must do, whatever holds the jobs. A subclass says how to open its
 * store; each test starts from an empty store, and every {@link #open()} within one test sees
 * the same data.
 */
abstract class JobStoreContract {

  /** Opens the store under test; the caller closes it. */
  protected abstract JobStore open();

  /** The name {@link JobStore#kind()} must answer. */
  protected abstract String expectedKind();

  /** A plain JDBC connection to where {@link #open()} keeps its table; the caller closes it. */
  protected abstract Connection connect() throws SQLException;

  /** The statements that made the jobs table before it had the hand-out columns, verbatim. */
  protected abstract List<String> previousSchema();

  /** Whether a failed batch is rolled back whole (a store without transactions may not). */
  protected boolean transactional() {
    return true;
  }

  /**
   * Reads hold every connection of the store's pool: a group commit, made inside
   * {@link JobStore#committing}, goes in at once on connections of its own. It used to wait the
   * pool's 5 s for one and fail, and with it every hand-out of the batch.
   */
  @Test
  void aCommitNeedsNoConnectionTheReadsHold() throws SQLException {
    try (JobStore store = open()) {
      assumeTrue(store instanceof JdbcJobStore, "a store with a pool");
      JdbcJobStore jdbc = (JdbcJobStore) store;
      List<Connection> held = new ArrayList<>();
      try {
        for (int i = 0; i < jdbc.readConnections(); i++) {
          held.add(jdbc.readConnection());
        }
        store.committing(() -> store.commit(List.of(rec(1, "submit")), List.of(), List.of()));
        store.committing(() -> {
          store.sync();
          return null;
        });
      } finally {
        for (Connection c : held) {
          c.close();
        }
      }
      assertEquals(List.of(1L), ids(store.findByStage(List.of("submit"), Long.MIN_VALUE, 10)));
    }
  }

  /** The highest id of one worker at or above a given one, whatever its stage: a matcher's start reads it. */
  @Test
  void theHighestIdOfAWorkerIsFoundAmongTheHighest() {
    try (JobStore store = open()) {
      store.upsert(List.of(rec(26120100000000101L, "submit"), rec(26120100000000201L, "cancel"),
          rec(26120100000000302L, "dispatch"), rec(26110100000000901L, "finish")));
      assertEquals(java.util.OptionalLong.of(26120100000000201L), store.highestIdFrom(26120100000000000L, 1, 1000));
      assertEquals(java.util.OptionalLong.of(26120100000000302L), store.highestIdFrom(26120100000000000L, 2, 1000));
      assertEquals(java.util.OptionalLong.empty(), store.highestIdFrom(26120100000000000L, 3, 1000));
      // below the id asked from: not read
      assertEquals(java.util.OptionalLong.empty(), store.highestIdFrom(26120100000000301L, 1, 1000));
      // only the highest ids are read: a worker's below them is not found
      assertEquals(java.util.OptionalLong.empty(), store.highestIdFrom(26120100000000000L, 1, 1));
    }
  }

  static JobRecord rec(long id, String stage) {
    return rec(id, stage, "alice");
  }

  static JobRecord rec(long id, String stage, String tenant) {
    return new JobRecord(id, stage, "unknown", "N/A", tenant, "vm-2p8g", 1000 + id,
        "{\"id\":\"" + id + "\",\"suite\":\"hackbench\",\"my_account\":\"" + tenant + "\"}");
  }

  private static JobRecord distinctWords(long id) {
    return new JobRecord(id, new String("submit"), new String("unknown"), new String("N/A"), new String("carol"),
        new String("vm-2p8g"), 1000 + id, "{\"id\":\"" + id + "\",\"suite\":\"hackbench\"}");
  }

  /** {@code r} as a claim leaves it. */
  static JobRecord claimed(JobRecord r, Claim c) {
    return new JobRecord(r.id(), "dispatch", r.health(), r.readiness(), r.tenant(), r.tboxGroup(),
        r.submitTimeMillis(), r.document(), c.host(), c.tokenHash(), c.timeMillis());
  }

  private static List<Long> ids(List<JobRecord> records) {
    return records.stream().map(JobRecord::id).collect(Collectors.toList());
  }

  @Test
  void answersItsKind() {
    try (JobStore store = open()) {
      assertEquals(expectedKind(), store.kind());
    }
  }

  /** The record of a job handed out is kept until its box reports: equal words are kept once. */
  @Test
  void recordsReadShareOneCopyOfEachShortAttribute() {
    try (JobStore store = open()) {
      // equal values in distinct objects, as they come from two requests (H2 keeps what it was given)
      store.upsert(List.of(distinctWords(1), distinctWords(2)));
      JobRecord one = store.find(1).orElseThrow();
      JobRecord two = store.find(2).orElseThrow();
      assertSame(one.tenant(), two.tenant());
      assertSame(one.tboxGroup(), two.tboxGroup());
      assertSame(one.stage(), two.stage());
      assertSame(one.health(), two.health());
    }
  }

  @Test
  void upsertThenFindReplacesTheWholeRecord() {
    try (JobStore store = open()) {
      store.upsert(List.of(rec(1, "submit")));
      JobRecord changed = new JobRecord(1, "dispatch", "success", "uploaded", "bob", "dc-8g", 5,
          "{\"id\":\"1\",\"suite\":\"ltp\"}");
      store.upsert(List.of(changed));
      assertEquals(changed, store.find(1).orElseThrow());
      assertTrue(store.find(2).isEmpty());
    }
  }

  @Test
  void documentsComeBackAsStored() {
    // text beyond the basic plane (utf8mb4 in MySQL) and a document far over a page
    String big = "x".repeat(200_000);
    JobRecord job = new JobRecord(42, "submit", "unknown", "N/A", "用户😀", "taishan200", 7,
        "{\"id\":\"42\",\"note\":\"中文 😀 \\\"quoted\\\" back\\\\slash\",\"pad\":\"" + big + "\"}");
    try (JobStore store = open()) {
      store.upsert(List.of(job));
      assertEquals(job, store.find(42).orElseThrow());
    }
  }

  @Test
  void aClaimHandsOutAQueuedJobAndLeavesItsDocument() {
    try (JobStore store = open()) {
      store.upsert(List.of(rec(1, "submit"), rec(2, "submit")));
      Claim claim = new Claim(1, "taishan200-2280-2s48p-256g--a1", "9f86d081884c7d65", 1_700_000_000_123L);
      JobRecord expected = claimed(rec(1, "submit"), claim);
      assertEquals(List.of(expected), store.claim(List.of(claim)));
      assertEquals(expected, store.find(1).orElseThrow());
      assertEquals(rec(2, "submit"), store.find(2).orElseThrow());
      assertTrue(store.claim(List.of()).isEmpty());
    }
  }

  @Test
  void aJobIsHandedOutOnlyOnce() {
    try (JobStore store = open()) {
      store.upsert(List.of(rec(1, "submit")));
      Claim first = new Claim(1, "host-a", "aaaa", 10);
      store.claim(List.of(first));
      // another scheduler, late: its claim takes nothing and changes nothing
      assertTrue(store.claim(List.of(new Claim(1, "host-b", "bbbb", 20))).isEmpty());
      assertEquals(claimed(rec(1, "submit"), first), store.find(1).orElseThrow());
    }
  }

  /**
   * A hand-out is seen by every read (by id, by stage, in counts), a later write of the job
   * replaces it, and a job written back to submit can be handed out again.
   */
  @Test
  void aHandOutIsSeenByEveryReadAndAWriteOfTheJobSupersedesIt() {
    try (JobStore store = open()) {
      store.upsert(List.of(rec(1, "submit", "alice"), rec(2, "submit", "alice")));
      Claim first = new Claim(1, "host-a", "aaaa", 10);
      store.claim(List.of(first));
      assertEquals(List.of(claimed(rec(1, "submit", "alice"), first)),
          store.findByStage(List.of("dispatch"), Long.MIN_VALUE, 10));
      assertEquals(List.of(rec(2, "submit", "alice")), store.findByStage(List.of("submit"), Long.MIN_VALUE, 10));
      assertEquals(Map.of("alice", 1L), store.countByTenant("submit"));
      assertEquals(List.of(rec(2, "submit", "alice")), store.findByStageAndTenant("submit", "alice", Long.MIN_VALUE, 10));

      // the box reports: the job's own row now says everything
      JobRecord booted = new JobRecord(1, "boot", "unknown", "N/A", "alice", "vm-2p8g", 1L, "{}", "host-a", "aaaa", 10);
      store.upsert(List.of(booted));
      assertEquals(booted, store.find(1).orElseThrow());

      // lost and requeued: back in submit with no hand-out, and it can go out again
      store.upsert(List.of(rec(1, "submit", "alice")));
      assertEquals(rec(1, "submit", "alice"), store.find(1).orElseThrow());
      Claim second = new Claim(1, "host-b", "bbbb", 20);
      assertEquals(List.of(claimed(rec(1, "submit", "alice"), second)), store.claim(List.of(second)));
      assertEquals(claimed(rec(1, "submit", "alice"), second), store.find(1).orElseThrow());
    }
  }

  @Test
  void onlyQueuedJobsCanBeClaimed() {
    try (JobStore store = open()) {
      store.upsert(List.of(rec(1, "running"), rec(2, "dispatch"), rec(3, "finish")));
      assertTrue(store.claim(List.of(new Claim(1, "h", "t", 5), new Claim(2, "h", "t", 5),
          new Claim(3, "h", "t", 5), new Claim(99, "h", "t", 5))).isEmpty());
      assertEquals(rec(1, "running"), store.find(1).orElseThrow());
      assertEquals(rec(2, "dispatch"), store.find(2).orElseThrow());
      assertEquals(rec(3, "finish"), store.find(3).orElseThrow());
      assertTrue(store.find(99).isEmpty());
    }
  }

  @Test
  void aBatchOfClaimsTakesTheQueuedJobsAndRefusesTheRest() {
    try (JobStore store = open()) {
      store.upsert(List.of(rec(1, "submit"), rec(2, "submit"), rec(3, "running"), rec(4, "submit"),
          rec(5, "submit"), rec(6, "submit", "bob")));
      List<Claim> claims = List.of(new Claim(1, "h1", "t1", 100), new Claim(2, "h2", "t2", 101),
          new Claim(3, "h3", "t3", 102), new Claim(99, "h9", "t9", 103),
          new Claim(5, "h5", "t5", 104), new Claim(1, "h1-late", "t1-late", 105),
          new Claim(6, "h6", "t6", 106));
      List<JobRecord> got = new ArrayList<>(store.claim(claims));
      got.sort(java.util.Comparator.comparingLong(JobRecord::id));
      List<JobRecord> expected = List.of(claimed(rec(1, "submit"), claims.get(0)),
          claimed(rec(2, "submit"), claims.get(1)), claimed(rec(5, "submit"), claims.get(4)),
          claimed(rec(6, "submit", "bob"), claims.get(6)));
      assertEquals(expected, got);
      assertEquals(expected, store.findByStage(List.of("dispatch"), Long.MIN_VALUE, 10));
      assertEquals(List.of(rec(4, "submit")), store.findByStage(List.of("submit"), Long.MIN_VALUE, 10));
      assertEquals(rec(3, "running"), store.find(3).orElseThrow());
    }
  }

  @Test
  void aLargeBatchOfClaimsIsCountedClaimByClaim() {
    try (JobStore store = open()) {
      List<JobRecord> jobs = new ArrayList<>();
      for (long id = 1; id <= 1000; id++) {
        jobs.add(rec(id, id % 4 == 0 ? "running" : "submit"));
      }
      store.upsert(jobs);
      List<Claim> claims = new ArrayList<>();
      for (long id = 1; id <= 1000; id++) {
        claims.add(new Claim(id, "h" + id, "t" + id, id));
      }
      Collections.shuffle(claims, new Random(3));
      List<JobRecord> got = store.claim(claims);
      assertEquals(750, got.size());
      for (JobRecord r : got) {
        assertEquals(claimed(rec(r.id(), "submit"), new Claim(r.id(), "h" + r.id(), "t" + r.id(), r.id())), r);
      }
      assertEquals(250, store.findByStage(List.of("running"), Long.MIN_VALUE, 1000).size());
    }
  }

  @Test
  void theHandOutAttributesRoundTrip() {
    JobRecord handedOut = new JobRecord(8, "dispatch", "unknown", "N/A", "alice", "vm-2p8g", 9,
        "{\"id\":\"8\"}", "vm-2p8g--用户-1", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        Long.MAX_VALUE - 1);
    try (JobStore store = open()) {
      store.upsert(List.of(handedOut));
      assertEquals(handedOut, store.find(8).orElseThrow());
      assertEquals(List.of(handedOut), store.findByIds(List.of(8L)));
      assertEquals(List.of(handedOut), store.findByStageAndTenant("dispatch", "alice", 0, 10));
      // requeued: an upsert writes the attributes back to none
      store.upsert(List.of(rec(8, "submit")));
      assertEquals(rec(8, "submit"), store.find(8).orElseThrow());
    }
  }

  /** {@code job} in a jobs table made as the previous schema made it, before the store opens. */
  private void writeUnderPreviousSchema(JobRecord job) throws SQLException {
    try (Connection c = connect()) {
      try (Statement s = c.createStatement()) {
        for (String ddl : previousSchema()) {
          s.execute(ddl);
        }
      }
      try (PreparedStatement ps = c.prepareStatement("INSERT INTO jobs (id, stage, health, readiness,"
          + " tenant, tbox_group, submit_time, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
        ps.setLong(1, job.id());
        ps.setString(2, job.stage());
        ps.setString(3, job.health());
        ps.setString(4, job.readiness());
        ps.setString(5, job.tenant());
        ps.setString(6, job.tboxGroup());
        ps.setLong(7, job.submitTimeMillis());
        ps.setString(8, job.document());
        ps.executeUpdate();
      }
    }
  }

  @Test
  void aTableOfThePreviousSchemaGainsTheHandOutColumns() throws SQLException {
    JobRecord old = rec(1, "submit");
    writeUnderPreviousSchema(old);
    Claim claim = new Claim(1, "h", "t", 77);
    try (JobStore store = open()) {
      JobRecord read = store.find(1).orElseThrow();
      assertEquals("", read.host());
      assertEquals("", read.tokenHash());
      assertEquals(0L, read.dispatchTimeMillis());
      assertEquals(old, read);
      assertEquals(List.of(claimed(old, claim)), store.claim(List.of(claim)));
    }
    // the next start finds the columns there
    try (JobStore store = open()) {
      assertEquals(claimed(old, claim), store.find(1).orElseThrow());
    }
  }

  @Test
  void findByIdsReturnsThoseThatExist() {
    try (JobStore store = open()) {
      store.upsert(List.of(rec(1, "submit"), rec(2, "submit"), rec(3, "running")));
      assertEquals(Set.of(1L, 3L), Set.copyOf(ids(store.findByIds(List.of(1L, 3L, 99L)))));
      assertTrue(store.findByIds(List.of()).isEmpty());
    }
  }

  /**
   * A statement by ids is made for the next power of two of them, the last id repeated (so
   * that the database parses one text per size class): every job still comes back once.
   */
  @Test
  void jobsReadByIdsInEveryNumberComeBackOnceEach() {
    try (JobStore store = open()) {
      List<JobRecord> all = new ArrayList<>();
      for (long id = 1; id <= 40; id++) {
        all.add(rec(id, "submit"));
      }
      store.upsert(all);
      for (int n = 1; n <= 40; n++) {
        List<Long> wanted = LongStream.rangeClosed(1, n).boxed().collect(Collectors.toList());
        Collections.reverse(wanted);
        List<Long> read = ids(store.findByIds(wanted));
        assertEquals(n, read.size(), "read " + read + " for " + n + " ids");
        assertEquals(Set.copyOf(wanted), Set.copyOf(read));
        // writes look up which of their jobs exist by ids too
        List<JobRecord> changed = all.subList(0, n).stream().map(r -> rec(r.id(), "running")).toList();
        store.upsert(changed);
        assertEquals(n, store.findByStage(List.of("running"), 0, 100).size());
        store.upsert(all.subList(0, n));
      }
    }
  }

  @Test
  void aLargeBatchIsStoredAndReadBackWhole() {
    // more than the 1000 rows some servers answer by default, in one durable step
    List<JobRecord> batch = new ArrayList<>();
    for (long id = 1; id <= 5000; id++) {
      batch.add(rec(id, "submit", "t" + (id % 7)));
    }
    Collections.shuffle(batch, new Random(1));
    try (JobStore store = open()) {
      store.upsert(batch);
      List<Long> wanted = LongStream.rangeClosed(1001, 3500).boxed().collect(Collectors.toList());
      assertEquals(Set.copyOf(wanted), Set.copyOf(ids(store.findByIds(wanted))));
      List<JobRecord> page = store.findByStage(List.of("submit"), 0, 4000);
      assertEquals(LongStream.rangeClosed(1, 4000).boxed().collect(Collectors.toList()), ids(page));
      assertEquals(5000L, store.countByTenant("submit").values().stream().mapToLong(Long::longValue).sum());
    }
  }

  /**
   * The load of active jobs at a start: a job written in an active stage before the store had
   * its newer tables (kept as written), a hand-out, jobs written on through their stages, and
   * ones that ended or wait in the queue, read in id order page by page.
   */
  @Test
  void theActiveStagesAreFoundWhereverTheirJobsAreKept() throws SQLException {
    JobRecord legacy = rec(2, "running");
    writeUnderPreviousSchema(legacy);
    try (JobStore store = open()) {
      List<JobRecord> jobs = new ArrayList<>();
      for (long id = 3; id <= 12; id++) {
        jobs.add(rec(id, "submit"));
      }
      store.upsert(jobs);
      Claim claim = new Claim(4, "h4", "t4", 40);
      store.claim(List.of(claim));
      JobRecord booted = rec(6, "boot");
      JobRecord running = rec(9, "running");
      store.upsert(List.of(booted, running, rec(7, "finish"), rec(11, "boot")));
      store.upsert(List.of(rec(11, "cancel")));
      List<String> active = List.of("dispatch", "boot", "running", "post_run", "manual_check", "renew");
      List<JobRecord> expected = List.of(legacy, claimed(rec(4, "submit"), claim), booted, running);
      assertEquals(expected, store.findByStage(active, Long.MIN_VALUE, 10));
      List<JobRecord> first = store.findByStage(active, Long.MIN_VALUE, 2);
      List<JobRecord> next = store.findByStage(active, first.get(1).id(), 2);
      assertEquals(List.of(2L, 4L), ids(first));
      assertEquals(List.of(6L, 9L), ids(next));
      assertTrue(store.findByStage(active, 9, 2).isEmpty());
      assertEquals(List.of(booted), store.findByStage(List.of("boot"), Long.MIN_VALUE, 10));
      assertEquals(List.of(7L, 11L), ids(store.findByStage(List.of("finish", "cancel"), Long.MIN_VALUE, 10)));
      assertEquals(List.of(3L, 5L, 8L, 10L, 12L), ids(store.findByStage(List.of("submit"), Long.MIN_VALUE, 10)));
    }
  }

  static JobRecord ended(long id, String stage, String readiness) {
    return new JobRecord(id, stage, "success", readiness, "alice", "vm-2p8g", 1000 + id,
        "{\"id\":\"" + id + "\",\"job_stage\":\"" + stage + "\"}", "host-" + id, "t" + id, 10 + id);
  }

  /**
   * What a restart takes up again besides the active jobs: the ones that ended while their data
   * was on its way (readiness N/A, uploading, uploaded), page by page in id order; not those
   * settled, queued or still running, and not one whose data settled later.
   */
  @Test
  void theEndedJobsWhoseDataHasNotSettledAreFoundAndOnlyThose() {
    List<String> ended = List.of("finish", "cancel", "abort_invalid", "abort_wait", "abort_provider");
    List<String> unsettled = List.of("N/A", "uploading", "uploaded");
    try (JobStore store = open()) {
      List<JobRecord> queued = new ArrayList<>();
      for (long id = 1; id <= 9; id++) {
        queued.add(rec(id, "submit"));
      }
      store.insert(queued);
      for (long id = 1; id <= 8; id++) {
        store.claim(List.of(new Claim(id, "host-" + id, "t" + id, 10 + id)));
      }
      store.upsert(List.of(ended(1, "running", "N/A"), ended(3, "running", "N/A"), ended(7, "running", "N/A")));
      store.upsert(List.of(ended(1, "finish", "uploaded"), ended(2, "finish", "complete"), ended(3, "finish", "N/A"),
          ended(4, "running", "N/A"), ended(5, "cancel", "norun"), ended(6, "finish", "uploading"),
          ended(7, "finish", "uploaded"), ended(8, "abort_provider", "norun")));
      store.upsert(List.of(ended(7, "finish", "complete")));
      List<JobRecord> settling = List.of(ended(1, "finish", "uploaded"), ended(3, "finish", "N/A"),
          ended(6, "finish", "uploading"));
      assertEquals(settling, store.findSettling(ended, unsettled, Long.MIN_VALUE, 10));
      assertEquals(settling.subList(0, 2), store.findSettling(ended, unsettled, Long.MIN_VALUE, 2));
      assertEquals(settling.subList(2, 3), store.findSettling(ended, unsettled, 3, 2));
      assertEquals(List.of(ended(7, "finish", "complete")), store.findByIds(List.of(7L)));
    }
    try (JobStore store = open()) {
      store.upsert(List.of(ended(1, "finish", "complete")));
      assertEquals(List.of(3L, 6L), ids(store.findSettling(ended, unsettled, Long.MIN_VALUE, 10)));
      assertEquals(ended(1, "finish", "complete"), store.find(1).orElseThrow());
      assertEquals(List.of(1L, 2L, 3L, 6L, 7L), ids(store.findByStage(List.of("finish"), Long.MIN_VALUE, 10)));
    }
  }

  /**
   * A value the store cannot hold is refused, not "unavailable": the same write would fail again
   * however often it is sent (the persistence actor drops such a state instead of replaying it
   * for good). Nothing of the batch is stored.
   */
  @Test
  void aValueTheStoreCannotHoldIsRefusedAsSuch() {
    try (JobStore store = open()) {
      JobRecord tooLong = new JobRecord(2, "submit", "unknown", "N/A", "t".repeat(300), "vm-2p8g", 2, "{}");
      assertThrows(StoreRefusedException.class, () -> store.upsert(List.of(rec(1, "submit"), tooLong)));
      assertTrue(store.find(1).isEmpty());
    }
  }

  @Test
  void findByStagePagesInIdOrder() {
    try (JobStore store = open()) {
      List<JobRecord> batch = new ArrayList<>();
      for (long id = 1; id <= 25; id++) {
        batch.add(rec(id, id % 5 == 0 ? "running" : "submit"));
      }
      Collections.reverse(batch);
      store.upsert(batch);
      List<JobRecord> first = store.findByStage(List.of("submit"), Long.MIN_VALUE, 10);
      List<JobRecord> next = store.findByStage(List.of("submit"), first.get(9).id(), 10);
      assertEquals(List.of(1L, 2L, 3L, 4L, 6L, 7L, 8L, 9L, 11L, 12L), ids(first));
      assertEquals(List.of(13L, 14L, 16L, 17L, 18L, 19L, 21L, 22L, 23L, 24L), ids(next));
      assertTrue(store.findByStage(List.of("submit"), 24, 10).isEmpty());
      assertEquals(5, store.findByStage(List.of("running"), Long.MIN_VALUE, 100).size());
      assertEquals(25, store.findByStage(List.of("submit", "running"), Long.MIN_VALUE, 100).size());
      assertTrue(store.findByStage(List.of(), Long.MIN_VALUE, 100).isEmpty());
    }
  }

  @Test
  void countByTenantCountsOneStage() {
    try (JobStore store = open()) {
      store.upsert(List.of(rec(1, "submit", "alice"), rec(2, "submit", "alice"),
          rec(3, "submit", "bob"), rec(4, "running", "bob"), rec(5, "running", "carol"),
          rec(6, "submit", "Alice")));
      assertEquals(Map.of("alice", 2L, "bob", 1L, "Alice", 1L), store.countByTenant("submit"));
      assertEquals(Map.of("bob", 1L, "carol", 1L), store.countByTenant("running"));
      assertTrue(store.countByTenant("finish").isEmpty());
      store.upsert(List.of(rec(1, "dispatch", "alice")));
      assertEquals(1L, store.countByTenant("submit").get("alice"));
    }
  }

  @Test
  void findByStageAndTenantPagesOneTenantInIdOrder() {
    try (JobStore store = open()) {
      List<JobRecord> batch = new ArrayList<>();
      for (long id = 1; id <= 30; id++) {
        String tenant = id % 3 == 0 ? "bob" : "alice";
        batch.add(rec(id, id % 10 == 1 ? "running" : "submit", tenant));
      }
      batch.add(rec(31, "submit", "Alice"));
      Collections.shuffle(batch, new Random(2));
      store.upsert(batch);
      List<JobRecord> first = store.findByStageAndTenant("submit", "alice", Long.MIN_VALUE, 5);
      assertEquals(List.of(2L, 4L, 5L, 7L, 8L), ids(first));
      List<JobRecord> next = store.findByStageAndTenant("submit", "alice", 8, 100);
      assertEquals(List.of(10L, 13L, 14L, 16L, 17L, 19L, 20L, 22L, 23L, 25L, 26L, 28L, 29L), ids(next));
      assertEquals(List.of(31L), ids(store.findByStageAndTenant("submit", "Alice", 0, 10)));
      assertEquals(List.of(21L), ids(store.findByStageAndTenant("running", "bob", 0, 10)));
      assertTrue(store.findByStageAndTenant("submit", "nobody", 0, 10).isEmpty());
    }
  }

  @Test
  void insertNeverReplacesAStoredJob() {
    assumeTrue(transactional(), "this store has no transactions");
    try (JobStore store = open()) {
      store.insert(List.of(rec(5, "running")));
      assertThrows(StoreUnavailableException.class,
          () -> store.insert(List.of(rec(6, "submit"), rec(5, "submit"))));
      assertEquals("running", store.find(5).orElseThrow().stage(), "the stored job is untouched");
      assertTrue(store.find(6).isEmpty(), "all or none");
      store.insert(List.of(rec(6, "submit")));
      assertEquals("submit", store.find(6).orElseThrow().stage());
    }
  }

  @Test
  void aGroupCommitStoresItsInsertsChangesAndHandOutsTogetherOrNotAtAll() {
    assumeTrue(transactional(), "this store has no transactions");
    try (JobStore store = open()) {
      store.insert(List.of(rec(1, "submit"), rec(2, "submit")));
      Claim good = new Claim(1, "h1", "hash", 5);
      // a host longer than its column: the hand-out fails after the writes ran
      Claim bad = new Claim(2, "h".repeat(300), "hash", 5);
      assertThrows(StoreUnavailableException.class,
          () -> store.commit(List.of(rec(3, "submit")), List.of(rec(1, "running")), List.of(good, bad)));
      assertTrue(store.find(3).isEmpty(), "the insert went with the failed claim");
      assertEquals("submit", store.find(1).orElseThrow().stage(), "so did the change");
      assertEquals("submit", store.find(2).orElseThrow().stage());
      List<JobRecord> taken = store.commit(List.of(rec(3, "submit")), List.of(rec(2, "running")),
          List.of(good));
      assertEquals(List.of(1L), ids(taken));
      assertEquals("dispatch", store.find(1).orElseThrow().stage());
      assertEquals("running", store.find(2).orElseThrow().stage());
      assertTrue(store.find(3).isPresent());
    }
  }

  @Test
  void aFailedBatchStoresNothingOfIt() {
    assumeTrue(transactional(), "this store has no transactions");
    try (JobStore store = open()) {
      store.upsert(List.of(rec(2, "submit")));
      JobRecord broken = new JobRecord(3, null, "unknown", "N/A", "t", "g", 0, "{}");
      assertThrows(StoreUnavailableException.class,
          () -> store.upsert(List.of(rec(1, "submit"), rec(2, "running"), broken)));
      assertTrue(store.find(1).isEmpty());
      assertEquals("submit", store.find(2).orElseThrow().stage());
      assertTrue(store.find(3).isEmpty());
      // the store is still usable after the failure
      store.upsert(List.of(rec(1, "submit")));
      assertTrue(store.find(1).isPresent());
    }
  }

  @Test
  void pingAnswersWhileOpenAndFailsOnceClosed() {
    JobStore store = open();
    store.ping();
    store.close();
    assertThrows(StoreUnavailableException.class, store::ping);
  }

  /**
   * A job's way through its stages after the hand-out: each write is what every read sees (by
   * id, by stage, per tenant), of two writes in one commit the later counts, the end is
   * what survives a reopening, and a job sent back to the queue can be handed out again.
   */
  @Test
  void aJobInFlightReadsAsLastWrittenThroughItsEndAndAfterReopening() {
    Claim claim = new Claim(1, "host-a", "aaaa", 10);
    JobRecord booted = new JobRecord(1, "boot", "unknown", "N/A", "alice", "vm-2p8g", 1001L,
        "{\"id\":\"1\",\"job_stage\":\"boot\"}", "host-a", "aaaa", 10);
    JobRecord running = new JobRecord(1, "running", "unknown", "N/A", "alice", "vm-2p8g", 1001L,
        "{\"id\":\"1\",\"job_stage\":\"running\"}", "host-a", "aaaa", 10);
    JobRecord finished = new JobRecord(1, "finish", "success", "complete", "alice", "vm-2p8g", 1001L,
        "{\"id\":\"1\",\"job_stage\":\"finish\"}", "host-a", "aaaa", 10);
    try (JobStore store = open()) {
      store.insert(List.of(rec(1, "submit"), rec(2, "submit")));
      store.claim(List.of(claim));
      store.upsert(List.of(booted));
      assertEquals(booted, store.find(1).orElseThrow());
      assertEquals(List.of(booted), store.findByStage(List.of("boot", "running"), Long.MIN_VALUE, 10));
      assertEquals(List.of(booted), store.findByStageAndTenant("boot", "alice", Long.MIN_VALUE, 10));
      assertEquals(Map.of("alice", 1L), store.countByTenant("submit"));
      // two writes of the job in one commit: the later one is the job
      store.commit(List.of(), List.of(running, booted, running), List.of());
      assertEquals(running, store.find(1).orElseThrow());
      assertEquals(List.of(), store.findByStage(List.of("boot"), Long.MIN_VALUE, 10));
      store.commit(List.of(), List.of(finished), List.of());
      assertEquals(List.of(finished, rec(2, "submit")), store.findByIds(List.of(1L, 2L)).stream()
          .sorted(java.util.Comparator.comparingLong(JobRecord::id)).toList());
    }
    try (JobStore store = open()) {
      assertEquals(finished, store.find(1).orElseThrow());
      assertEquals(List.of(finished), store.findByStage(List.of("finish"), Long.MIN_VALUE, 10));
      // written in flight, then back to the queue: handed out again from there
      store.claim(List.of(new Claim(2, "host-b", "bbbb", 20)));
      JobRecord boot2 = new JobRecord(2, "boot", "unknown", "N/A", "alice", "vm-2p8g", 1002L, "{}",
          "host-b", "bbbb", 20);
      store.upsert(List.of(boot2));
      assertEquals(boot2, store.find(2).orElseThrow());
      store.upsert(List.of(rec(2, "submit")));
      assertEquals(List.of(rec(2, "submit")), store.findByStage(List.of("submit"), Long.MIN_VALUE, 10));
      Claim again = new Claim(2, "host-c", "cccc", 30);
      assertEquals(List.of(claimed(rec(2, "submit"), again)), store.claim(List.of(again)));
    }
    try (JobStore store = open()) {
      assertEquals(claimed(rec(2, "submit"), new Claim(2, "host-c", "cccc", 30)), store.find(2).orElseThrow());
    }
  }

  /** A job first written in flight, with no row of its own yet, is stored whole. */
  @Test
  void aJobFirstWrittenInFlightIsStored() {
    JobRecord running = new JobRecord(5, "running", "unknown", "N/A", "bob", "vm-2p8g", 1005L, "{}",
        "host-a", "aaaa", 10);
    try (JobStore store = open()) {
      store.upsert(List.of(running));
      assertEquals(running, store.find(5).orElseThrow());
      assertEquals(List.of(running), store.findByStage(List.of("running"), Long.MIN_VALUE, 10));
    }
  }

  @Test
  void syncForcesWhatIsCommittedAndKeepsItReadable() {
    try (JobStore store = open()) {
      store.upsert(List.of(rec(8, "submit")));
      store.sync();
      assertEquals(rec(8, "submit"), store.find(8).orElseThrow());
    }
  }

  @Test
  void committedJobsSurviveReopening() {
    try (JobStore store = open()) {
      store.upsert(List.of(rec(7, "submit")));
    }
    try (JobStore store = open()) {
      assertEquals(rec(7, "submit"), store.find(7).orElseThrow());
    }
  }

  // ---- accounts, submit keys and runs ----

  static Account account(String name, String role) {
    return new Account(name, name + "@example.org", "The " + name, role, 1_700_000_000_000L,
        "ab".repeat(32));
  }

  @Test
  void accountsAreAddedListedByNameRotatedAndRemoved() {
    try (JobStore jobs = open()) {
      AccountStore store = (AccountStore) jobs;
      assertEquals(List.of(), store.accounts());
      store.addAccount(account("bob", Account.USER));
      store.addAccount(account("alice", Account.ADMIN));
      assertEquals(List.of(account("alice", Account.ADMIN), account("bob", Account.USER)), store.accounts());
      assertThrows(AccountExistsException.class, () -> store.addAccount(account("bob", Account.ADMIN)));
      Account rotated = account("bob", Account.USER).withTokenDigest("cd".repeat(32));
      store.saveAccount(rotated);
      assertEquals(List.of(account("alice", Account.ADMIN), rotated), store.accounts());
      assertTrue(store.removeAccount("alice"));
      assertEquals(false, store.removeAccount("alice"));
      assertEquals(List.of(rotated), store.accounts());
    }
    try (JobStore jobs = open()) {
      assertEquals(List.of(account("bob", Account.USER).withTokenDigest("cd".repeat(32))),
          ((AccountStore) jobs).accounts());
    }
  }

  @Test
  void hostRegistrationsAreReplacedByNameAndOutliveTheStore() {
    String bm = "{\"arch\":\"x86_64\",\"memory\":16384,\"mac_addr\":[\"52-54-00-12-34-56\"]}";
    try (JobStore jobs = open()) {
      HostStore store = (HostStore) jobs;
      assertEquals(List.of(), store.registeredHosts());
      store.saveHost(new RegisteredHost("bm1", "{\"arch\":\"aarch64\"}", 1_000));
      store.saveHost(new RegisteredHost("vm\u00e9-2", "{}", 2_000));
      store.saveHost(new RegisteredHost("bm1", bm, 3_000));
      assertEquals(List.of(new RegisteredHost("vm\u00e9-2", "{}", 2_000), new RegisteredHost("bm1", bm, 3_000)),
          store.registeredHosts(), "one row a name, the latest, oldest first");
    }
    try (JobStore jobs = open()) {
      assertEquals(2, ((HostStore) jobs).registeredHosts().size());
    }
  }

  @Test
  void aSubmitKeyIsStoredWithItsJobsOrNotAtAll() {
    SubmitKey key = new SubmitKey("alice", "retry-1", "ef".repeat(32), 5_000, List.of(1L, 2L),
        "[{\"job_id\":\"1\"},{\"job_id\":\"2\"}]");
    try (JobStore store = open()) {
      store.commit(List.of(rec(1, "submit"), rec(2, "submit")), List.of(), List.of(), List.of(key),
          List.of(new JobRun(1, "run-a"), new JobRun(2, "run-a")));
      assertEquals(key, store.findSubmitKey("alice", "retry-1").orElseThrow());
      assertTrue(store.findSubmitKey("bob", "retry-1").isEmpty(), "keys are per account");
      assertTrue(store.findSubmitKey("alice", "retry-2").isEmpty());
      assertEquals(List.of(1L, 2L), store.jobsOfRun("run-a", 100));
      assertEquals(List.of(1L), store.jobsOfRun("run-a", 1));
      assertEquals(List.of(), store.jobsOfRun("run-b", 100));

      // a job id that exists fails the commit: the key and the run go with it
      SubmitKey other = new SubmitKey("alice", "retry-2", "ef".repeat(32), 6_000, List.of(2L, 3L), "[]");
      assertThrows(StoreUnavailableException.class, () -> store.commit(
          List.of(rec(3, "submit"), rec(2, "submit")), List.of(), List.of(), List.of(other),
          List.of(new JobRun(3, "run-b"))));
      assertTrue(store.find(3).isEmpty());
      assertTrue(store.findSubmitKey("alice", "retry-2").isEmpty());
      assertEquals(List.of(), store.jobsOfRun("run-b", 100));
    }
    try (JobStore store = open()) {
      assertEquals(key, store.findSubmitKey("alice", "retry-1").orElseThrow());
      assertEquals(0, store.purgeSubmitKeys(5_000));
      assertEquals(1, store.purgeSubmitKeys(5_001));
      assertTrue(store.findSubmitKey("alice", "retry-1").isEmpty());
      // the jobs stay: only the key is forgotten
      assertTrue(store.find(1).isPresent());
    }
  }
}
