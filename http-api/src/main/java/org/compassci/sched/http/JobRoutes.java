package org.compassci.sched.http;

import static org.apache.pekko.http.javadsl.server.PathMatchers.longSegment;
import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.model.headers.RetryAfter;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.apache.pekko.util.ByteString;
import org.compassci.sched.actors.IdempotencyActor;
import org.compassci.sched.actors.LifecycleActor;
import org.compassci.sched.actors.MatcherActor;
import org.compassci.sched.actors.PersistenceActor;
import org.compassci.sched.auth.AccountRules;
import org.compassci.sched.auth.Caller;
import org.compassci.sched.model.InvalidJobException;
import org.compassci.sched.model.JobFile;
import org.compassci.sched.model.JobIntake;
import org.compassci.sched.model.JobUpdate;
import org.compassci.sched.model.Json;
import org.compassci.sched.model.Outcome;
import org.compassci.sched.model.TooLargeException;

/** /scheduler/v1/jobs/...: submit, read, update and cancel. */
public final class JobRoutes extends AllDirectives {

  private final Gateway gw;
  /** Seals a job's secrets at submit; null: secrets are dropped like other credentials. */
  private final org.compassci.sched.boot.Sealer secrets;
  private final Auth auth;

  public JobRoutes(Gateway gw) {
    this(gw, null);
  }

  public JobRoutes(Gateway gw, org.compassci.sched.boot.Sealer secrets) {
    this(gw, secrets, Auth.legacy(Optional.empty()));
  }

  public JobRoutes(Gateway gw, org.compassci.sched.boot.Sealer secrets, Auth auth) {
    this.gw = gw;
    this.secrets = secrets;
    this.auth = auth;
  }

  /** lkp-tests' {@code submit} posts each job to {@code /submit_job}: the same as jobs/submit. */
  public Route legacySubmit() {
    return path("submit_job", () -> post(this::submit));
  }

  public Route routes() {
    return concat(
        path(segment("jobs").slash("submit"), () -> post(this::submit)),
        path("jobs", () -> get(() -> auth.read(() -> parameterOptional("submit_id", this::run)))),
        path(segment("jobs").slash(longSegment()), id -> get(() -> auth.read(() -> read(id)))),
        path(segment("jobs").slash(longSegment()).slash("update"),
            id -> post(() -> extractRequest(request -> parameterList(params -> updateBy(request, id, params))))),
        path(segment("jobs").slash(longSegment()).slash("cancel"),
            id -> post(() -> auth.account(caller -> cancel(id, caller)))));
  }

  private Route submit() {
    return extractRequest(declared -> {
      // a body declared too large is refused unread (HttpServer drops it before the 413 goes out)
      var length = declared.entity().getContentLengthOption();
      if (length.isPresent() && length.getAsLong() > gw.maxBodyBytes()) {
        return complete(rejected(413, tooLarge()));
      }
      return boundedSubmit();
    });
  }

  /**
   * A body streamed without a declared length and over the limit is found too large only while
   * it is read: the submit's own shape (a list of one refused job), as for a declared one; so is
   * a body cut short.
   */
  private org.apache.pekko.http.javadsl.server.RejectionHandler unreadableBody() {
    return org.apache.pekko.http.javadsl.server.RejectionHandler.newBuilder()
        // every body that cannot be read is answered here: a handler that rejects again runs
        // again, until Pekko gives up with a 500
        .handle(org.apache.pekko.http.javadsl.server.MalformedRequestContentRejection.class, r ->
            complete(r.getCause() instanceof org.apache.pekko.http.scaladsl.model.EntityStreamSizeException
                ? rejected(413, tooLarge())
                : rejected(400, "the request body could not be read: " + r.message())))
        .build();
  }

  private String tooLarge() {
    return "the request body is larger than scheduler.http.max-body (" + gw.maxBodyBytes() + " bytes)";
  }

  private Route boundedSubmit() {
    return handleRejections(unreadableBody(), () -> withSizeLimit(gw.maxBodyBytes(), () -> extractRequest(request -> {
      // a wrong token is refused before the body is read
      Optional<Auth.Result> bearer = auth.caller(request);
      if (bearer.isPresent() && !bearer.get().ok()) {
        return complete(rejected(bearer.get().status(), bearer.get().message()));
      }
      boolean yaml = request.entity().getContentType().mediaType().subType().contains("yaml");
      return entity(Unmarshaller.entityToByteString(), body -> submit(request, body, yaml));
    })));
  }

  /**
   * What a keyed retry's body is compared by: its bytes, after the format's name. Read as UTF-8
   * text first, bodies the parser reads in another encoding (UTF-16) lost their differences to
   * replacement characters, and a changed body was answered with the first one's jobs. For a
   * UTF-8 body the digest is what it was, so keys stored before keep matching.
   */
  static String bodyDigest(boolean yaml, ByteString body) {
    try {
      java.security.MessageDigest sha = java.security.MessageDigest.getInstance("SHA-256");
      sha.update((yaml ? "yaml\n" : "json\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      sha.update(body.asByteBuffer());
      return java.util.HexFormat.of().formatHex(sha.digest());
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JVM", e);
    }
  }

  /** An Idempotency-Key: 1 to 255 visible ASCII characters. */
  static boolean validKey(String key) {
    return !key.isEmpty() && key.length() <= 255 && key.chars().allMatch(c -> c > 32 && c < 127);
  }

  /**
   * A JSON job or array of jobs, taken as written; or a YAML job file, read as the command line
   * reads it (an lkp-tests job file is expanded into its jobs). The submitter is checked before
   * the jobs: a bearer token, or Compass-CI's my_account and my_token in each job.
   */
  private Route submit(HttpRequest request, ByteString body, boolean yaml) {
    Optional<String> key = request.getHeader("Idempotency-Key").map(h -> h.value().trim());
    if (key.isPresent() && !validKey(key.get())) {
      return complete(rejected(400, "Idempotency-Key: give 1 to 255 visible ASCII characters, one per submit"));
    }
    List<ObjectNode> raw;
    try {
      raw = JobFile.read(body.toArray(), yaml ? JobFile.Format.YAML : JobFile.Format.JSON, gw.jobFiles());
    } catch (TooLargeException e) {
      return complete(rejected(413, e.getMessage()));
    } catch (InvalidJobException e) {
      return complete(rejected(List.of(e.getMessage())));
    }
    Auth.Result who = auth.submitter(request, raw);
    if (!who.ok()) {
      return complete(rejected(who.status(), who.message()));
    }
    Optional<String> notYours = auth.claimOwnership(who, raw);
    if (notYours.isPresent()) {
      return complete(rejected(403, notYours.get()));
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
    int cap = auth.access().maxQueued();
    if (key.isPresent() && auth.submits() != null) {
      String account = who.caller().authenticated() ? who.caller().account() : Auth.text(raw.get(0), "my_account");
      if (account.length() > org.compassci.sched.auth.AccountRules.MAX_NAME) {
        // open mode: keys are kept per account, under a name as long as an account's; a longer
        // one would fail the store's whole group commit, every request in it
        return complete(rejected(400, "my_account: an Idempotency-Key is kept per account, whose name is at most "
            + org.compassci.sched.auth.AccountRules.MAX_NAME + " characters"));
      }
      String digest = bodyDigest(yaml, body);
      return completeWithFuture(gw.<IdempotencyActor.Command,
              IdempotencyActor.Result>ask(auth.submits(),
              r -> new IdempotencyActor.Submit(account, key.get(), digest, drafts, cap, r))
          .thenApply(JobRoutes::submittedOnce)
          .exceptionally(f -> notStored(f, true)));
    }
    // without a key a retry is a new submit: one the matcher takes up after half the ask's time
    // (waiting for its queue to load) is dropped, so that a client told 503 finds nothing stored
    long answerBy = System.currentTimeMillis() + gw.askTimeout().toMillis() / 2;
    return completeWithFuture(gw.<MatcherActor.Command, MatcherActor.SubmitResult>ask(gw.matcher(),
            r -> new MatcherActor.SubmitAs(drafts, cap, Optional.empty(), answerBy, r))
        .thenApply(JobRoutes::submitted)
        .exceptionally(f -> notStored(f, false)));
  }

  private static HttpResponse submittedOnce(IdempotencyActor.Result r) {
    if (r instanceof IdempotencyActor.Fresh f) {
      return submitted(f.result());
    }
    if (r instanceof IdempotencyActor.Replayed again) {
      // byte for byte the first answer; the header says it is one (as Stripe's API does)
      return Responses.jsonBytes(StatusCodes.OK, again.answer().getBytes(StandardCharsets.UTF_8))
          .addHeader(RawHeader.create("Idempotent-Replayed", "true"));
    }
    if (r instanceof IdempotencyActor.Mismatch m) {
      return rejected(422, m.message());
    }
    return rejected(503, ((IdempotencyActor.Unavailable) r).message())
        .addHeader(RetryAfter.create(1L));
  }

  /**
   * The actors did not answer in time: Compass-CI's shape, 503, try again. A keyed submit may yet
   * be stored, and its key makes a retry safe. The matcher drops a keyless one it takes up too
   * late, so a timeout then almost always means nothing was stored; a commit slower than the rest
   * of the ask's time may still have stored it, which its submit_id tells.
   */
  private static HttpResponse notStored(Throwable failure, boolean keyed) {
    Throwable t = failure instanceof CompletionException && failure.getCause() != null
        ? failure.getCause() : failure;
    String why = !(t instanceof TimeoutException) ? "scheduler unavailable, try again: " + t.getMessage()
        : keyed ? "the scheduler did not answer in time; the jobs may yet be stored: retry with the same"
            + " Idempotency-Key to be sure of one set of jobs"
        : "the scheduler did not answer in time; the jobs were most likely not stored (a slow store may"
            + " still have stored them: look them up by submit_id); send an Idempotency-Key to retry safely";
    return rejected(503, why).addHeader(RetryAfter.create(1L));
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
    if (r.overLimit().isPresent()) {
      return rejected(429, r.overLimit().get())
          .addHeader(RetryAfter.create(30L));
    }
    if (r.error().isPresent()) {
      ArrayNode out = Json.MAPPER.createArrayNode();
      out.addObject().put("job_id", "0").put("message", "not stored, try again: " + r.error().get());
      return Responses.json(StatusCodes.SERVICE_UNAVAILABLE, out)
          .addHeader(RetryAfter.create(1L));
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

  /** Compass-CI's shape of a refused submit, {@code [{"job_id":"0","message":...}]}, with its status. */
  static HttpResponse rejected(int status, String why) {
    ArrayNode out = Json.MAPPER.createArrayNode();
    out.addObject().put("job_id", "0").put("message", why);
    return Auth.challenge(Responses.json(StatusCodes.get(status), out), status);
  }

  /**
   * {@code jobs?submit_id=}: the jobs of one run of lkp-tests' submit, which sends one submit_id
   * with every job it makes, so that a whole run can be listed and followed.
   */
  private Route run(Optional<String> submitId) {
    String id = submitId.orElse("").trim();
    if (id.isEmpty() || id.length() > 255) {
      return complete(Responses.error(StatusCodes.BAD_REQUEST, "submit_id: give the submit_id of a run (1 to 255 characters)"));
    }
    int most = gw.watchMaxJobs();
    // one more than listed: whether the run has more than the list shows
    return completeWithFuture(gw.<PersistenceActor.Command,
            PersistenceActor.RunFound>ask(gw.store(),
            r -> new PersistenceActor.FindRun(id, most + 1, r))
        .thenCompose(found -> {
          if (found.error().isPresent()) {
            return CompletableFuture.completedFuture(
                Responses.error(StatusCodes.SERVICE_UNAVAILABLE, "store unavailable: " + found.error().get()));
          }
          boolean more = found.ids().size() > most;
          List<CompletableFuture<Outcome>> each = found.ids().stream().limit(most)
              .map(job -> gw.<LifecycleActor.Command, Outcome>ask(gw.lifecycle(), r -> new LifecycleActor.Get(job, r)))
              .toList();
          return CompletableFuture.allOf(each.toArray(CompletableFuture[]::new))
              .thenApply(v -> {
                ObjectNode body = Json.object().put("submit_id", id);
                ArrayNode jobs = body.putArray("jobs");
                for (var f : each) {
                  Outcome o = f.join();
                  if (o.job() != null) {
                    ObjectNode row = jobs.addObject();
                    for (String field : List.of("id", "suite", "testbox", "my_account", "job_stage", "job_health",
                        "job_data_readiness", "result_root")) {
                      row.set(field.equals("id") ? "job_id" : field, o.job().path(field));
                    }
                  }
                }
                body.put("total", jobs.size());
                if (more) {
                  // a watcher following "the run" must not take these for all of it
                  body.put("truncated", true);
                }
                return Responses.json(StatusCodes.OK, body);
              });
        })
        .exceptionally(Responses::unavailable));
  }

  /**
   * A testbox moves its job with the job_token it was handed; an admin may move any job. In
   * open mode anyone may, as before (a job_token given is still checked).
   */
  private Route updateBy(HttpRequest request, long id,
      List<Map.Entry<String, String>> query) {
    boolean token = query.stream().anyMatch(e -> e.getKey().equals("job_token") && !e.getValue().isBlank());
    if (!token && !auth.open()) {
      Optional<Auth.Result> who = auth.caller(request);
      if (who.isEmpty()) {
        return auth.deny(401, "an update needs the job's job_token (its testbox has it) or an admin's bearer token");
      }
      if (!who.get().ok()) {
        return auth.deny(who.get().status(), who.get().message());
      }
      if (!who.get().caller().admin()) {
        return auth.deny(403, "only the testbox holding job " + id + " (its job_token) or an admin may update it");
      }
    }
    return update(id, query);
  }

  /** The job's owner or an admin; in open mode anyone. */
  private Route cancel(long id, Caller caller) {
    if (!caller.authenticated() || caller.admin()) {
      return cancel(id);
    }
    return completeWithFuture(gw.<LifecycleActor.Command, Outcome>ask(gw.lifecycle(), r -> new LifecycleActor.Get(id, r))
        .thenCompose(o -> {
          if (o.status() != Outcome.Status.OK) {
            return CompletableFuture.completedFuture(Responses.outcome(o));
          }
          String owner = o.job().path("my_account").asText("");
          if (!AccountRules.mayEnd(caller, owner)) {
            return CompletableFuture.completedFuture(Auth.denied(403,
                "job " + id + " is not " + caller.account() + "'s: only its owner or an admin may cancel it"));
          }
          return gw.<MatcherActor.Command, Outcome>ask(gw.matcher(), r -> new MatcherActor.Cancel(id, r))
              .thenApply(Responses::outcome);
        })
        .exceptionally(Responses::unavailable));
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
