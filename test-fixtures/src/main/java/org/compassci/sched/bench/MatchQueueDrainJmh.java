package org.compassci.sched.bench;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.compassci.sched.fixtures.Lab;
import org.compassci.sched.match.MatchQueue;
import org.compassci.sched.model.JobIntake;
import org.compassci.sched.model.Testbox;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * The matcher line's asks without actors: a queue of the same 100,000 jobs, then 80,000 takes by
 * the 1,000 boxes in turn, as one run of {@link MatcherBench} makes them (about 74,000 find a
 * job; the queue drains to about a quarter). Unlike {@link MatchQueueJmh}'s take-and-put-back on
 * a full queue, each box's first ask works out what fits it on the fresh queue, the walk down
 * the tenants grows as the queue drains, and a box that finds nothing asks every tenant of every
 * level.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class MatchQueueDrainJmh {

  static final int TAKES = 80_000;

  List<Testbox> boxes;
  List<JobIntake.Draft> drafts;
  MatchQueue queue;
  long id;

  @Setup(Level.Trial)
  public void setUp() {
    Lab lab = Lab.generate(1, 100_000, 1_000);
    boxes = lab.testboxes();
    drafts = MatchQueueJmh.drafts(lab);
  }

  /** A full queue before each drain (not timed). */
  @Setup(Level.Invocation)
  public void fill() {
    queue = MatchQueueJmh.newQueue();
    for (JobIntake.Draft d : drafts) {
      MatchQueueJmh.add(queue, ++id, d);
    }
  }

  /** One take, averaged over a whole drain. */
  @Benchmark
  @OperationsPerInvocation(TAKES)
  public int drain() {
    int handed = 0;
    for (int i = 0; i < TAKES; i++) {
      if (queue.take(boxes.get(i % boxes.size())) != null) {
        handed++;
      }
    }
    return handed;
  }
}
