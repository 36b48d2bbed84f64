package org.compassci.sched.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.compassci.sched.fixtures.Lab;
import org.compassci.sched.match.MatchQueue;
import org.compassci.sched.match.QueuedJob;
import org.compassci.sched.model.JobIntake;
import org.compassci.sched.model.Testbox;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * The matcher's parts without actors, on the lab of the matcher line: 100,000 queued jobs,
 * 1,000 testboxes. Each take is followed by a put back, so the queue stays full.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class MatchQueueJmh {

  MatchQueue queue;
  List<Testbox> boxes;
  List<JobIntake.Draft> drafts;
  int next;
  long id;

  @Setup(Level.Trial)
  public void setUp() {
    Lab lab = Lab.generate(1, 100_000, 1_000);
    boxes = lab.testboxes();
    drafts = drafts(lab);
    queue = newQueue();
    for (JobIntake.Draft d : drafts) {
      add(d);
    }
  }

  /** The lab's jobs as the intake prepares them. */
  static List<JobIntake.Draft> drafts(Lab lab) {
    List<JobIntake.Draft> drafts = new ArrayList<>();
    for (ObjectNode j : lab.jobs()) {
      drafts.add(JobIntake.prepare(j));
    }
    return drafts;
  }

  /** An empty queue with the levels and weights of the matcher line. */
  static MatchQueue newQueue() {
    return new MatchQueue(Map.of("vip", 9, "default", 3, "idle", 1), Map.of("bisect-bot", 20), 10);
  }

  /** Queues the job under the given id. */
  static void add(MatchQueue queue, long id, JobIntake.Draft d) {
    queue.add(id, d.requirements(), d.tenant(), d.queue(), d.priority(),
        d.doc().path("my_account").asText(), d.doc().path("tbox_group").asText());
  }

  private void add(JobIntake.Draft d) {
    add(queue, ++id, d);
  }

  /** Select, take and put back the best job for the next box: a dispatch without the actor. */
  @Benchmark
  public Object takeAndPutBack() {
    Testbox box = boxes.get(next++ % boxes.size());
    QueuedJob job = queue.take(box);
    if (job != null) {
      queue.putBack(job);
    }
    return job;
  }

  /** Only the choice, the queue unchanged. */
  @Benchmark
  public Object select() {
    return queue.select(boxes.get(next++ % boxes.size()));
  }

  /**
   * The choice for a box the matcher has not seen (a new box, or any box's first ask after a
   * restart): what fits it is worked out from the tag index before the choice.
   */
  @Benchmark
  public Object selectForANewBox() {
    Testbox known = boxes.get(next % boxes.size());
    String hostname = "jmh-" + next++;
    java.util.Set<String> tags = new java.util.HashSet<>(known.tags());
    tags.remove("hostname=" + known.hostname());
    tags.add("hostname=" + hostname);
    return queue.select(new Testbox(hostname, tags, known.freeMemMb()));
  }

  /** Queue one job and take it out again: the submit side. */
  @Benchmark
  public Object addAndRemove() {
    add(drafts.get(next++ % drafts.size()));
    return queue.remove(id);
  }
}
