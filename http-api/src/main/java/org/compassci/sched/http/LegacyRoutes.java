package org.compassci.sched.http;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.compassci.sched.actors.LifecycleActor;
import org.compassci.sched.model.JobUpdate;
import org.compassci.sched.model.Outcome;

/**
 * /~lkp/cgi-bin/...: the calls lkp-tests makes from a testbox with busybox wget. Busybox cannot
 * read an error answer, so these never refuse a value: unknown ones are recorded and answered
 * 200; only a missing or unknown job_id is refused.
 */
public final class LegacyRoutes extends AllDirectives {

  private final Gateway gw;

  public LegacyRoutes(Gateway gw) {
    this.gw = gw;
  }

  public Route routes() {
    return pathPrefix("~lkp", () -> pathPrefix("cgi-bin", () -> concat(
        path("lkp-jobfile-append-var", () -> parameterList(q -> update(q, List.of()))),
        path("set-job-stage", () -> parameterList(q -> update(q, List.of()))),
        path("report-job-step", () -> parameterList(q -> update(q, List.of()))),
        path("lkp-post-run", () -> parameterList(q -> update(q, List.of(
            new JobUpdate.Param("job_stage", "finish"),
            new JobUpdate.Param("job_data_readiness", "uploaded"))))),
        path("lkp-wtmp", () -> complete(Responses.text(StatusCodes.OK, "ok"))))));
  }

  private Route update(List<Map.Entry<String, String>> query, List<JobUpdate.Param> implied) {
    String idText = query.stream().filter(e -> e.getKey().equals("job_id"))
        .map(Map.Entry::getValue).findFirst().orElse("").trim();
    long id;
    try {
      id = Long.parseLong(idText);
    } catch (NumberFormatException e) {
      // no such job: the one refusal the legacy routes make (DOMAIN.md)
      return complete(Responses.text(StatusCodes.NOT_FOUND,
          "job_id: '" + idText + "' is not a job id"));
    }
    List<JobUpdate.Param> params = new ArrayList<>();
    query.forEach(e -> params.add(new JobUpdate.Param(e.getKey(), e.getValue())));
    params.addAll(implied);
    return completeWithFuture(gw.<LifecycleActor.Command, Outcome>ask(gw.lifecycle(),
            r -> new LifecycleActor.Update(id, params, JobUpdate.Mode.LEGACY, r))
        .thenApply(LegacyRoutes::answer)
        .exceptionally(Responses::unavailable));
  }

  private static HttpResponse answer(Outcome o) {
    return o.status() == Outcome.Status.OK
        ? Responses.text(StatusCodes.OK, o.message().isEmpty() ? "ok" : o.message())
        : Responses.text(Responses.statusOf(o.status()), o.message());
  }
}
