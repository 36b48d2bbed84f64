package org.compassci.sched.match;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.compassci.sched.model.Requirements;
import org.compassci.sched.model.Testbox;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class MatchQueueTest {

  static final Map<String, Integer> LEVELS = Map.of("vip", 9, "default", 3, "idle", 1);

  static Testbox box(String host, long mem, String... tags) {
    Set<String> all = new HashSet<>(Set.of(tags));
    all.add("hostname=" + host);
    return new Testbox(host, all, mem);
  }

  static Requirements req(long mem, String... tags) {
    return new Requirements(Set.of(tags), Set.of(), mem);
  }

  // ---- the reference: scan every queued job, sort by the rules of DOMAIN.md ----

  /** Obviously correct and slow: a list of jobs and a pass per (level, tenant). */
  static final class Reference {
    record RJob(long id, Requirements req, String tenant, int level, int priority) {}

    final List<RJob> jobs = new ArrayList<>();
    final Map<String, Long> pass = new HashMap<>();
    final Map<Integer, Long> lastServed = new HashMap<>();
    /** Hand-outs per level, and per (level, tenant) that count when it last became active or was served. */
    final Map<Integer, Long> served = new HashMap<>();
    final Map<String, Long> fresh = new HashMap<>();
    /** Hand-outs at the level when (level, tenant) last became active: fresh for a window from there. */
    final Map<String, Long> activatedAt = new HashMap<>();
    final Map<String, Integer> weights;
    final long staleAfter;
    RJob lastTaken;

    Reference(Map<String, Integer> weights) {
      this(weights, FairShare.STALE_AFTER);
    }

    Reference(Map<String, Integer> weights, long staleAfter) {
      this.weights = weights;
      this.staleAfter = staleAfter;
    }

    boolean stale(int level, String tenant) {
      return served.getOrDefault(level, 0L) - fresh.getOrDefault(key(level, tenant), 0L) >= staleAfter;
    }

    /** The least pass of the other active tenants that are not stale, else where the level last served. */
    long floor(int level, String besides) {
      return jobs.stream().filter(j -> j.level == level && !j.tenant.equals(besides))
          .filter(j -> !stale(level, j.tenant))
          .mapToLong(j -> pass.getOrDefault(key(level, j.tenant), 0L)).min()
          .orElse(lastServed.getOrDefault(level, 0L));
    }

    void activate(int level, String tenant) {
      pass.put(key(level, tenant), Math.max(pass.getOrDefault(key(level, tenant), 0L), floor(level, tenant)));
      fresh.put(key(level, tenant), served.getOrDefault(level, 0L));
      activatedAt.put(key(level, tenant), served.getOrDefault(level, 0L));
    }

    String key(int level, String tenant) {
      return level + "/" + tenant;
    }

    boolean active(int level, String tenant) {
      return jobs.stream().anyMatch(j -> j.level == level && j.tenant.equals(tenant));
    }

    void add(long id, Requirements req, String tenant, String queue, int priority) {
      int level = LEVELS.getOrDefault(queue, 3);
      if (!active(level, tenant)) {
        activate(level, tenant);
      }
      jobs.add(new RJob(id, req, tenant, level, priority));
    }

    /** The highest level with a job for the box, and the tenants with jobs for it there; null when none. */
    Map.Entry<Integer, java.util.Set<String>> forBox(Testbox box) {
      java.util.OptionalInt top = jobs.stream().filter(j -> j.req.fits(box)).mapToInt(RJob::level).max();
      if (top.isEmpty()) {
        return null;
      }
      int level = top.getAsInt();
      java.util.Set<String> fitting = new java.util.TreeSet<>();
      jobs.stream().filter(j -> j.level == level && j.req.fits(box)).forEach(j -> fitting.add(j.tenant));
      return Map.entry(level, fitting);
    }

    boolean fresh(int level, String tenant) {
      Long at = activatedAt.get(key(level, tenant));
      return at != null && served.getOrDefault(level, 0L) - at < staleAfter;
    }

    /**
     * The least pass among those tenants but one, stale ones left out; with {@code established},
     * fresh ones too unless served since they became active.
     */
    java.util.OptionalLong leastServed(int level, java.util.Set<String> tenants, String besides, boolean established) {
      return tenants.stream().filter(t -> !t.equals(besides) && !stale(level, t)
              && (!established || !fresh(level, t) || servedSince(level, t)))
          .mapToLong(t -> pass.getOrDefault(key(level, t), 0L)).min();
    }

    /** Served since it last became active. */
    boolean servedSince(int level, String tenant) {
      String k = key(level, tenant);
      return fresh.getOrDefault(k, 0L) > activatedAt.getOrDefault(k, Long.MAX_VALUE);
    }

    /**
     * The box weighs the fresh tenants with jobs for it: each comes up to one of its own turns
     * below the least served of the others that are not stale, and not fresh unless served since,
     * and is fresh no more; with none, it stays fresh. Every floor before any lift.
     */
    void weigh(int level, java.util.Set<String> fitting) {
      Map<String, Long> floors = new HashMap<>();
      for (String t : fitting) {
        if (fresh(level, t)) {
          leastServed(level, fitting, t, true).ifPresent(f -> floors.put(t, f));
        }
      }
      floors.forEach((t, f) -> {
        String k = key(level, t);
        pass.put(k, Math.max(pass.getOrDefault(k, 0L), f - TenantQueue.PASS_UNIT / weights.getOrDefault(t, 10)));
        activatedAt.remove(k);
      });
    }

    Long take(Testbox box) {
      Map.Entry<Integer, java.util.Set<String>> forBox = forBox(box);
      if (forBox != null) {
        weigh(forBox.getKey(), forBox.getValue());
      }
      RJob best = jobs.stream().filter(j -> j.req.fits(box)).min(Comparator
          .comparingInt((RJob j) -> -j.level)
          .thenComparingLong(j -> pass.getOrDefault(key(j.level, j.tenant), 0L))
          .thenComparingInt(j -> -j.priority)
          .thenComparingLong(j -> j.id)).orElse(null);
      if (best == null) {
        return null;
      }
      jobs.remove(best);
      lastTaken = best;
      String k = key(best.level, best.tenant);
      if (stale(best.level, best.tenant)) {
        // a stale tenant comes up to the others of the box (or of the level) before it is charged
        java.util.OptionalLong local = leastServed(best.level, forBox.getValue(), best.tenant, false);
        pass.put(k, Math.max(pass.getOrDefault(k, 0L),
            local.isPresent() ? local.getAsLong() : floor(best.level, best.tenant)));
      }
      lastServed.put(best.level, pass.getOrDefault(k, 0L));
      pass.put(k, pass.getOrDefault(k, 0L) + TenantQueue.PASS_UNIT / weights.getOrDefault(best.tenant, 10));
      served.merge(best.level, 1L, Long::sum);
      fresh.put(k, served.get(best.level));
      return best.id;
    }

    void remove(long id) {
      jobs.removeIf(j -> j.id == id);
    }

    /** A taken job back (as MatchQueue.putBack): queued as it was, its tenant's pass refunded. */
    void putBack(RJob job) {
      if (!active(job.level, job.tenant)) {
        activate(job.level, job.tenant);
      }
      jobs.add(job);
      String k = key(job.level, job.tenant);
      pass.put(k, pass.get(k) - TenantQueue.PASS_UNIT / weights.getOrDefault(job.tenant, 10));
    }
  }

  @ParameterizedTest
  @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8})
  void onRandomLabsTheMatcherChoosesWhatTheReferenceChooses(long seed) {
    randomLab(seed, 6);
  }

  /** A level's tenants take more than one long of bits per group (Level.newSlot widens them). */
  @ParameterizedTest
  @ValueSource(longs = {21, 22, 23})
  void withMoreTenantsThanOneLongHasBitsTheMatcherStillChoosesWhatTheReferenceChooses(long seed) {
    randomLab(seed, 150);
  }

  private void randomLab(long seed, int tenantCount) {
    SplittableRandom rnd = new SplittableRandom(seed);
    Map<String, Integer> weights = Map.of("t0", 30, "t1", 20, "t3", 5);
    // a stale window of a few dozen hand-outs: reached often within the run (tenants whose jobs
    // fit no box that asks lately stop setting the floor)
    MatchQueue q = new MatchQueue(LEVELS, weights, 10, 40);
    Reference ref = new Reference(weights, 40);
    String[] arches = {"aarch64", "x86_64", "riscv64"};
    String[] types = {"hw", "vm", "dc"};
    String[] extras = {"nic=mlx5", "disk=nvme", "gpu=a100"};
    String[] queues = {"", "", "", "vip", "idle", "bisect"};
    long id = 1000;
    int dispatches = 0;
    int handed = 0;
    for (int step = 0; step < 4000; step++) {
      int what = rnd.nextInt(10);
      if (what < 5) {
        Set<String> tags = new TreeSet<>();
        if (rnd.nextInt(4) > 0) {
          tags.add("arch=" + arches[rnd.nextInt(arches.length)]);
        }
        tags.add("tbox_type=" + types[rnd.nextInt(types.length)]);
        if (rnd.nextInt(5) == 0) {
          tags.add(extras[rnd.nextInt(extras.length)]);
        }
        if (rnd.nextInt(6) == 0) {
          tags.add("tbox_group=g" + rnd.nextInt(3));
        }
        Set<String> targets = rnd.nextInt(15) == 0 ? Set.of("h" + rnd.nextInt(20)) : Set.of();
        long mem = 1024L * (1 + rnd.nextInt(6)) * (rnd.nextBoolean() ? 1 : 4);
        Requirements r = new Requirements(tags, targets, mem);
        String tenant = "t" + (int) Math.floor(Math.pow(rnd.nextDouble(), 2) * tenantCount);
        String queue = queues[rnd.nextInt(queues.length)];
        String effectiveTenant = queue.equals("bisect") ? "bisect" : tenant;
        int priority = rnd.nextInt(4) == 0 ? rnd.nextInt(5) : 0;
        id += 1 + rnd.nextInt(3);
        q.add(id, r, effectiveTenant, queue, priority, tenant, "g");
        ref.add(id, r, effectiveTenant, queue, priority);
      } else if (what < 9) {
        Set<String> tags = new HashSet<>();
        tags.add("arch=" + arches[rnd.nextInt(arches.length)]);
        tags.add("tbox_type=" + types[rnd.nextInt(types.length)]);
        if (rnd.nextBoolean()) {
          tags.add("tbox_type=" + types[rnd.nextInt(types.length)]);
        }
        tags.add("tbox_group=g" + rnd.nextInt(3));
        for (String e : extras) {
          if (rnd.nextInt(3) == 0) {
            tags.add(e);
          }
        }
        Testbox b = box("h" + rnd.nextInt(20), 1024L * rnd.nextInt(1, 30), tags.toArray(String[]::new));
        QueuedJob got = q.take(b);
        Long want = ref.take(b);
        assertEquals(want, got == null ? null : got.id(), "step " + step + " box " + b);
        dispatches++;
        handed += got == null ? 0 : 1;
      } else if (!ref.jobs.isEmpty()) {
        long victim = ref.jobs.get(rnd.nextInt(ref.jobs.size())).id();
        ref.remove(victim);
        assertEquals(victim, Objects.requireNonNull(q.remove(victim)).id());
      }
    }
    assertEquals(ref.jobs.size(), q.size());
    assertTrue(handed > dispatches / 4, "the lab must exercise hand-outs: " + handed + "/" + dispatches);
  }

  /**
   * Boxes that keep their tags and ask again and again (the matcher's cache of what fits each box
   * is used, not rebuilt) while groups empty, die and come back under reused indexes, with some
   * hand-outs put back.
   */
  @ParameterizedTest
  @ValueSource(longs = {11, 12, 13, 14, 15, 16})
  void steadyBoxesAskingAgainWhileGroupsComeAndGoGetWhatTheReferenceGives(long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    Map<String, Integer> weights = Map.of("t0", 30, "t1", 20);
    MatchQueue q = new MatchQueue(LEVELS, weights, 10, 25);
    Reference ref = new Reference(weights, 25);
    String[] extras = {"nic=mlx5", "disk=nvme", "gpu=a100", "arch=aarch64", "arch=x86_64"};
    String[] queues = {"", "", "", "vip", "idle"};
    List<Testbox> boxes = new ArrayList<>();
    for (int h = 0; h < 12; h++) {
      List<String> tags = new ArrayList<>();
      for (String e : extras) {
        if (rnd.nextInt(3) == 0) {
          tags.add(e);
        }
      }
      boxes.add(box("h" + h, 1024L * rnd.nextInt(1, 12), tags.toArray(String[]::new)));
    }
    long id = 0;
    int handed = 0;
    for (int step = 0; step < 6000; step++) {
      int what = rnd.nextInt(10);
      if (what < 4) {
        // few kinds of job, few of each: groups empty and come back all the time
        Set<String> tags = new TreeSet<>();
        for (String e : extras) {
          if (rnd.nextInt(4) == 0) {
            tags.add(e);
          }
        }
        Set<String> targets = rnd.nextInt(10) == 0 ? Set.of("h" + rnd.nextInt(12)) : Set.of();
        Requirements r = new Requirements(tags, targets, 1024L * rnd.nextInt(1, 8));
        String tenant = "t" + rnd.nextInt(5);
        String queue = queues[rnd.nextInt(queues.length)];
        int priority = rnd.nextInt(4) == 0 ? rnd.nextInt(5) : 0;
        id++;
        q.add(id, r, tenant, queue, priority, tenant, "g");
        ref.add(id, r, tenant, queue, priority);
      } else if (what < 9) {
        Testbox b = boxes.get(rnd.nextInt(boxes.size()));
        if (rnd.nextInt(20) == 0) {
          // the same box with other tags: matched on what it offers now
          Set<String> tags = new HashSet<>(b.tags());
          tags.add(extras[rnd.nextInt(extras.length)]);
          b = new Testbox(b.hostname(), tags, b.freeMemMb());
          boxes.set(Integer.parseInt(b.hostname().substring(1)), b);
        }
        Long wantId = ref.take(b);
        QueuedJob got = q.take(b);
        assertEquals(wantId, got == null ? null : got.id(), "step " + step + " box " + b);
        if (got != null) {
          handed++;
          if (rnd.nextInt(5) == 0) {
            q.putBack(got);
            ref.putBack(ref.lastTaken);
          }
        }
      } else if (!ref.jobs.isEmpty()) {
        long victim = ref.jobs.get(rnd.nextInt(ref.jobs.size())).id();
        ref.remove(victim);
        assertEquals(victim, Objects.requireNonNull(q.remove(victim)).id());
      }
    }
    assertEquals(ref.jobs.size(), q.size());
    assertTrue(handed > 1000, "the lab must exercise hand-outs: " + handed);
    // emptied, the queue lets go of every group and every tag set it indexed
    for (Reference.RJob left : List.copyOf(ref.jobs)) {
      assertEquals(left.id(), Objects.requireNonNull(q.remove(left.id())).id());
    }
    assertEquals(0, q.size());
    assertEquals(0, q.groups());
    assertEquals(0, q.indexHeld());
  }

  /**
   * What jobs long gone brought (strings, tag sets, tallies) is forgotten once it outgrows what
   * the queue holds:
   * a lab whose jobs carry ever new values (a tag per build, an account per run) no longer grows
   * the matcher for as long as it runs. The counts and the order of the jobs still queued are
   * as before, and a job taken out meanwhile and put back is counted afresh.
   */
  @Test
  void whatJobsLongGoneBroughtIsForgotten() {
    MatchQueue q = new MatchQueue(LEVELS, Map.of(), 10);
    q.add(1, req(0, "arch=x86_64", "nic=mlx5"), "lab", "", 0, "alice", "vm-2p8g");
    q.add(2, req(0, "arch=x86_64", "nic=mlx5"), "lab", "", 0, "bob", "vm-2p8g");
    q.add(3, req(0, "arch=x86_64", "nic=ixgbe"), "lab", "", 0, "carol", "vm-2p8g");
    QueuedJob out = q.take(box("a", 0, "arch=x86_64", "nic=mlx5"));
    assertEquals(1, out.id, "the first in the queue");
    QueuedJob alone = q.take(box("c", 0, "arch=x86_64", "nic=ixgbe"));
    assertEquals(3, alone.id, "the last of its kind: its group goes");
    for (long id = 4; id < 30_004; id++) {
      q.add(id, req(0, "arch=x86_64", "build=" + id), "lab", "", 0, "user" + id, "vm-2p8g");
      assertEquals(id, q.take(box("b", 0, "arch=x86_64", "build=" + id)).id);
    }
    // about 4 apiece, 120,000 for the 30,000 jobs, without forgetting
    assertTrue(q.held() <= 2 * MatchQueue.COMPACT_MIN, "held " + q.held());
    assertEquals(Map.of("bob", 1), q.pending("my_account"));

    // their hand-outs did not reach the boxes: back, and counted although their counts were
    // forgotten, the one whose group went in a group of its kind again
    q.putBack(out);
    q.putBack(alone);
    assertEquals(Map.of("alice", 1, "bob", 1, "carol", 1), q.pending("my_account"));
    assertEquals(1, q.queuedOfAccount("alice"));
    assertEquals(3, q.queuedOf("lab"));
    assertEquals(3, q.take(box("c", 0, "arch=x86_64", "nic=ixgbe")).id);
    assertEquals(1, q.take(box("a", 0, "arch=x86_64", "nic=mlx5")).id, "at its old place");
    assertEquals(2, q.take(box("a", 0, "arch=x86_64", "nic=mlx5")).id);
    assertEquals(Map.of(), q.pending("my_account"));
  }

  @Test
  void aDeadGroupsIndexTakenOverByANewGroupFitsOnlyTheBoxesThatFitTheNewOne() {
    MatchQueue q = new MatchQueue(LEVELS, Map.of(), 10);
    Testbox mlx = box("h1", 65536, "nic=mlx5");
    Testbox nvme = box("h2", 65536, "disk=nvme");
    q.add(1, req(1024, "nic=mlx5"), "A", "", 0, "A", "g");
    // both boxes asked once: what fits each is cached
    assertNull(q.take(nvme));
    assertEquals(1, q.take(mlx).id());
    assertEquals(0, q.groups(), "the mlx5 group emptied and died");
    q.add(2, req(1024, "disk=nvme"), "A", "", 0, "A", "g");
    assertNull(q.take(mlx), "the nvme group took the mlx5 group's index, not its boxes");
    assertEquals(2, q.take(nvme).id());
  }

  @Test
  void aBoxThatAsksWithOtherTagsIsMatchedOnItsNewTags() {
    MatchQueue q = new MatchQueue(LEVELS, Map.of(), 10);
    q.add(1, req(1024, "nic=mlx5"), "A", "", 0, "A", "g");
    q.add(2, req(1024, "disk=nvme"), "A", "", 0, "A", "g");
    assertEquals(2, q.select(box("h1", 65536, "disk=nvme")).id());
    assertEquals(1, q.select(box("h1", 65536, "nic=mlx5")).id());
    assertNull(q.select(box("h1", 65536)));
    assertEquals(1, q.select(box("h1", 65536, "nic=mlx5", "disk=nvme")).id());
  }

  /**
   * A tenant that submits one job after a big one's 10,000 gets it out within the next two fitting
   * dispatches: whether the big one was served before (37 times) or not at all. In the second
   * case both became active before any box asked, and the big one, served first on a tie (its
   * jobs are older), must not pull the newcomer up to its own pass when a box weighs them (the
   * small one's job went out third).
   */
  @ParameterizedTest
  @ValueSource(ints = {37, 0})
  void aSmallTenantDoesNotWaitBehindABigOne(int servedBefore) {
    MatchQueue q = new MatchQueue(LEVELS, Map.of(), 10);
    Testbox b = box("h1", 65536, "tbox_type=dc");
    for (long i = 1; i <= 10_000; i++) {
      q.add(i, req(1024, "tbox_type=dc"), "A", "", 0, "A", "g");
    }
    for (int i = 0; i < servedBefore; i++) {
      assertEquals("A", q.take(b).tenant().tenant());
    }
    q.add(20_000, req(1024, "tbox_type=dc"), "B", "", 0, "B", "g");
    List<Long> served = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      served.add(q.take(b).id());
    }
    assertTrue(served.contains(20_000L), "B's job goes out within the next 2 fitting dispatches: " + served);
  }

  @Test
  void weightsShareTheBoxesInProportion() {
    MatchQueue q = new MatchQueue(LEVELS, Map.of("A", 30, "B", 10), 10);
    Testbox b = box("h1", 65536, "tbox_type=dc");
    for (long i = 1; i <= 1000; i++) {
      q.add(i, req(1024, "tbox_type=dc"), "A", "", 0, "A", "g");
      q.add(10_000 + i, req(1024, "tbox_type=dc"), "B", "", 0, "B", "g");
    }
    int a = 0;
    for (int i = 0; i < 400; i++) {
      a += q.take(b).tenant().tenant().equals("A") ? 1 : 0;
    }
    assertTrue(Math.abs(a - 300) <= 20, "A got " + a + " of 400, want 75% ± 5%");
  }

  @Test
  void noCreditIsBankedWhileIdle() {
    MatchQueue q = new MatchQueue(LEVELS, Map.of(), 10);
    Testbox b = box("h1", 65536, "tbox_type=dc");
    q.add(1, req(1024, "tbox_type=dc"), "B", "", 0, "B", "g");
    assertEquals(1, q.take(b).id());
    for (long i = 100; i < 400; i++) {
      q.add(i, req(1024, "tbox_type=dc"), "A", "", 0, "A", "g");
    }
    for (int i = 0; i < 200; i++) {
      q.take(b);
    }
    // B was idle while A took 200: it comes back level with A, not 199 jobs ahead
    for (long i = 1000; i < 1100; i++) {
      q.add(i, req(1024, "tbox_type=dc"), "B", "", 0, "B", "g");
    }
    int b10 = 0;
    for (int i = 0; i < 20; i++) {
      b10 += q.take(b).tenant().tenant().equals("B") ? 1 : 0;
    }
    assertTrue(b10 >= 9 && b10 <= 11, "B got " + b10 + " of 20 after coming back");
  }

  /**
   * A tenant whose jobs no box can take (its machines are down) stays active with the pass it had.
   * A tenant that becomes active later must not start there, ahead of the tenant being served by
   * all it was served since, and take every box from it; nor may the stuck one, once its machines
   * are back and it has been served once.
   */
  @Test
  void aTenantThatBecomesActiveDoesNotBorrowTheCreditOfOneNoBoxCanServe() {
    MatchQueue q = new MatchQueue(LEVELS, Map.of(), 10);
    Testbox x86 = box("h1", 65536, "arch=x86_64");
    Testbox riscv = box("r1", 65536, "arch=riscv64");
    for (long a = 1; a <= 50; a++) {
      q.add(a, req(1024, "arch=riscv64"), "A", "", 0, "A", "g");
    }
    long id = 100;
    for (int i = 0; i < 10 * FairShare.STALE_AFTER; i++) {
      q.add(++id, req(1024, "arch=x86_64"), "B", "", 0, "B", "g");
      assertEquals("B", q.take(x86).tenant().tenant());
    }
    for (int i = 0; i < 200; i++) {
      q.add(++id, req(1024, "arch=x86_64"), "B", "", 0, "B", "g");
      q.add(++id, req(1024, "arch=x86_64"), "C", "", 0, "C", "g");
      q.add(++id, req(1024, "arch=riscv64"), "E", "", 0, "E", "g");
    }
    assertEquals(20, taken(q, x86, 40, "C"), "C beside B, which was served all along");
    // the riscv box is back: A goes first (it waited longest), then A and E take turns
    assertEquals("A", q.take(riscv).tenant().tenant());
    assertEquals(20, taken(q, riscv, 40, "E"), "E beside A, once A was served");
    // and a tenant that becomes active now starts beside B and C, not at A's old pass
    for (int i = 0; i < 50; i++) {
      q.add(++id, req(1024, "arch=x86_64"), "D", "", 0, "D", "g");
    }
    int d = taken(q, x86, 30, "D");
    assertTrue(d >= 9 && d <= 11, "D took " + d + " of 30 beside B and C");
  }

  /** How many of {@code n} hand-outs to {@code box} went to {@code tenant}. */
  private static int taken(MatchQueue q, Testbox box, int n, String tenant) {
    int got = 0;
    for (int i = 0; i < n; i++) {
      got += q.take(box).tenant().tenant().equals(tenant) ? 1 : 0;
    }
    return got;
  }

  /** Stale once the window's hand-outs have all gone to others, not one hand-out later. */
  @Test
  void aTenantIsStaleOnceTheWindowsHandOutsAllWentToOthers() {
    for (int others : new int[] {2, 3}) {
      MatchQueue q = new MatchQueue(LEVELS, Map.of(), 10, 3);
      Testbox x86 = box("h1", 65536, "arch=x86_64");
      q.add(1, req(1024, "arch=riscv64"), "A", "", 0, "A", "g");
      long id = 100;
      for (int i = 0; i < 10; i++) {
        q.add(++id, req(1024, "arch=x86_64"), "B", "", 0, "B", "g");
      }
      for (int i = 0; i < others; i++) {
        assertEquals("B", q.take(x86).tenant().tenant());
      }
      // C's first job fits a box only C has jobs for: that box weighs C against nobody, and C
      // keeps the pass it became active at
      q.add(++id, req(1024, "arch=aarch64"), "C", "", 0, "C", "g");
      for (int i = 0; i < 5; i++) {
        q.add(++id, req(1024, "arch=x86_64"), "C", "", 0, "C", "g");
      }
      assertEquals("C", q.take(box("h2", 65536, "arch=aarch64")).tenant().tenant());
      // A fresh (2 hand-outs to others): C started at A's pass, two strides before B, and takes
      // 2 of the next 4; A stale (3): C started at B's pass, one hand-out behind it, and takes 1
      assertEquals(others == 2 ? 2 : 1, taken(q, x86, 4, "C"), others + " hand-outs to others");
    }
  }

  private static final Testbox X86 = box("x1", 65536, "arch=x86_64");
  private static final Testbox ARM = box("a1", 65536, "arch=aarch64");

  /**
   * Two pools, one box of aarch64 in ten: A's 500 x86 jobs (of {@code memoryOfA} MB each) and B's
   * 100 aarch64 ones, 450 and 50 of them served. Returns the last job id used.
   */
  private static long twoPoolsServed(MatchQueue q, long memoryOfA) {
    long id = 0;
    for (int i = 0; i < 500; i++) {
      q.add(++id, req(memoryOfA, "arch=x86_64"), "A", "", 0, "A", "g");
    }
    for (int i = 0; i < 100; i++) {
      q.add(++id, req(1024, "arch=aarch64"), "B", "", 0, "B", "g");
    }
    for (int round = 0; round < 50; round++) {
      assertEquals(9, taken(q, X86, 9, "A"));
      assertEquals("B", q.take(ARM).tenant().tenant());
    }
    return id;
  }

  /**
   * A tenant whose jobs fit only a small pool (aarch64, one box in ten here) is served often
   * enough never to be stale, but its pass falls behind the large pool's tenants by most of
   * theirs. A tenant that becomes active takes turns with the tenants of the boxes that weigh
   * it: a newcomer to the large pool does not take every box of it from the tenant served there
   * until it has caught up with the small pool's (it took 20 of 20 before), and a newcomer to the
   * small pool does not wait behind its tenant either.
   */
  @Test
  void aNewcomerTakesTurnsWithTheTenantsOfItsOwnPoolNotTheLaggardOfAnother() {
    MatchQueue q = new MatchQueue(LEVELS, Map.of(), 10);
    long id = twoPoolsServed(q, 1024);
    for (int i = 0; i < 20; i++) {
      q.add(++id, req(1024, "arch=x86_64"), "C", "", 0, "C", "g");
    }
    assertEquals(10, taken(q, X86, 20, "C"), "C and A take turns on the x86 boxes");
    for (int i = 0; i < 20; i++) {
      q.add(++id, req(1024, "arch=aarch64"), "D", "", 0, "D", "g");
    }
    assertEquals(5, taken(q, ARM, 10, "D"), "D and B take turns on the aarch64 boxes");
  }

  /**
   * The first box a newcomer's job goes to may be one where it meets no one (a box too small for
   * the others' jobs): it stays fresh, and the first box where it meets the large pool's tenant
   * weighs it against that one.
   */
  @Test
  void aNewcomerFirstServedAloneIsWeighedAtTheFirstBoxItShares() {
    MatchQueue q = new MatchQueue(LEVELS, Map.of(), 10);
    long id = twoPoolsServed(q, 8192);
    Testbox small = box("x2", 2048, "arch=x86_64");
    for (int i = 0; i < 21; i++) {
      q.add(++id, req(1024, "arch=x86_64"), "N", "", 0, "N", "g");
    }
    assertEquals("N", q.take(small).tenant().tenant());
    assertEquals(10, taken(q, X86, 20, "N"), "N and A take turns on the large boxes");
  }

  /**
   * A stale tenant (its boxes were down while 1,000 hand-outs went to others) goes first once
   * when they are back, then comes up to the tenants of those boxes, not to the least pass of the
   * level, which here is a small pool's tenant's: it took every box it shares with the large
   * pool's tenant (21 of 21).
   */
  @Test
  void aStaleTenantComesUpToTheTenantsOfTheBoxThatServesIt() {
    MatchQueue q = new MatchQueue(LEVELS, Map.of(), 10);
    Testbox x86 = box("x1", 65536, "arch=x86_64");
    Testbox nvme = box("x2", 65536, "arch=x86_64", "disk=nvme");
    Testbox arm = box("a1", 65536, "arch=aarch64");
    long id = 0;
    for (int i = 0; i < 2000; i++) {
      q.add(++id, req(1024, "arch=x86_64"), "A", "", 0, "A", "g");
    }
    for (int i = 0; i < 200; i++) {
      q.add(++id, req(1024, "arch=aarch64"), "B", "", 0, "B", "g");
    }
    for (int i = 0; i < 50; i++) {
      q.add(++id, req(1024, "arch=x86_64", "disk=nvme"), "T", "", 0, "T", "g");
    }
    for (int round = 0; round < 120; round++) {
      assertEquals(9, taken(q, x86, 9, "A"));
      assertEquals("B", q.take(arm).tenant().tenant());
    }
    int t = taken(q, nvme, 21, "T");
    assertTrue(t >= 10 && t <= 11, "T first, then T and A in turns: " + t + " of 21");
  }

  @Test
  void vipBeforeDefaultBeforeIdleWhateverTheTenants() {
    MatchQueue q = new MatchQueue(LEVELS, Map.of(), 10);
    Testbox b = box("h1", 65536, "tbox_type=dc");
    q.add(1, req(1024, "tbox_type=dc"), "A", "idle", 9, "A", "g");
    q.add(2, req(1024, "tbox_type=dc"), "B", "", 0, "B", "g");
    q.add(3, req(1024, "tbox_type=dc"), "C", "vip", 0, "C", "g");
    q.add(4, req(1024, "tbox_type=dc"), "B", "", 5, "B", "g");
    assertEquals(3, q.take(b).id());
    assertEquals(4, q.take(b).id(), "then priority inside the tenant");
    assertEquals(2, q.take(b).id());
    assertEquals(1, q.take(b).id());
    assertNull(q.take(b));
  }

  @Test
  void aGroupTooBigForTheBoxIsSkippedAndPutBackKeepsThePlace() {
    MatchQueue q = new MatchQueue(LEVELS, Map.of(), 10);
    q.add(1, req(65536, "tbox_type=dc"), "A", "", 0, "A", "g");
    q.add(2, req(1024, "tbox_type=dc"), "A", "", 0, "A", "g");
    q.add(3, req(1024, "tbox_type=dc"), "A", "", 0, "A", "g");
    Testbox small = box("h1", 8192, "tbox_type=dc");
    QueuedJob two = q.take(small);
    assertEquals(2, two.id());
    q.putBack(two);
    assertEquals(2, q.take(small).id(), "back at its old place");
    assertEquals(1, q.take(box("h2", 100_000, "tbox_type=dc")).id());
  }

  @Test
  void pendingCountsAndExplain() {
    MatchQueue q = new MatchQueue(LEVELS, Map.of(), 10);
    q.add(1, req(8192, "tbox_type=vm", "arch=aarch64"), "alice", "", 0, "alice", "vm-2p8g");
    q.add(2, req(8192, "tbox_type=vm", "arch=aarch64"), "alice", "", 0, "alice", "vm-2p8g");
    q.add(3, req(1024, "tbox_type=hw", "arch=x86_64"), "bisect", "bisect", 0, "bob", "taishan");
    assertEquals(Map.of("alice", 2, "bob", 1), q.pending("my_account"));
    assertEquals(Map.of("aarch64", 2, "x86_64", 1), q.pending("arch"));
    assertEquals(Map.of("default", 2, "bisect", 1), q.pending("queue"));
    assertEquals(2, q.groups());
    MatchQueue.Explain e = q.explain(2, List.of(
        box("x1", 16384, "tbox_type=vm", "arch=x86_64"),
        box("s1", 4096, "tbox_type=vm", "arch=aarch64"),
        box("h1", 16384, "tbox_type=vm", "arch=aarch64")));
    assertEquals(2, e.placeInTenantQueue());
    assertEquals(3, e.boxesKnown());
    assertEquals(2, e.boxesFitTags());
    assertEquals(1, e.boxesFitMemory());
    assertEquals(Map.of("missing_tag arch=aarch64", 1, "insufficient_memory", 1), e.rejections());
    q.take(box("h1", 16384, "tbox_type=vm", "arch=aarch64"));
    assertEquals(Map.of("alice", 1, "bob", 1), q.pending("my_account"));
    assertNull(q.explain(1, List.of()));
  }
}
