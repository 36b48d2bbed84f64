package org.compassci.sched.model;

import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Applies what a testbox or a script reports about a running job. The value's name decides the
 * field it sets; stages only go forward; a bad health ends the job. Everything is checked before
 * anything changes, so a refused update leaves the job as it was.
 */
public final class JobUpdate {

  /** A reported name and value, in the order the caller sent them. */
  public record Param(String name, String value) {}

  /**
   * Legacy routes (busybox wget cannot read errors) never refuse a value: unknown ones are
   * recorded as last_reported_state and conflicts are ignored with a 200.
   */
  public enum Mode { STRICT, LEGACY }

  /**
   * Most names updates may add to a job, over its life (what it was submitted with does not
   * count): lkp-tests reports a few dozen; the values of names it has are updated past it.
   */
  public static final int MAX_RECORDED_NAMES = 1_000;

  public static final Duration MAX_RENEW = Duration.ofDays(30);

  private static final Set<String> STATE_PARAMS =
      Set.of("job_stage", "job_state", "job_health", "job_data_readiness");
  private static final Set<String> IDENTITY_PARAMS =
      Set.of("job_file", "job_id", "id", "hostname", "tbox_name", "job_token");
  private static final Set<String> PROTECTED_FIELDS =
      Set.of("result_root", "submit_time", "host_machine", "my_account", "testbox", "tbox_group",
          "tbox_type", "arch", "target_machines", "tags", "queue", "priority", "requeue_count",
          "last_requeue_reason", "renew_deadline", "stats", "extract_error", Job.BOX_ADDRESS);
  private static final Map<String, String> LEGACY_NAMES = Map.of(
      "booting", "boot", "finished", "success", "failed", "fail");

  private JobUpdate() {}

  private record Changes(Optional<JobStage> stage, Optional<JobHealth> health,
      Optional<DataReadiness> readiness, Map<String, String> fields, Optional<Long> renewSeconds) {}

  /**
   * Checks and applies {@code params} to {@code job}. Returns OK with {@code changed} telling
   * whether anything must be written, or a refusal that left the job untouched.
   */
  /**
   * An update that names its sender (job_token or hostname) must come from the box that holds
   * the job: a box whose hand-out was taken back changes nothing. Returns why not, if not.
   */
  public static java.util.Optional<String> checkSender(Job job, List<Param> params) {
    for (Param p : params) {
      if (p.name().equals("job_token") && !p.value().isBlank() && !job.tokenMatches(p.value().trim())) {
        return java.util.Optional.of("job " + job.id() + " is no longer handed to the holder of this job_token");
      }
      String holder = job.field("host_machine");
      // hostname (our API), tbox_name (lkp-tests' report_ssh_*): the box the caller says it is
      if ((p.name().equals("hostname") || p.name().equals("tbox_name")) && !p.value().isBlank() && !holder.isEmpty()
          && !holder.equals(p.value().trim())) {
        return java.util.Optional.of("job " + job.id() + " is handed to " + holder + ", not " + p.value().trim());
      }
    }
    return java.util.Optional.empty();
  }

  /** Why {@code params} would be refused as bad input (a 400), whatever the job's state. */
  public static Optional<String> invalid(List<Param> params, Mode mode) {
    try {
      parse(params, mode);
      return Optional.empty();
    } catch (InvalidJobException e) {
      return Optional.of(e.getMessage());
    }
  }

  public static Result apply(Job job, List<Param> params, Mode mode, Instant now) {
    Changes c;
    try {
      c = parse(params, mode);
    } catch (InvalidJobException e) {
      return Result.refused(Outcome.Status.INVALID, e.getMessage());
    }
    boolean anything = c.stage.isPresent() || c.health.isPresent() || c.readiness.isPresent()
        || !c.fields.isEmpty() || c.renewSeconds.isPresent();
    if (!anything) {
      return Result.unchanged();
    }
    if (job.isRetired()) {
      return Result.refused(Outcome.Status.LOCKED,
          "job " + job.id() + " is " + job.stage().wireName() + " and its data "
              + job.readiness().wireName() + ": it takes no more updates");
    }
    Optional<JobStage> stage = c.stage.filter(s -> s != job.stage());
    if (stage.isPresent()) {
      JobStage next = stage.get();
      if (job.stage().isFinal()) {
        return Result.refused(Outcome.Status.CONFLICT, "job " + job.id() + " is already "
            + job.stage().wireName() + "; it cannot move to " + next.wireName());
      }
      if (next == JobStage.CANCEL) {
        return Result.refused(Outcome.Status.CONFLICT,
            "job " + job.id() + " is " + job.stage().wireName() + "; only a job in submit can be cancelled");
      }
      if (next.ordinal() < job.stage().ordinal()) {
        return Result.refused(Outcome.Status.CONFLICT, "job " + job.id() + " is "
            + job.stage().wireName() + "; stages never go back to " + next.wireName());
      }
    }

    if (c.readiness.isPresent() && job.readiness().isSettled() && c.readiness.get() != job.readiness()) {
      // settled data (statistics extracted, or none to come) does not go back: a late
      // "uploading" would open the job to uploads again and drop its statistics
      String why = "job " + job.id() + "'s data is already " + job.readiness().wireName()
          + "; it does not become " + c.readiness.get().wireName();
      if (mode == Mode.STRICT) {
        return Result.refused(Outcome.Status.CONFLICT, why);
      }
      job.record("last_refused_update", why);
      c = new Changes(c.stage, c.health, Optional.empty(), c.fields, c.renewSeconds);
    }
    boolean beforeItRuns = job.stage() == JobStage.DISPATCH || job.stage() == JobStage.BOOT;
    if (beforeItRuns) {
      // its package (job.sh) is made from what it was submitted with when its box downloads it,
      // and a job that goes back to the queue is the next box's as it was submitted: no update
      // changes that before the job runs (a legacy call carries no token; a token is anyone's
      // who asked jobs/dispatch)
      List<String> kept = c.fields.keySet().stream().filter(n -> job.has(n) && !job.addedByUpdate(n)).toList();
      if (!kept.isEmpty()) {
        String why = "job " + job.id() + " is " + job.stage().wireName() + ": what it was submitted with does"
            + " not change before it runs (" + String.join(", ", kept.subList(0, Math.min(10, kept.size()))) + ")";
        if (mode == Mode.STRICT) {
          return Result.refused(Outcome.Status.INVALID, why);
        }
        kept.forEach(c.fields::remove);
        job.record("last_refused_update", why);
      }
    }
    JobStage after = stage.orElse(job.stage());
    if (mode == Mode.LEGACY && c.renewSeconds.isPresent() && after.ordinal() < JobStage.SETUP.ordinal()) {
      // lkp-renew runs on a box that has booted: before that, a renew without a token would only
      // hold a job whose box is gone from going back to the queue (for up to 30 days)
      job.record("last_refused_update", "job " + job.id() + " is " + after.wireName()
          + ": not renewed before it runs");
      c = new Changes(c.stage, c.health, c.readiness, c.fields, Optional.empty());
    }
    List<String> added = c.fields.keySet().stream().filter(n -> !job.has(n)).toList();
    if (!added.isEmpty() && job.namesRecorded() + added.size() > MAX_RECORDED_NAMES) {
      // the legacy calls are open to anyone who knows a job's id: without a bound, calls with
      // new names grew a job, its copy in memory and each write of it, without end. Counted
      // apart from what the job was submitted with, so a large job still takes its reports
      String why = "job " + job.id() + " has had " + MAX_RECORDED_NAMES
          + " names recorded by updates, the most it takes; " + added.size() + " new ones not recorded";
      if (mode == Mode.STRICT) {
        return Result.refused(Outcome.Status.INVALID, why);
      }
      added.forEach(c.fields::remove);
      job.record("last_refused_update", why);
      added = List.of();
    }
    // what it was submitted with stays beside what overwrites it: its package is made from that
    c.fields.keySet().forEach(job::keepSubmitted);
    c.fields.forEach(job::record);
    job.noteAddedNames(added);
    c.renewSeconds.ifPresent(s -> job.record("renew_deadline", now.plusSeconds(s).toString()));
    c.health.ifPresent(job::setHealth);
    if (stage.isPresent()) {
      JobStage next = stage.get();
      job.setStage(next, now);
      if (next.isFinal() && next != JobStage.FINISH) {
        // the terminal alternatives name their own health, and nothing will be uploaded
        if (c.health.isEmpty() && !job.health().isBad()) {
          JobHealth.fromName(next.wireName()).ifPresent(job::setHealth);
        }
        if (!job.readiness().isSettled()) {
          job.setReadiness(DataReadiness.NORUN);
        }
      }
    }
    if (job.health().isBad() && !job.stage().isFinal()) {
      job.setStage(JobStage.FINISH, now);
    }
    // stage cancel or later implies norun (DOMAIN.md), whatever readiness came with it: such a
    // stage has no deadline, and a job there with data "uploading" stayed in memory for good
    if (!job.stage().isFinal() || job.stage() == JobStage.FINISH) {
      c.readiness.ifPresent(job::setReadiness);
    }
    return Result.applied();
  }

  private static Changes parse(List<Param> params, Mode mode) {
    JobStage stage = null;
    JobHealth health = null;
    DataReadiness readiness = null;
    Long renew = null;
    Map<String, String> fields = new LinkedHashMap<>();
    for (Param p : params) {
      String name = p.name().trim();
      String value = p.value() == null ? "" : p.value().trim();
      if (IDENTITY_PARAMS.contains(name)) {
        continue;
      }
      if (STATE_PARAMS.contains(name)) {
        Object v = classify(name, value);
        if (v instanceof JobStage s) {
          stage = s;
        } else if (v instanceof JobHealth h) {
          health = h;
        } else if (v instanceof DataReadiness r) {
          readiness = r;
        } else if (mode == Mode.LEGACY) {
          fields.put("last_reported_state", value);
        } else {
          throw new InvalidJobException(name + ": '" + value
              + "' is not a stage, a health or a data readiness");
        }
      } else if (name.equals("renew_seconds") || (mode == Mode.LEGACY && name.equals("timeout"))) {
        renew = renewSeconds(name, value, mode);
      } else if (name.equals("job_step")) {
        fields.put("job_step", value);
      } else if (isProtected(name)) {
        if (mode == Mode.STRICT) {
          throw new InvalidJobException(name + ": set by the scheduler or at submit, not by an update");
        }
      } else if (name.isEmpty()) {
        if (mode == Mode.STRICT) {
          throw new InvalidJobException("a parameter without a name");
        }
      } else {
        fields.put(name, value);
      }
    }
    return new Changes(Optional.ofNullable(stage), Optional.ofNullable(health),
        Optional.ofNullable(readiness), fields, Optional.ofNullable(renew));
  }

  private static boolean isProtected(String name) {
    if (name.startsWith("_") || PROTECTED_FIELDS.contains(name)
        || JobIntake.SECRET_FIELDS.contains(name)) {
      return true;
    }
    for (JobStage s : JobStage.values()) {
      if (s.timeField().equals(name)) {
        return true;
      }
    }
    return false;
  }

  private static Long renewSeconds(String name, String value, Mode mode) {
    try {
      long s = Long.parseLong(value);
      if (s < 0) {
        throw new NumberFormatException();
      }
      return Math.min(s, MAX_RENEW.toSeconds());
    } catch (NumberFormatException e) {
      if (mode == Mode.LEGACY) {
        return null;
      }
      throw new InvalidJobException(name + ": '" + value + "' is not a whole number of seconds");
    }
  }

  /** The param's own table first, then stage, health and readiness; null when none knows it. */
  static Object classify(String param, String raw) {
    String value = LEGACY_NAMES.getOrDefault(Names.normalize(raw), raw);
    Optional<?> own = switch (param) {
      case "job_stage" -> JobStage.fromName(value);
      case "job_health" -> JobHealth.fromName(value);
      case "job_data_readiness" -> DataReadiness.fromName(value);
      default -> Optional.empty();
    };
    if (own.isPresent()) {
      return own.get();
    }
    Optional<?> any = JobStage.fromName(value);
    if (any.isEmpty()) {
      any = JobHealth.fromName(value);
    }
    if (any.isEmpty()) {
      any = DataReadiness.fromName(value);
    }
    return any.orElse(null);
  }

  /** What {@link #apply} did. */
  public record Result(boolean changed, Outcome.Status refusal, String message) {
    static Result applied() {
      return new Result(true, null, "");
    }

    static Result unchanged() {
      return new Result(false, null, "");
    }

    static Result refused(Outcome.Status status, String message) {
      return new Result(false, status, message);
    }

    public boolean refused() {
      return refusal != null;
    }
  }
}
