package org.compassci.sched.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

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

  /** Whether a failed batch is rolled back whole (a store without transactions may not). */
  protected boolean transactional() {
    return true;
  }

  static JobRecord rec(long id, String stage) {
    return rec(id, stage, "alice");
  }

  static JobRecord rec(long id, String stage, String tenant) {
    return new JobRecord(id, stage, "unknown", "N/A", tenant, "vm-2p8g", 1000 + id,
        "{\"id\":\"" + id + "\",\"suite\":\"hackbench\",\"my_account\":\"" + tenant + "\"}");
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
  void findByIdsReturnsThoseThatExist() {
    try (JobStore store = open()) {
      store.upsert(List.of(rec(1, "submit"), rec(2, "submit"), rec(3, "running")));
      assertEquals(Set.of(1L, 3L), Set.copyOf(ids(store.findByIds(List.of(1L, 3L, 99L)))));
      assertTrue(store.findByIds(List.of()).isEmpty());
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

  @Test
  void committedJobsSurviveReopening() {
    try (JobStore store = open()) {
      store.upsert(List.of(rec(7, "submit")));
    }
    try (JobStore store = open()) {
      assertEquals(rec(7, "submit"), store.find(7).orElseThrow());
    }
  }
}
