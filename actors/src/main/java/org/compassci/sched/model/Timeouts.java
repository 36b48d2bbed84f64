package org.compassci.sched.model;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * How long a job may stay in a stage without progress (DOMAIN.md's table), and when that is
 * for a given job. Pure: the lifecycle actor turns the answer into a timer.
 */
public record Timeouts(Duration dispatch, Duration dispatchAck, Duration boot, Duration bootVm,
    Duration bootDc, Duration setup, Duration waitPeer, Duration running, Duration postRun,
    Duration manualCheck, int requeueMax) {

  public static final Duration MAX_RENEW = JobUpdate.MAX_RENEW;

  /** DOMAIN.md's defaults. */
  public static Timeouts defaults() {
    return new Timeouts(Duration.ofSeconds(3600), Duration.ofSeconds(600), Duration.ofSeconds(1200),
        Duration.ofSeconds(600), Duration.ofSeconds(180), Duration.ofSeconds(600),
        Duration.ofSeconds(7200), Duration.ofSeconds(3600), Duration.ofSeconds(1800),
        Duration.ofSeconds(36000), 2);
  }

  /** What happens when a deadline passes. */
  public enum Kind {
    /** Handed out, never acknowledged: back to the queue, or abort_provider after requeue.max. */
    LOST_HAND_OUT,
    /** timeout_<stage>. */
    STAGE_TIMEOUT
  }

  public record Deadline(Instant at, Kind kind) {}

  /** What {@link #expire} made of a job whose deadline passed. */
  public enum Expiry {
    /** Not due (renewed, or no deadline in its stage): nothing changed; set its timer again. */
    NOT_DUE,
    /** A lost hand-out with requeues left: it goes back to the queue (the matcher's work). */
    REQUEUE,
    /** Ended: abort_provider after requeue.max lost hand-outs, else timeout_<stage>. */
    ENDED,
    /**
     * Finished, but its data never settled within post_run's time (a box that failed before it
     * uploaded anything, an extraction that never answered): it retires with what it has.
     */
    DATA_SETTLED
  }

  /**
   * Applies what a passed deadline means to {@code job}: a lost hand-out goes back to the queue
   * until it has been requeued {@code requeueMax} times, then ends abort_provider with no data;
   * any other stage ends in finish with health timeout_<stage> and incomplete data.
   */
  public Expiry expire(Job job, Instant now) {
    Optional<Deadline> d = deadline(job, now);
    if (d.isEmpty() || d.get().at().isAfter(now)) {
      return Expiry.NOT_DUE;
    }
    if (d.get().kind() == Kind.LOST_HAND_OUT) {
      if (job.requeueCount() < requeueMax) {
        return Expiry.REQUEUE;
      }
      job.setHealth(JobHealth.ABORT_PROVIDER);
      job.setReadiness(DataReadiness.NORUN);
      job.setStage(JobStage.ABORT_PROVIDER, now);
      return Expiry.ENDED;
    }
    if (job.stage().isFinal()) {
      job.setReadiness(job.readiness() == DataReadiness.NA ? DataReadiness.NORUN : DataReadiness.INCOMPLETE);
      return Expiry.DATA_SETTLED;
    }
    JobHealth.fromName("timeout_" + job.stage().wireName()).ifPresent(job::setHealth);
    if (!job.readiness().isSettled()) {
      // statistics already extracted (complete) stay what they are
      job.setReadiness(DataReadiness.INCOMPLETE);
    }
    job.setStage(JobStage.FINISH, now);
    return Expiry.ENDED;
  }

  /** The job's deadline in its current stage, or empty when the stage has none. */
  public Optional<Deadline> deadline(Job job, Instant now) {
    Optional<Duration> limit = limit(job);
    if (limit.isEmpty()) {
      return Optional.empty();
    }
    Instant since = parse(job.field(job.stage().timeField())).orElse(now);
    Instant at = since.plus(limit.get());
    // renew_seconds pushes the deadline out, never in, while the job runs: once it has ended,
    // its data settles on post_run's time whatever its box once asked for (a 30-day renewal held
    // a finished job in memory, among the running ones, for 30 days)
    Optional<Instant> renewed = parse(job.field("renew_deadline"));
    if (renewed.isPresent() && renewed.get().isAfter(at) && !job.stage().isFinal()) {
      at = renewed.get();
    }
    Kind kind = job.stage() == JobStage.DISPATCH && dispatchAck.compareTo(dispatch) < 0
        ? Kind.LOST_HAND_OUT : Kind.STAGE_TIMEOUT;
    return Optional.of(new Deadline(at, kind));
  }

  /** How long a job handed out may wait for its box's first report: the shorter of the two. */
  public Duration handOut() {
    return dispatchAck.compareTo(dispatch) < 0 ? dispatchAck : dispatch;
  }

  Optional<Duration> limit(Job job) {
    return switch (job.stage()) {
      case DISPATCH -> Optional.of(handOut());
      case BOOT -> Optional.of(switch (job.field("tbox_type")) {
        case "vm" -> bootVm;
        case "dc" -> bootDc;
        default -> boot;
      });
      case SETUP -> Optional.of(setup);
      case WAIT_PEER -> Optional.of(waitPeer);
      case RUNNING -> Optional.of(runningLimit(job));
      case POST_RUN -> Optional.of(postRun);
      case MANUAL_CHECK -> Optional.of(manualCheck);
      // renew: only renew_seconds keeps it alive
      case RENEW -> Optional.of(Duration.ZERO);
      // a finished job retires once its data settles (DOMAIN.md); one whose box failed before it
      // uploaded (wget_initrd_fail, kernel_panic: readiness N/A) or whose statistics never came
      // would stay in memory, counted as running and waited on, for good: post_run's time
      case FINISH -> job.readiness().isSettled() ? Optional.empty() : Optional.of(postRun);
      // the other ends imply norun; one stored unsettled by an older scheduler settles as finish does
      default -> job.stage().isFinal() && !job.readiness().isSettled() ? Optional.of(postRun) : Optional.empty();
    };
  }

  /**
   * {@code timeout} if given, else runtime + max(runtime/8, 300) + sqrt(runtime), else the
   * default; at most {@link #MAX_RUNNING}.
   */
  Duration runningLimit(Job job) {
    double timeout = seconds(job.field("timeout"));
    if (timeout > 0) {
      return atMostMaxRunning(timeout);
    }
    double runtime = seconds(job.field("runtime"));
    if (runtime > 0) {
      return atMostMaxRunning(runtime + Math.max(runtime / 8, 300) + Math.sqrt(runtime));
    }
    return running;
  }

  /**
   * The longest running limit: a job may ask for any number of seconds, and one of 1e300 made
   * its deadline overflow a long of milliseconds. Ten years is no limit for a test.
   */
  public static final Duration MAX_RUNNING = Duration.ofDays(3650);

  private static Duration atMostMaxRunning(double seconds) {
    return seconds >= MAX_RUNNING.toSeconds() ? MAX_RUNNING : Duration.ofMillis((long) (seconds * 1000));
  }

  private static double seconds(String text) {
    return seconds(text, 0);
  }

  /** A whole number and one of lkp-tests' units of time (its lib/unit.rb, to_seconds). */
  private static final java.util.regex.Pattern WITH_UNIT = java.util.regex.Pattern.compile("(\\d{1,30})([smhdwy])");

  /**
   * The seconds a job's {@code timeout} or {@code runtime} says, or {@code otherwise} when it
   * says none: a number of seconds, or a whole number with a unit as lkp-tests' job files write
   * them ({@code runtime: 300s}, {@code timeout: 1d}; s, m, h, d, w and y, as its to_seconds).
   */
  public static double seconds(String text, double otherwise) {
    String t = text.trim();
    if (t.isEmpty()) {
      return otherwise;
    }
    java.util.regex.Matcher m = WITH_UNIT.matcher(t);
    if (m.matches()) {
      long unit = switch (m.group(2).charAt(0)) {
        case 'm' -> 60;
        case 'h' -> 3_600;
        case 'd' -> 86_400;
        case 'w' -> 604_800;
        case 'y' -> 31_536_000;
        default -> 1;
      };
      return Double.parseDouble(m.group(1)) * unit;
    }
    try {
      double d = Double.parseDouble(t);
      return Double.isNaN(d) ? otherwise : d;
    } catch (NumberFormatException e) {
      return otherwise;
    }
  }

  private static Optional<Instant> parse(String text) {
    try {
      return text.isEmpty() ? Optional.empty() : Optional.of(Instant.parse(text));
    } catch (java.time.format.DateTimeParseException e) {
      return Optional.empty();
    }
  }
}
