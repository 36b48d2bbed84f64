/**
 * The scheduler inside a user's JUnit 5 test. {@link org.compassci.sched.testkit.SchedulerTestKit}
 * starts the real scheduler (the jar's wiring, the embedded store) on a loopback port and runs
 * it on time the test advances; {@link org.compassci.sched.testkit.JobClient} is what a
 * submitter calls; {@link org.compassci.sched.testkit.SimulatedTestbox} plays a testbox; a
 * {@code TestProbe<}{@link org.compassci.sched.testkit.JobEvent}{@code >} receives each change of
 * the jobs a test follows. The README's "Testing your lab with the test kit" shows them together.
 */
package org.compassci.sched.testkit;
