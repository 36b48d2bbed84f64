package org.compassci.sched.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.compassci.sched.model.Json;

/**
 * A submitter's view of the kit's scheduler, over its HTTP API: what a submit wrapper, a bisect
 * driver or a result checker calls. Every call is bounded in real time (30 s unless said), so a
 * test that goes wrong fails instead of hanging. A refusal (4xx, 5xx) is thrown as a
 * {@link SchedulerException} carrying the status.
 */
public final class JobClient {

  /**
   * One HTTP answer, for calls the typed methods do not cover.
   *
   * @param status the HTTP status
   * @param body the body as text
   */
  public record Reply(int status, String body) {
    /** The body as JSON. */
    public JsonNode json() {
      return Json.parse(body);
    }
  }

  static final Duration CALL_TIMEOUT = Duration.ofSeconds(30);
  private static final String V1 = "/scheduler/v1";

  private final String baseUrl;
  private final HttpClient http;
  /** Sent as {@code Authorization: Bearer} when not null (a kit with accounts, tokens mode). */
  private final String token;

  JobClient(String baseUrl, HttpClient http) {
    this(baseUrl, http, null);
  }

  private JobClient(String baseUrl, HttpClient http, String token) {
    this.baseUrl = baseUrl;
    this.http = http;
    this.token = token;
  }

  /**
   * The same client, calling as the account whose token this is: for a kit started with
   * {@code setting("scheduler.auth.mode", "tokens")}, where submits, cancels and management need
   * an account.
   */
  public JobClient withToken(String bearer) {
    return new JobClient(baseUrl, http, bearer);
  }

  /**
   * Submits a job file: a JSON object or array, or else YAML, read as {@code jobs/submit} reads
   * it: lists make one job per value, {@code ---} documents are variations. Returns each job
   * made, in order.
   */
  public List<Submitted> submit(String jobFile) {
    // as the server and the command-line client tell them: {suite: s, testbox: dc-8g} begins
    // with a brace but is YAML (a flow mapping), and was sent as JSON, to a 400
    boolean json = org.compassci.sched.model.JobFile.Format.of(jobFile.getBytes(StandardCharsets.UTF_8))
        == org.compassci.sched.model.JobFile.Format.JSON;
    Reply r = send("submit", request(V1 + "/jobs/submit")
        .header("Content-Type", json ? "application/json" : "application/yaml")
        .POST(HttpRequest.BodyPublishers.ofString(jobFile)));
    List<Submitted> made = new ArrayList<>();
    for (JsonNode j : r.json()) {
      made.add(new Submitted(Long.parseLong(j.path("job_id").asText()), j.path("result_root").asText()));
    }
    return made;
  }

  /** Submits one job given as fields, e.g. {@code Map.of("suite", "hackbench", "testbox", "dc-8g")}. */
  public List<Submitted> submit(Map<String, ?> job) {
    return submit(Json.write(Json.MAPPER.valueToTree(job)));
  }

  /** Submits a job file that makes exactly one job, and returns its id. */
  public long submitOne(String jobFile) {
    List<Submitted> made = submit(jobFile);
    if (made.size() != 1) {
      throw new IllegalArgumentException("the job file made " + made.size() + " jobs, not one");
    }
    return made.get(0).id();
  }

  /** The job as it is now; a {@link SchedulerException} with 404 when it does not exist. */
  public JobView job(long id) {
    return new JobView((ObjectNode) send("job " + id, request(V1 + "/jobs/" + id).GET()).json());
  }

  /** Cancels a job still in submit; a {@link SchedulerException} with 409 when it is past submit. */
  public JobView cancel(long id) {
    return new JobView((ObjectNode) send("cancel " + id, request(V1 + "/jobs/" + id + "/cancel")
        .POST(HttpRequest.BodyPublishers.noBody())).json());
  }

  /** {@link #waitFor(long, String, Duration)} with 30 s. */
  public JobView waitFor(long id, String stage) {
    return waitFor(id, stage, CALL_TIMEOUT);
  }

  /**
   * Waits, with Compass-CI's {@code jobs/wait}, until the job is in {@code stage} or a later one
   * (stages compare by order, so {@code finish} also holds for a cancelled job), and returns it.
   * {@code realTimeout} is wall-clock time: with manual time nothing happens on a timer unless the
   * test advances it, so advance first, then wait. Fails with an {@link AssertionError} naming the
   * job's stage when the time runs out.
   */
  public JobView waitFor(long id, String stage, Duration realTimeout) {
    String body = Json.write(Json.object().set("wait_on",
        Json.object().set(Long.toString(id), Json.object().put("job_stage", stage))));
    long end = System.nanoTime() + realTimeout.toNanos();
    // each answer is either "holds" or "not yet, ask again" (after scheduler.wait.timeout)
    for (int round = 0; round < 10_000; round++) {
      long left = end - System.nanoTime();
      if (left <= 0) {
        break;
      }
      Reply r;
      try {
        r = send("wait " + id, request(V1 + "/jobs/wait").timeout(Duration.ofNanos(left))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body)));
      } catch (WaitTimedOut e) {
        break;
      }
      JsonNode waited = r.json().path("waited_jobs").path(Long.toString(id));
      if (waited.has("error")) {
        throw new SchedulerException("wait " + id, 404, waited.path("error").asText());
      }
      if (r.json().path("wait_on").isEmpty()) {
        return job(id);
      }
    }
    throw new AssertionError("job " + id + " did not reach " + stage + " within " + realTimeout
        + "; it is " + job(id).stage());
  }

  /** Queued jobs in all. */
  public int pending() {
    return send("pending", request(V1 + "/dashboard/jobs/pending").GET()).json().path("total").asInt();
  }

  /** Queued jobs by {@code my_account}, {@code tbox_group}, {@code arch} or {@code queue}. */
  public Map<String, Integer> pending(String groupBy) {
    JsonNode groups = send("pending", request(V1 + "/dashboard/jobs/pending?group_by="
        + URLEncoder.encode(groupBy, StandardCharsets.UTF_8)).GET()).json().path("groups");
    Map<String, Integer> out = new LinkedHashMap<>();
    groups.fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asInt()));
    return out;
  }

  /** GET any path of the API, e.g. {@code /metrics}; never throws for a status. */
  public Reply get(String pathAndQuery) {
    return sendRaw(request(pathAndQuery).GET());
  }

  /** POST {@code body} (JSON) to any path of the API; never throws for a status. */
  public Reply post(String pathAndQuery, String body) {
    return sendRaw(request(pathAndQuery).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body)));
  }

  HttpRequest.Builder request(String pathAndQuery) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(baseUrl + pathAndQuery)).timeout(CALL_TIMEOUT);
    return token == null ? b : b.header("Authorization", "Bearer " + token);
  }

  /** The answer, or a SchedulerException for any status but 2xx. */
  Reply send(String call, HttpRequest.Builder request) {
    Reply r = sendRaw(request);
    if (r.status() / 100 != 2) {
      throw new SchedulerException(call, r.status(), r.body());
    }
    return r;
  }

  /** The body of a GET of an absolute URL the scheduler gave (a package link), or a SchedulerException. */
  byte[] bytes(String call, String url) {
    try {
      HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(CALL_TIMEOUT)
          .GET().build(), HttpResponse.BodyHandlers.ofByteArray());
      if (r.statusCode() != 200) {
        throw new SchedulerException(call, r.statusCode(), new String(r.body(), java.nio.charset.StandardCharsets.UTF_8));
      }
      return r.body();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  Reply sendRaw(HttpRequest.Builder request) {
    try {
      HttpResponse<String> r = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
      return new Reply(r.statusCode(), r.body());
    } catch (HttpTimeoutException e) {
      throw new WaitTimedOut(e);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  CompletableFuture<Reply> sendAsync(HttpRequest.Builder request) {
    return http.sendAsync(request.build(), HttpResponse.BodyHandlers.ofString())
        .thenApply(r -> new Reply(r.statusCode(), r.body()));
  }

  /** No answer within the call's real-time bound. */
  static final class WaitTimedOut extends UncheckedIOException {
    private static final long serialVersionUID = 1L;

    WaitTimedOut(HttpTimeoutException e) {
      super(e);
    }
  }
}
