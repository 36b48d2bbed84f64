package org.compassci.sched.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JdbcJobStoreTest {

  @TempDir Path dir;

  private static JobRecord rec(long id, String stage) {
    return new JobRecord(id, stage, "unknown", "N/A", "alice", "vm-2p8g", 1000 + id,
        "{\"id\":\"" + id + "\",\"suite\":\"hackbench\"}");
  }

  @Test
  void upsertThenFindReplacesTheWholeRecord() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      store.upsert(List.of(rec(1, "submit")));
      store.upsert(List.of(rec(1, "dispatch")));
      JobRecord back = store.find(1).orElseThrow();
      assertEquals("dispatch", back.stage());
      assertEquals(1001, back.submitTimeMillis());
      assertTrue(store.find(2).isEmpty());
    }
  }

  @Test
  void findByIdsReturnsThoseThatExist() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      store.upsert(List.of(rec(1, "submit"), rec(2, "submit"), rec(3, "running")));
      assertEquals(java.util.Set.of(1L, 3L), store.findByIds(List.of(1L, 3L, 99L)).stream()
          .map(JobRecord::id).collect(Collectors.toSet()));
      assertTrue(store.findByIds(List.of()).isEmpty());
    }
  }

  @Test
  void findByStagePagesInIdOrder() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      List<JobRecord> batch = new ArrayList<>();
      for (long id = 1; id <= 25; id++) {
        batch.add(rec(id, id % 5 == 0 ? "running" : "submit"));
      }
      store.upsert(batch);
      List<JobRecord> first = store.findByStage(List.of("submit"), Long.MIN_VALUE, 10);
      List<JobRecord> next = store.findByStage(List.of("submit"), first.get(9).id(), 10);
      assertEquals(List.of(1L, 2L, 3L, 4L, 6L, 7L, 8L, 9L, 11L, 12L),
          first.stream().map(JobRecord::id).collect(Collectors.toList()));
      assertEquals(13L, next.get(0).id());
      assertEquals(5, store.findByStage(List.of("running"), Long.MIN_VALUE, 100).size());
    }
  }

  @Test
  void aFailedBatchStoresNothingOfIt() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      JobRecord broken = new JobRecord(3, null, "unknown", "N/A", "t", "g", 0, "{}");
      assertThrows(StoreUnavailableException.class,
          () -> store.upsert(List.of(rec(1, "submit"), rec(2, "submit"), broken)));
      assertTrue(store.find(1).isEmpty());
      assertTrue(store.find(2).isEmpty());
    }
  }

  @Test
  void committedJobsSurviveReopening() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      store.upsert(List.of(rec(7, "submit")));
    }
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      assertEquals("submit", store.find(7).orElseThrow().stage());
    }
  }
}
