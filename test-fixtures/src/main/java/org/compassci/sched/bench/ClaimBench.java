package org.compassci.sched.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.compassci.sched.persistence.Claim;
import org.compassci.sched.persistence.JdbcJobStore;
import org.compassci.sched.persistence.JobRecord;

/**
 * The embedded store's hand-out alone: 100,000 queued jobs of ~1.1 KB, claimed in random order,
 * 64 per commit (what 64 waiting testboxes make of a group commit). Prints one JSON line with
 * the median of 5 rounds of 6,400 claims.
 */
public final class ClaimBench {

  private ClaimBench() {}

  public static void main(String[] args) throws Exception {
    int batch = args.length > 0 ? Integer.parseInt(args[0]) : 64;
    Path dir = Files.createTempDirectory("claim-bench");
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 2)) {
      String doc = "{\"suite\":\"hackbench\",\"pad\":\"" + "p".repeat(1000) + "\"}";
      List<Long> ids = new ArrayList<>();
      for (int b = 0; b < 200; b++) {
        List<JobRecord> records = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
          long id = 1_000_000L + b * 500L + i;
          ids.add(id);
          records.add(new JobRecord(id, "submit", "unknown", "N/A", "t" + (i % 40), "g" + (i % 200), 1L, doc));
        }
        store.insert(records);
      }
      Collections.shuffle(ids, new Random(1));
      int next = 0;
      List<Double> rates = new ArrayList<>();
      for (int round = 0; round < 7; round++) {
        long t0 = System.nanoTime();
        int claimed = 0;
        while (claimed < 6400) {
          List<Claim> claims = new ArrayList<>(batch);
          for (int i = 0; i < batch; i++) {
            claims.add(new Claim(ids.get(next++), "box", "token", 5L));
          }
          claimed += store.claim(claims).size();
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        if (round >= 2) {
          // the first two rounds warm the JIT
          rates.add(claimed / seconds);
        }
      }
      Collections.sort(rates);
      double median = rates.get(rates.size() / 2);
      System.out.println(String.format(Locale.ROOT,
          "{\"bench\":\"claims\", \"store\":\"embedded\", \"queued\":100000, \"per_commit\":%d, "
              + "\"claims_per_s\":%.0f, \"ms_per_commit\":%.2f}", batch, median, 1000.0 * batch / median));
    } finally {
      try (var files = Files.walk(dir)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }
}
