package org.compassci.sched.testkit;

import java.lang.management.ManagementFactory;

/**
 * How long a kit takes to start in a fresh JVM, class loading included: the figure the README
 * gives. Not a test (no timing assertions in tests); run it on the test class path, e.g.
 * {@code java -cp "testkit/target/test-classes:testkit/target/classes:$(cat cp.txt)"
 * org.compassci.sched.testkit.KitColdStart}.
 */
public final class KitColdStart {

  private KitColdStart() {}

  public static void main(String[] args) {
    long jvmUp = ManagementFactory.getRuntimeMXBean().getUptime();
    long t0 = System.nanoTime();
    SchedulerTestKit kit = SchedulerTestKit.create();
    long started = (System.nanoTime() - t0) / 1_000_000;
    long t1 = System.nanoTime();
    long id = kit.client().submitOne("{\"suite\":\"s\",\"testbox\":\"dc-8g\"}");
    kit.testbox("d1", "tbox_type=dc").askForJob().orElseThrow();
    long firstJob = (System.nanoTime() - t1) / 1_000_000;
    long t2 = System.nanoTime();
    SchedulerTestKit second = SchedulerTestKit.create();
    long warm = (System.nanoTime() - t2) / 1_000_000;
    long t3 = System.nanoTime();
    second.shutdown();
    kit.shutdown();
    long stopped = (System.nanoTime() - t3) / 1_000_000;
    System.out.printf("{\"bench\":\"kit_start\",\"jvm_before_ms\":%d,\"cold_start_ms\":%d,"
        + "\"first_job_ms\":%d,\"warm_start_ms\":%d,\"two_shutdowns_ms\":%d,\"job\":%d}%n",
        jvmUp, started, firstJob, warm, stopped, id);
  }
}
