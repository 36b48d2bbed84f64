package org.compassci.sched.http;

import static org.apache.pekko.http.javadsl.server.PathMatchers.longSegment;
import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.apache.pekko.util.ByteString;
import org.compassci.sched.actors.LifecycleActor;
import org.compassci.sched.actors.MatcherActor;
import org.compassci.sched.model.InvalidJobException;
import org.compassci.sched.model.JobFile;
import org.compassci.sched.model.JobIntake;
import org.compassci.sched.model.JobUpdate;
import org.compassci.sched.model.Json;
import org.compassci.sched.model.Outcome;

/** /scheduler/v1/jobs/...: submit, read, update and cancel. */
public final class JobRoutes extends AllDirectives {

  private final Gateway gw;
  /** Seals a job's secrets at submit; null: secrets are dropped like other credentials. */
  private final org.compassci.sched.boot.Sealer secrets;

  public JobRoutes(Gateway gw) {
    this(gw, null);
  }

  public JobRoutes(Gateway gw, org.compassci.sched.boot.Sealer secrets) {
    this.gw = gw;
    this.secrets = secrets;
  }

  /** lkp-tests' {@code submit} posts each job to {@code /submit_job}: the same as jobs/submit. */
  public Route legacySubmit() {
    return path("submit_job", () -> post(this::submit));
  }

  public Route routes() {
    return concat(
        path(segment("jobs").slash("submit"), () -> post(this::submit)),
        path(segment("jobs").slash(longSegment()), id -> get(() -> read(id))),
        path(segment("jobs").slash(longSegment()).slash("update"),
            id -> post(() -> parameterList(params -> update(id, params)))),
        path(segment("jobs").slash(longSegment()).slash("cancel"), id -> post(() -> cancel(id))));
  }

  private Route submit() {
    return withSizeLimit(gw.maxBodyBytes(), () -> extractRequest(request -> {
      boolean yaml = request.entity().getContentType().mediaType().subType().contains("yaml");
      return entity(Unmarshaller.entityToByteString(), body -> submit(body, yaml));
    }));
  }

  /**
   * A JSON job or array of jobs, taken as written; or a YAML job file, read as the command line
   * reads it (an lkp-tests job file is expanded into its jobs).
   */
  private Route submit(ByteString body, boolean yaml) {
    List<ObjectNode> raw;
    try {
      raw = JobFile.read(body.toArray(), yaml ? JobFile.Format.YAML : JobFile.Format.JSON, gw.jobFiles());
    } catch (InvalidJobException e) {
      return complete(rejected(List.of(e.getMessage())));
    }
    List<JobIntake.Draft> drafts = new ArrayList<>(raw.size());
    List<String> problems = new ArrayList<>(raw.size());
    boolean bad = false;
    for (JsonNode j : raw) {
      try {
        JobIntake.Draft d = JobIntake.prepare(j);
        sealSecrets(j.get("secrets"), d);
        drafts.add(d);
        problems.add(null);
      } catch (InvalidJobException e) {
        problems.add(e.getMessage());
        bad = true;
      }
    }
    if (bad) {
      // all or nothing: a batch with one bad job stores none of them
      List<String> why = problems.stream()
          .map(p -> p != null ? p : "not submitted: another job in this request is invalid")
          .collect(Collectors.toList());
      return complete(rejected(why));
    }
    return completeWithFuture(gw.<MatcherActor.Command, MatcherActor.SubmitResult>ask(gw.matcher(),
            r -> new MatcherActor.Submit(drafts, r))
        .thenApply(JobRoutes::submitted)
        .exceptionally(Responses::unavailable));
  }

  /**
   * The job's {@code secrets} go into its package only: kept sealed ({@code _secrets}, an internal
   * field no answer shows), never in clear in the store, a log or an answer.
   */
  private void sealSecrets(com.fasterxml.jackson.databind.JsonNode given, JobIntake.Draft d) {
    if (secrets == null || given == null || given.isNull()) {
      return;
    }
    if (!given.isObject()) {
      throw new org.compassci.sched.model.InvalidJobException("secrets: must be a mapping of names to values");
    }
    d.doc().put("_secrets", secrets.seal(Json.bytes(given)));
  }

  private static HttpResponse submitted(MatcherActor.SubmitResult r) {
    if (r.error().isPresent()) {
      ArrayNode out = Json.MAPPER.createArrayNode();
      out.addObject().put("job_id", "0").put("message", "not stored, try again: " + r.error().get());
      return Responses.json(StatusCodes.SERVICE_UNAVAILABLE, out)
          .addHeader(org.apache.pekko.http.javadsl.model.headers.RetryAfter.create(1L));
    }
    ArrayNode out = Json.MAPPER.createArrayNode();
    for (MatcherActor.Submitted s : r.jobs()) {
      out.addObject().put("job_id", Long.toString(s.id())).put("message", "")
          .put("job_state", "submit").put("result_root", s.resultRoot());
    }
    return Responses.json(StatusCodes.OK, out);
  }

  private static HttpResponse rejected(List<String> why) {
    ArrayNode out = Json.MAPPER.createArrayNode();
    for (String w : why) {
      out.addObject().put("job_id", "0").put("message", w);
    }
    return Responses.json(StatusCodes.BAD_REQUEST, out);
  }

  private Route read(long id) {
    return parameterOptional("fields", fields -> completeWithFuture(
        gw.<LifecycleActor.Command, Outcome>ask(gw.lifecycle(), r -> new LifecycleActor.Get(id, r))
            .thenApply(o -> Responses.outcome(trim(o, fields.orElse(""))))
            .exceptionally(Responses::unavailable)));
  }

  private static Outcome trim(Outcome o, String fields) {
    if (o.job() == null || fields.isBlank()) {
      return o;
    }
    Set<String> keep = Arrays.stream(fields.split(",")).map(String::trim).collect(Collectors.toSet());
    ObjectNode trimmed = Json.object();
    o.job().fields().forEachRemaining(e -> {
      if (keep.contains(e.getKey())) {
        trimmed.set(e.getKey(), e.getValue());
      }
    });
    return Outcome.ok(trimmed);
  }

  private Route update(long id, List<Map.Entry<String, String>> query) {
    List<JobUpdate.Param> params = query.stream()
        .map(e -> new JobUpdate.Param(e.getKey(), e.getValue())).collect(Collectors.toList());
    if (params.isEmpty()) {
      return complete(Responses.error(StatusCodes.BAD_REQUEST,
          "nothing to update: give job_stage, job_health, job_data_readiness, job_step or k=v"));
    }
    return completeWithFuture(gw.<LifecycleActor.Command, Outcome>ask(gw.lifecycle(),
            r -> new LifecycleActor.Update(id, params, JobUpdate.Mode.STRICT, r))
        .thenApply(Responses::outcome)
        .exceptionally(Responses::unavailable));
  }

  private Route cancel(long id) {
    return completeWithFuture(gw.<MatcherActor.Command, Outcome>ask(gw.matcher(),
            r -> new MatcherActor.Cancel(id, r))
        .thenApply(Responses::outcome)
        .exceptionally(Responses::unavailable));
  }
}
