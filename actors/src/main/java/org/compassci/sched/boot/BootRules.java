package org.compassci.sched.boot;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Optional;
import org.compassci.sched.model.DataReadiness;
import org.compassci.sched.model.Job;
import org.compassci.sched.model.JobStage;
import org.compassci.sched.model.Outcome;

/**
 * Who may fetch a job's package and who may upload its results. Plain rules over one job; the
 * lifecycle actor, which owns the job, asks them.
 */
public final class BootRules {

  /** An upload's answer: 200 with the job's result_root, or the status that refuses it and why. */
  public record Permit(int status, String message, String resultRoot)
      implements org.compassci.sched.model.CborSerializable {
    public boolean ok() {
      return status == 200;
    }

    static Permit refuse(int status, String message) {
      return new Permit(status, message, "");
    }
  }

  private BootRules() {}

  /**
   * A hand-out's package is served while the job holds that hand-out's token and is in dispatch
   * or boot, or is out on its box and the package was never fetched; afterwards its link is gone
   * (a CONFLICT, answered 410).
   */
  public static Outcome packageOf(Job job, String token) {
    if (!job.tokenMatches(token)) {
      return Outcome.of(Outcome.Status.CONFLICT, "this link belongs to an earlier hand-out of job " + job.id());
    }
    // a package never fetched is served while the job is out, whatever its stage: anyone's
    // legacy call can move a job on before its box fetched it, and the box would never boot
    boolean fetched = job.boxAddress().isPresent();
    if (job.stage().isFinal() || (fetched && job.stage() != JobStage.DISPATCH && job.stage() != JobStage.BOOT)) {
      return Outcome.of(Outcome.Status.CONFLICT, "job " + job.id() + " is " + job.stage().wireName()
          + ": its package is served only while it is in dispatch or boot");
    }
    return Outcome.ok(null);
  }

  /**
   * A job may upload while it is out on its testbox, and after it finished as long as its data is
   * not uploaded yet (a failed run still sends its logs); {@code token} (the compact upload shape)
   * must be the hand-out's, and is null for WebDAV, which names only the job. Such an upload of a
   * bare-metal job ({@code tbox_type} hw) comes from the address the job's package went to, and
   * not before the package went out ({@code from}: the uploader's; null: from anywhere). A VM's or
   * container's job is not bound, nor a package its host fetched ({@link Job#ANY_ADDRESS}): the
   * guest, on a bridge or the host's own docker network, uploads from an address of its own.
   */
  public static Permit upload(Job job, String token, String from) {
    if (token != null && !job.tokenMatches(token)) {
      return Permit.refuse(403, "job_token does not match job " + job.id() + "'s hand-out");
    }
    if (token == null && from != null && job.field("tbox_type").equals("hw")) {
      Optional<String> box = job.boxAddress();
      // a box learns of its job from the package: none uploads before it fetched it (whatever
      // the job's stage, which anyone's legacy call may have moved on)
      if (box.isEmpty()) {
        return Permit.refuse(403, "job " + job.id() + "'s package is not fetched yet: an upload without its"
            + " job_token is taken only from the address the package goes to (send the cookie JOB_TOKEN)");
      }
      if (!box.get().equals(from) && !box.get().equals(Job.ANY_ADDRESS)) {
        return Permit.refuse(403, "an upload without job " + job.id() + "'s job_token is taken only from the"
            + " address its package went to, not " + from + ": send the cookie JOB_TOKEN");
      }
    }
    DataReadiness r = job.readiness();
    if (r != DataReadiness.NA && r != DataReadiness.UPLOADING) {
      return Permit.refuse(423, "job " + job.id() + "'s data is already " + r.wireName());
    }
    if (job.stage() == JobStage.SUBMIT || (job.stage().isFinal() && job.stage() != JobStage.FINISH)) {
      return Permit.refuse(403, "job " + job.id() + " is " + job.stage().wireName() + ": it uploads nothing");
    }
    return new Permit(200, "", job.resultRoot());
  }

  /** The same for a job the lifecycle no longer holds: queued, or retired (read from the store). */
  public static Permit uploadStored(Outcome stored) {
    return switch (stored.status()) {
      case NOT_FOUND -> Permit.refuse(401, stored.message());
      case UNAVAILABLE -> Permit.refuse(503, stored.message());
      case DAMAGED -> Permit.refuse(500, stored.message());
      case OK -> {
        ObjectNode v = stored.job();
        String readiness = v.path("job_data_readiness").asText();
        yield DataReadiness.fromName(readiness).map(DataReadiness::isSettled).orElse(false)
            ? Permit.refuse(423, "job " + v.path("id").asText() + "'s data is already " + readiness)
            : Permit.refuse(403, "job " + v.path("id").asText() + " is " + v.path("job_stage").asText()
                + ": it uploads nothing");
      }
      default -> Permit.refuse(403, stored.message());
    };
  }
}
