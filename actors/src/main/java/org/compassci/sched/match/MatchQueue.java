package org.compassci.sched.match;

import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.compassci.sched.model.Requirements;
import org.compassci.sched.model.Testbox;

/**
 * Every queued job, and the choice of the next job for a testbox. The steps, each its own part:
 * <ol>
 *   <li>tag fit: {@link TagIndex} gives the groups whose tags and target machines the box fits;
 *   <li>memory fit: a group whose memory need exceeds the box's free memory is skipped whole;
 *   <li>ordering: of the first job of each tenant in each remaining group, the best wins:
 *       higher queue level, then the tenant with the least service per weight
 *       ({@link FairShare}), then higher job priority, then earlier submit.
 * </ol>
 * Plain Java, single-threaded: the matcher actor owns it.
 */
public final class MatchQueue {

  /** Dimensions of the pending counts, as the dashboard names them. */
  public static final List<String> DIMENSIONS = List.of("my_account", "tbox_group", "arch", "queue");

  private final Map<String, Integer> levels;
  private final int defaultLevel;
  private final FairShare fairShare;
  private Interner strings = new Interner();
  private final TagIndex index = new TagIndex();
  private final Map<JobGroup.Key, JobGroup> groups = new HashMap<>();
  private final Map<Long, QueuedJob> jobs = new HashMap<>();
  private Set<Set<String>> signatures = new java.util.HashSet<>();
  /**
   * Past this many strings, tag sets and tallies, {@link #compact} forgets those no queued job
   * uses: what the last compaction kept, and as many again, or the queue's jobs and groups, or
   * {@link #COMPACT_MIN}, whichever is most.
   */
  private int compactAt = COMPACT_MIN;
  static final int COMPACT_MIN = 4096;
  /**
   * Per dimension, the count of each value. A count at zero stays until {@link #compact}, so
   * that a job's {@link Tally} can keep pointing at its counts; a job put back after a
   * compaction finds its counts again ({@link #restore}).
   */
  private final Map<String, Map<String, Count>> pending = new LinkedHashMap<>();
  /** Queued jobs per tenant over all levels: what the store's count per tenant is checked against. */
  private Map<String, Count> byTenant = new HashMap<>();
  /** One tally per combination of tenant and dimension values seen since the last compaction. */
  private Map<TallyKey, Tally> tallies = new HashMap<>();

  /** The queued jobs with one value of one dimension. */
  static final class Count {
    int n;
  }

  private record TallyKey(String tenant, String account, String tboxGroup, String arch, String queue) {}

  /**
   * The counts a job moves when it is queued or leaves: found once per job, so that a take
   * moves five counters instead of looking up five maps (and boxing five Integers).
   */
  static final class Tally {
    private final Count tenant;
    private final Count account;
    private final Count tboxGroup;
    private final Count arch;
    private final Count queue;

    private Tally(Count tenant, Count account, Count tboxGroup, Count arch, Count queue) {
      this.tenant = tenant;
      this.account = account;
      this.tboxGroup = tboxGroup;
      this.arch = arch;
      this.queue = queue;
    }

    void add(int delta) {
      tenant.n += delta;
      account.n += delta;
      tboxGroup.n += delta;
      arch.n += delta;
      queue.n += delta;
    }
  }
  /** Indexes of dead groups, given to the next new ones so the bit sets stay dense. */
  private final java.util.ArrayDeque<Integer> freeIndexes = new java.util.ArrayDeque<>();
  private int nextIndex;
  /** The live group of each index (null when none): its memory need, by index. */
  private JobGroup[] byIndex = new JobGroup[64];
  /** The groups a box fits with jobs at the level at hand: filled afresh for each level. */
  private int[] candidates = new int[64];

  public MatchQueue(Map<String, Integer> levels, Map<String, Integer> weights, int defaultWeight) {
    this(levels, weights, defaultWeight, FairShare.STALE_AFTER);
  }

  /** With another stale window (FairShare): tests that want it reached in a few hand-outs. */
  MatchQueue(Map<String, Integer> levels, Map<String, Integer> weights, int defaultWeight, long staleAfter) {
    this.levels = Map.copyOf(levels);
    this.defaultLevel = levels.getOrDefault("default", 3);
    this.fairShare = new FairShare(weights, defaultWeight, staleAfter);
    DIMENSIONS.forEach(d -> pending.put(d, new HashMap<>()));
  }

  /** Queues a job; a job already queued (same id) is left as it is. */
  public QueuedJob add(long id, Requirements req, String tenant, String queue, int priority,
      String account, String tboxGroup) {
    QueuedJob known = jobs.get(id);
    if (known != null) {
      return known;
    }
    JobGroup.Key key = new JobGroup.Key(req.tags(), req.targetMachines(), req.memoryMb());
    JobGroup g = groups.get(key);
    if (g == null) {
      g = newGroup(key);
      signatures.add(key.tags());
    }
    int level = levels.getOrDefault(queue, defaultLevel);
    TenantQueue t = fairShare.tenant(strings.intern(tenant), level);
    QueuedJob job = new QueuedJob(id, priority, g, t, strings.intern(account),
        strings.intern(tboxGroup), strings.intern(queue));
    insert(job);
    if (held() > compactAt) {
      compact();
    }
    return job;
  }

  /** The strings, tag sets and tallies kept for the queue's jobs, and for jobs long gone. */
  int held() {
    return strings.size() + signatures.size() + tallies.size();
  }

  /**
   * Forgets the strings, tag sets and counts that no queued job uses any more. They are kept
   * while in use, so that 100,000 jobs of one kind share them, and were kept after too: a lab
   * whose jobs bring ever new values (a tag per build, an account per run) made them grow for
   * as long as the matcher ran. Runs once they have grown since the last time by as many as it
   * kept, and by at least as many as the queue's jobs and groups, so its cost, a walk over the
   * queue, is spread over at least as many new entries as it walks. A job taken out keeps what
   * it holds: {@link #restore} counts it afresh.
   */
  void compact() {
    Interner kept = new Interner();
    Set<Set<String>> keptSignatures = new java.util.HashSet<>();
    for (JobGroup g : groups.values()) {
      keptSignatures.add(g.key.tags());
      for (String tag : g.tags) {
        kept.intern(tag);
      }
      kept.intern(g.arch);
    }
    java.util.Set<Tally> used = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    for (QueuedJob job : jobs.values()) {
      kept.intern(job.tenant.tenant);
      kept.intern(job.account);
      kept.intern(job.tboxGroup);
      kept.intern(job.queue);
      used.add(job.tally);
    }
    // copied, not trimmed in place: a map keeps the table of its largest size
    Map<TallyKey, Tally> keptTallies = new HashMap<>();
    tallies.forEach((k, t) -> {
      if (used.contains(t)) {
        keptTallies.put(k, t);
      }
    });
    tallies = keptTallies;
    // a count at zero is no queued job's: only tallies dropped above pointed at it
    pending.replaceAll((dimension, counts) -> live(counts));
    byTenant = live(byTenant);
    strings = kept;
    signatures = keptSignatures;
    int held = held();
    compactAt = held + Math.max(Math.max(COMPACT_MIN, held), jobs.size() + groups.size());
  }

  private static Map<String, Count> live(Map<String, Count> counts) {
    Map<String, Count> out = new HashMap<>();
    counts.forEach((value, c) -> {
      if (c.n > 0) {
        out.put(value, c);
      }
    });
    return out;
  }

  private JobGroup newGroup(JobGroup.Key key) {
    int i = freeIndexes.isEmpty() ? nextIndex++ : freeIndexes.poll();
    JobGroup g = new JobGroup(key, i, strings);
    groups.put(key, g);
    if (i >= byIndex.length) {
      byIndex = java.util.Arrays.copyOf(byIndex, Math.max(i + 1, byIndex.length * 2));
    }
    byIndex[i] = g;
    index.add(g);
    return g;
  }

  private void insert(QueuedJob job) {
    JobGroup g = job.group;
    if (g.dead) {
      // the group emptied meanwhile; its kind lives on in a fresh one
      JobGroup fresh = groups.get(g.key);
      if (fresh == null) {
        fresh = newGroup(g.key);
      }
      // a fresh object, counted afresh: only restore brings a job back, its tally cleared
      job = new QueuedJob(job.id, job.priority, fresh, job.tenant, job.account, job.tboxGroup, job.queue);
      g = fresh;
    }
    g.add(job);
    jobs.put(job.id, job);
    fairShare.queued(job.tenant);
    count(job, 1);
  }

  /** Takes the best job for {@code box} out of the queue, or returns null when none fits. */
  public QueuedJob take(Testbox box) {
    QueuedJob best = select(box, true);
    if (best != null) {
      unlink(best);
      fairShare.served(best.tenant, chosenFrom);
    }
    return best;
  }

  /**
   * The job {@link #take} would hand out, without taking it. Levels from the highest; in each,
   * first the groups the box fits (tags, machine, memory) that have jobs at the level, then
   * tenants in order of pass, passing over those with no job in any of them, so the walk
   * usually ends at the first tenant it asks. Tenants level on pass are all asked, and the
   * better job wins.
   */
  public QueuedJob select(Testbox box) {
    return select(box, false);
  }

  /** {@code taking}: the box takes the job, and first weighs the fresh tenants (see {@link FairShare#liftFresh}). */
  private QueuedJob select(Testbox box, boolean taking) {
    int[] fitting = index.fitting(box.tags(), box.hostname()).indexes();
    if (fitting.length == 0) {
      return null;
    }
    if (candidates.length < fitting.length) {
      candidates = new int[Math.max(fitting.length, candidates.length * 2)];
    }
    long freeMem = box.freeMemMb();
    for (Level level : fairShare.active().values()) {
      int n = 0;
      for (int i : fitting) {
        // a dead group's index (see TagIndex) has no jobs at any level
        if (level.hasJobsIn(i) && byIndex[i].key.memoryMb() <= freeMem) {
          candidates[n++] = i;
        }
      }
      if (n == 0) {
        continue;
      }
      long[] withJobs = level.tenantsIn(candidates, n);
      if (taking) {
        fairShare.liftFresh(level, withJobs);
      }
      QueuedJob best = null;
      for (int k = 0, size = level.size(); k < size; k++) {
        TenantQueue t = level.tenant(k);
        if (best != null && t.pass > best.tenant.pass) {
          break;
        }
        if (!Level.has(withJobs, t.slot)) {
          continue;
        }
        QueuedJob mine = bestOf(t, candidates, n);
        if (mine != null && (best == null || QueuedJob.ORDER.compare(mine, best) < 0)) {
          best = mine;
        }
      }
      if (best != null) {
        chosenFrom = withJobs;
        return best;
      }
    }
    return null;
  }

  /**
   * The tenants with jobs for the box of the last {@link #select}, at the level it chose from
   * (the level's own array, valid until it is asked again): a stale tenant served comes up to them.
   */
  private long[] chosenFrom;

  /** The tenant's best job among the first {@code n} of {@code groups}: the heads of its lanes there. */
  private static QueuedJob bestOf(TenantQueue t, int[] groups, int n) {
    Lane best = null;
    for (int k = 0; k < n; k++) {
      Lane lane = t.lane(groups[k]);
      if (lane != null && (best == null || lane.headBefore(best))) {
        best = lane;
      }
    }
    return best == null ? null : best.head();
  }

  /** The order of DOMAIN.md between two queued jobs that both fit. */
  static boolean before(QueuedJob a, QueuedJob b) {
    if (a.tenant.level != b.tenant.level) {
      return a.tenant.level > b.tenant.level;
    }
    if (a.tenant != b.tenant && a.tenant.pass != b.tenant.pass) {
      return a.tenant.pass < b.tenant.pass;
    }
    return QueuedJob.ORDER.compare(a, b) < 0;
  }

  /** A hand-out that did not reach its testbox: back at its old place, its tenant not charged. */
  public void putBack(QueuedJob job) {
    if (restore(job)) {
      fairShare.refund(job.tenant);
    }
  }

  /**
   * The turn {@link #take} charged {@code job}'s tenant, given back: the job went back to the
   * queue (by {@link #add}) without reaching a box.
   */
  public void refund(QueuedJob job) {
    fairShare.refund(job.tenant);
  }

  /** A job taken out by {@link #remove} whose removal did not happen after all. */
  public boolean restore(QueuedJob job) {
    if (jobs.containsKey(job.id)) {
      return false;
    }
    // its counts may have been forgotten (compact) while it was out
    job.tally = null;
    insert(job);
    return true;
  }

  /** Takes a job out without serving it (cancel); null when it is not queued. */
  public QueuedJob remove(long id) {
    QueuedJob job = jobs.get(id);
    if (job != null) {
      unlink(job);
      fairShare.unqueued(job.tenant);
    }
    return job;
  }

  private void unlink(QueuedJob job) {
    jobs.remove(job.id);
    JobGroup g = job.group;
    g.remove(job);
    count(job, -1);
    if (g.size == 0) {
      groups.remove(g.key);
      index.remove(g);
      byIndex[g.index] = null;
      freeIndexes.add(g.index);
    }
  }

  private void count(QueuedJob job, int delta) {
    if (job.tally == null) {
      job.tally = tally(job);
    }
    job.tally.add(delta);
  }

  private Tally tally(QueuedJob job) {
    TallyKey key = new TallyKey(job.tenant.tenant, job.account, job.tboxGroup, job.arch(), job.queue);
    Tally t = tallies.get(key);
    if (t == null) {
      t = new Tally(byTenant.computeIfAbsent(job.tenant.tenant, k -> new Count()),
          count("my_account", job.account), count("tbox_group", job.tboxGroup),
          count("arch", job.arch()), count("queue", job.queue.isEmpty() ? "default" : job.queue));
      tallies.put(key, t);
    }
    return t;
  }

  private Count count(String dimension, String value) {
    return pending.get(dimension).computeIfAbsent(valueKey(value), k -> new Count());
  }

  /** How a dimension's value is counted: a job without one counts as "unknown". */
  private static String valueKey(String value) {
    return value == null || value.isEmpty() ? "unknown" : value;
  }

  /** Jobs of this tenant (a project queue or an account) queued here, at every level. */
  public int queuedOf(String tenant) {
    Count c = byTenant.get(tenant);
    return c == null ? 0 : c.n;
  }

  /** Jobs of this account (their my_account; "" for none) queued here, whatever their queue. */
  public int queuedOfAccount(String account) {
    Count c = pending.get("my_account").get(valueKey(account));
    return c == null ? 0 : c.n;
  }

  public QueuedJob get(long id) {
    return jobs.get(id);
  }

  public boolean contains(long id) {
    return jobs.containsKey(id);
  }

  public int size() {
    return jobs.size();
  }

  /** Distinct tag sets among the groups seen since {@link #compact} last forgot those gone. */
  public int signatures() {
    return signatures.size();
  }

  public int groups() {
    return groups.size();
  }

  public int cachedBoxes() {
    return index.cachedBoxes();
  }

  /** What the tag index holds besides its cache: 0 once the queue is empty. */
  int indexHeld() {
    return index.held();
  }

  /** Queued jobs counted by one of {@link #DIMENSIONS}, largest first. */
  public Map<String, Integer> pending(String dimension) {
    Map<String, Count> m = pending.get(dimension);
    if (m == null) {
      throw new IllegalArgumentException("group_by must be one of " + DIMENSIONS);
    }
    Map<String, Integer> out = new LinkedHashMap<>();
    m.entrySet().stream()
        .filter(e -> e.getValue().n > 0)
        .map(e -> Map.entry(e.getKey(), e.getValue().n))
        .sorted(Map.Entry.<String, Integer>comparingByValue().reversed().thenComparing(Map.Entry.comparingByKey()))
        .forEach(e -> out.put(e.getKey(), e.getValue()));
    return out;
  }

  /**
   * The first {@code most} of counts that {@link #pending} gave (largest first), and the rest
   * summed as one "(other)" entry: what a dashboard or a metric can show of thousands of tenants.
   */
  public static Map<String, Long> largest(Map<String, Integer> counts, int most) {
    Map<String, Long> out = new LinkedHashMap<>();
    long other = 0;
    for (Map.Entry<String, Integer> e : counts.entrySet()) {
      if (out.size() < most) {
        out.put(e.getKey(), (long) e.getValue());
      } else {
        other += e.getValue();
      }
    }
    if (other > 0) {
      out.put("(other)", other);
    }
    return out;
  }

  /** Why a queued job still waits: its needs, who could take it, and its place. */
  public record Explain(long id, Set<String> tags, Set<String> targetMachines, long memoryMb,
      String tenant, int level, int weight, int placeInTenantQueue, int tenantQueued,
      int boxesKnown, int boxesFitTags, int boxesFitMemory, Map<String, Integer> rejections) {}

  /** Null when the job is not queued. {@code boxes}: the testboxes seen lately. */
  public Explain explain(long id, Collection<Testbox> boxes) {
    QueuedJob job = jobs.get(id);
    if (job == null) {
      return null;
    }
    JobGroup g = job.group;
    int ahead = 0;
    for (JobGroup other : groups.values()) {
      Lane lane = job.tenant.lane(other.index);
      if (lane != null) {
        ahead += lane.jobs.headSet(job, false).size();
      }
    }
    int fitTags = 0;
    int fitMemory = 0;
    Map<String, Integer> rejections = new TreeMap<>();
    for (Testbox box : boxes) {
      String missing = g.missingTag(box.tags());
      if (missing != null) {
        rejections.merge("missing_tag " + missing, 1, Integer::sum);
      } else if (!g.fitsTags(box.tags(), box.hostname())) {
        rejections.merge("not_a_target_machine", 1, Integer::sum);
      } else {
        fitTags++;
        if (g.key.memoryMb() > box.freeMemMb()) {
          rejections.merge("insufficient_memory", 1, Integer::sum);
        } else {
          fitMemory++;
        }
      }
    }
    return new Explain(id, g.key.tags(), g.key.targets(), g.key.memoryMb(), job.tenant.tenant,
        job.tenant.level, job.tenant.weight, ahead + 1, job.tenant.queued, boxes.size(), fitTags,
        fitMemory, rejections);
  }
}
