package org.compassci.sched.http;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.compassci.sched.actors.HostRegistryActor;
import org.compassci.sched.actors.LifecycleActor;
import org.compassci.sched.model.JobUpdate;
import org.compassci.sched.model.Json;
import org.compassci.sched.model.Outcome;

/**
 * The last lkp-tests calls: {@code report_ssh_port} and {@code report_ssh_info} (stored on the
 * job), {@code renew_deadline} and {@code get_deadline} ({@code sbin/lkp-renew}). Plain text, as
 * the box's curl and busybox wget read it.
 */
public final class LkpRoutes extends AllDirectives {

  /** The deadline as lkp-renew hands it to {@code date -d}. */
  static final DateTimeFormatter DEADLINE =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ssZ").withZone(ZoneOffset.UTC);

  private final Gateway gw;

  public LkpRoutes(Gateway gw) {
    this.gw = gw;
  }

  public Route routes() {
    return concat(
        pathPrefix("~lkp", () -> pathPrefix("cgi-bin", () -> concat(
            path("report_ssh_port", () -> get(() -> parameterMap(this::sshPort))),
            path("report_ssh_info", () -> post(() -> withSizeLimit(gw.maxBodyBytes(), () ->
                entity(Unmarshaller.entityToString(), this::sshInfo))))))),
        path("renew_deadline", () -> get(() -> parameterMap(this::renew))),
        path("get_deadline", () -> get(() -> parameterMap(this::deadlineOfTestbox))));
  }

  private Route sshPort(Map<String, String> q) {
    List<JobUpdate.Param> params = new ArrayList<>();
    params.add(new JobUpdate.Param("ssh_port", q.getOrDefault("ssh_port", "")));
    // the box names itself: a job handed to another box is not changed
    if (q.containsKey("tbox_name")) {
      params.add(new JobUpdate.Param("tbox_name", q.get("tbox_name")));
    }
    return update(q.get("job_id"), params);
  }

  /** {@code {"tbox_name","job_id","ssh_port","message"}}; an empty ssh_port is left out, as Compass-CI does. */
  private Route sshInfo(String body) {
    JsonNode info;
    try {
      info = gw.jobFiles().limits().parseJson(body.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    } catch (org.compassci.sched.model.TooLargeException e) {
      return complete(Responses.text(StatusCodes.PAYLOAD_TOO_LARGE, e.getMessage()));
    } catch (IllegalArgumentException e) {
      return complete(Responses.text(StatusCodes.BAD_REQUEST, e.getMessage()));
    }
    if (!info.isObject()) {
      return complete(Responses.text(StatusCodes.BAD_REQUEST, "the body must be a JSON object"));
    }
    List<JobUpdate.Param> params = new ArrayList<>();
    String port = info.path("ssh_port").asText("");
    if (!port.isBlank()) {
      params.add(new JobUpdate.Param("ssh_port", port));
    }
    if (info.hasNonNull("message")) {
      params.add(new JobUpdate.Param("ssh_message", info.get("message").asText()));
    }
    if (info.hasNonNull("tbox_name")) {
      params.add(new JobUpdate.Param("tbox_name", info.get("tbox_name").asText()));
    }
    return update(info.path("job_id").asText(null), params);
  }

  private Route update(String idText, List<JobUpdate.Param> params) {
    long id;
    try {
      id = Long.parseLong(idText == null ? "" : idText.trim());
    } catch (NumberFormatException e) {
      // no such job: the one refusal of the legacy calls
      return complete(Responses.text(StatusCodes.NOT_FOUND, "job_id: '" + idText + "' is not a job id"));
    }
    return completeWithFuture(gw.<LifecycleActor.Command, Outcome>ask(gw.lifecycle(),
            r -> new LifecycleActor.Update(id, params, JobUpdate.Mode.LEGACY, r))
        .thenApply(o -> o.status() != Outcome.Status.OK
            ? Responses.text(Responses.statusOf(o.status()), o.message())
            : Responses.text(StatusCodes.OK, o.message().startsWith("ignored: ") ? o.message() : "Done"))
        .exceptionally(Responses::unavailable));
  }

  /** {@code renew_deadline?job_id=&time=<s>}: the deadline moves to now + time; answers the new one. */
  private Route renew(Map<String, String> q) {
    long id;
    long seconds;
    try {
      id = Long.parseLong(q.getOrDefault("job_id", "").trim());
    } catch (NumberFormatException e) {
      return complete(Responses.text(StatusCodes.BAD_REQUEST, "job_id: '" + q.getOrDefault("job_id", "") + "' is not a job id"));
    }
    try {
      seconds = Long.parseLong(q.getOrDefault("time", "").trim());
      if (seconds <= 0) {
        throw new NumberFormatException();
      }
    } catch (NumberFormatException e) {
      return complete(Responses.text(StatusCodes.BAD_REQUEST, "time: '" + q.getOrDefault("time", "") + "' is not a number of seconds"));
    }
    return completeWithFuture(gw.<LifecycleActor.Command, Outcome>ask(gw.lifecycle(),
            // a call without a token, as lkp-tests' other calls: not before the job runs
            r -> new LifecycleActor.Update(id, List.of(new JobUpdate.Param("renew_seconds", Long.toString(seconds))),
                JobUpdate.Mode.LEGACY, r))
        .thenCompose(o -> o.status() == Outcome.Status.OK ? deadline(id)
            : CompletableFuture.completedFuture(Responses.text(Responses.statusOf(o.status()), o.message())))
        .exceptionally(Responses::unavailable));
  }

  /** {@code get_deadline?testbox=}: the deadline of the job the box runs now. */
  private Route deadlineOfTestbox(Map<String, String> q) {
    String testbox = q.getOrDefault("testbox", "").trim();
    if (testbox.isEmpty()) {
      return complete(Responses.text(StatusCodes.BAD_REQUEST, "testbox: required"));
    }
    return completeWithFuture(gw.<HostRegistryActor.Command, Outcome>ask(gw.hosts(),
            r -> new HostRegistryActor.Get(testbox, r))
        .thenCompose(host -> {
          if (host.status() != Outcome.Status.OK) {
            return CompletableFuture.completedFuture(Responses.text(StatusCodes.NOT_FOUND, host.message()));
          }
          String job = host.job().path("current_job").asText("");
          if (job.isEmpty()) {
            return CompletableFuture.completedFuture(Responses.text(StatusCodes.NOT_FOUND, "testbox " + testbox + " runs no job"));
          }
          return deadline(Long.parseLong(job));
        })
        .exceptionally(Responses::unavailable));
  }

  private CompletionStage<HttpResponse> deadline(long id) {
    return gw.<LifecycleActor.Command, Outcome>ask(gw.lifecycle(), r -> new LifecycleActor.GetDeadline(id, r))
        .thenApply(o -> o.status() == Outcome.Status.OK
            ? Responses.text(StatusCodes.OK, DEADLINE.format(Instant.parse(o.job().path("deadline").asText())))
            : Responses.text(Responses.statusOf(o.status()), o.message()));
  }
}
