package org.compassci.sched.testkit;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A testbox played by the test: it asks the scheduler for a job that fits its tags and free
 * memory, reports the stages a real box reports, uploads result files as a box does, or
 * disappears. It speaks the same HTTP as a real box ({@code jobs/dispatch}, then
 * {@code jobs/{id}/update} with the {@code job_token} it was given), so a box whose hand-out was
 * taken back gets the 409 a real one would.
 *
 * <p>Reports go to the job it was last handed. One box is meant to be driven by one thread at a
 * time; several boxes may race from several threads. A bare-metal box
 * ({@link SchedulerTestKit#bareMetalBox}) asks by MAC instead, as its firmware does
 * ({@link #bootByMac()}); serving VMs as a provider over the provider WebSocket is not here yet.
 */
public final class SimulatedTestbox {

  /**
   * A job handed to this box.
   *
   * @param id the job id
   * @param token the {@code job_token} the box shows with its reports
   * @param job the job as the box received it
   */
  public record HandedOut(long id, String token, JobView job) {
    /** Where the job's results go, e.g. {@code /result/hackbench/2026-11-29/dc-8g/<id>}. */
    public String resultRoot() {
      return job.field("result_root");
    }
  }

  /** Query parameters of their own on {@code jobs/dispatch}; every other k=v goes in {@code tags}. */
  private static final Set<String> OWN_PARAMS = Set.of("arch", "tbox_type", "tbox_group");

  private final JobClient client;
  private final String hostname;
  private final String query;
  /** Set for a bare-metal box: it asks by MAC. */
  private final String mac;
  private final List<CompletableFuture<JobClient.Reply>> polls = new CopyOnWriteArrayList<>();
  private volatile HandedOut current;
  private volatile boolean gone;

  SimulatedTestbox(JobClient client, String hostname, long freeMemMb, List<String> tags) {
    this(client, hostname, freeMemMb, tags, null);
  }

  SimulatedTestbox(JobClient client, String hostname, long freeMemMb, List<String> tags, String mac) {
    this.client = client;
    this.hostname = hostname;
    this.mac = mac;
    Map<String, List<String>> own = new LinkedHashMap<>();
    List<String> extra = new ArrayList<>();
    for (String tag : tags) {
      int eq = tag.indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException("a tag is k=v, not '" + tag + "'");
      }
      String key = tag.substring(0, eq).trim();
      if (OWN_PARAMS.contains(key)) {
        own.computeIfAbsent(key, k -> new ArrayList<>()).add(tag.substring(eq + 1).trim());
      } else {
        extra.add(tag.trim());
      }
    }
    StringBuilder q = new StringBuilder("hostname=").append(enc(hostname));
    // tbox_type=vm and tbox_type=dc given apart are one box serving both, as vm,dc says
    own.forEach((k, v) -> q.append('&').append(k).append('=').append(enc(String.join(",", v))));
    if (!extra.isEmpty()) {
      q.append("&tags=").append(enc(String.join(",", extra)));
    }
    if (freeMemMb >= 0) {
      q.append("&freemem=").append(freeMemMb);
    }
    this.query = q.toString();
  }

  /** The box's hostname. */
  public String hostname() {
    return hostname;
  }

  /** The job this box was last handed and has not finished, if any. */
  public Optional<HandedOut> currentJob() {
    return Optional.ofNullable(current);
  }

  /** True once {@link #disappear()} was called. */
  public boolean isGone() {
    return gone;
  }

  /**
   * Asks for a job once, without waiting: the job when one fits (it becomes this box's current
   * job), empty when none does.
   */
  public Optional<HandedOut> askForJob() {
    alive();
    return handedOut(client.sendRaw(client.request(dispatchPath(0)).GET()));
  }

  /**
   * Asks and waits up to {@code wait} (at most 60 s) of the kit's time for a job to come, as a
   * box's long poll does. Under manual time the wait ends only when the test advances the kit
   * past it; a job submitted meanwhile is handed over at once.
   */
  public CompletableFuture<Optional<HandedOut>> longPoll(Duration wait) {
    alive();
    // the HTTP call itself is bounded in real time, well past any wait the kit may be advanced through
    CompletableFuture<JobClient.Reply> exchange = client.sendAsync(
        client.request(dispatchPath(wait.toSeconds())).timeout(Duration.ofMinutes(10)).GET());
    polls.add(exchange);
    exchange.whenComplete((r, f) -> polls.remove(exchange));
    return exchange.thenApply(this::handedOut);
  }

  /**
   * A bare-metal box's request, as its firmware makes it: {@code GET boot.ipxe/mac/<mac>}. With a
   * job, the boot script names the job's package; the box downloads {@code job.cgz} (which moves
   * the job to {@code boot}) and reads its id and {@code job_token} from {@code job.yaml} inside,
   * as lkp-tests does. Empty when the answer is the "No job now" script.
   */
  public Optional<HandedOut> bootByMac() {
    alive();
    if (mac == null) {
      throw new IllegalStateException(hostname + " is not a bare-metal box: make it with bareMetalBox");
    }
    JobClient.Reply script = client.sendRaw(client.request("/boot.ipxe/mac/" + enc(mac)).GET());
    if (script.status() == 404) {
      return Optional.empty();
    }
    if (script.status() != 200) {
      throw new SchedulerException(hostname + " boot.ipxe", script.status(), script.body());
    }
    java.util.regex.Matcher url = java.util.regex.Pattern.compile("https?://\\S+/job\\.cgz")
        .matcher(script.body());
    if (!url.find()) {
      throw new SchedulerException(hostname + " boot.ipxe: no job.cgz in", 200, script.body());
    }
    ObjectNode job = JobPackages.jobYaml(client.bytes(hostname + " job.cgz", url.group()));
    HandedOut h = new HandedOut(Long.parseLong(job.path("id").asText()), job.path("job_token").asText(),
        new JobView(job));
    current = h;
    return Optional.of(h);
  }

  /** Reports stage {@code boot} for the current job. */
  public SimulatedTestbox boot() {
    return stage("boot");
  }

  /** Reports stage {@code running} for the current job. */
  public SimulatedTestbox running() {
    return stage("running");
  }

  /** Reports {@code stage} (any of the scheduler's stages) for the current job. */
  public SimulatedTestbox stage(String stage) {
    return report("job_stage", stage);
  }

  /**
   * Ends the current job with {@code health} ({@code success}, {@code fail}, {@code oom}, ...)
   * and its results uploaded, as {@code lkp-post-run} does: the scheduler then extracts the
   * statistics from the files given to {@link #upload} ({@code stats.json}) and the job retires,
   * its data {@code complete}, or {@code incomplete} when there were none. The box is free again.
   */
  public SimulatedTestbox finish(String health) {
    report("job_stage", "finish", "job_health", health, "job_data_readiness", "uploaded");
    current = null;
    return this;
  }

  /**
   * Uploads a result file of the current job as a box does, Compass-CI's way: {@code POST
   * <result_root>/<relativePath>?job_id=..&job_token=..} with the file as the body, e.g.
   * {@code upload("stats.json", "{\"hackbench.throughput\": 52012}")}. The scheduler's own
   * rules apply: a path that leaves the result_root, a file that exists, a job whose data is
   * complete or a box that no longer holds the job gets its 4xx as a {@link SchedulerException}.
   */
  public SimulatedTestbox upload(String relativePath, String content) {
    HandedOut job = holding();
    String root = job.resultRoot().replaceAll("/+$", "");
    String path = root + "/" + relativePath.replaceFirst("^/+", "");
    client.send(hostname + " upload " + relativePath, client.request(path + "?job_id=" + job.id()
            + "&job_token=" + enc(job.token()))
        .POST(HttpRequest.BodyPublishers.ofString(content)));
    return this;
  }

  /**
   * Sends {@code name, value, ...} as one update of the current job with this box's token, e.g.
   * {@code report("job_step", "smoke")} or {@code report("renew_seconds", "3600")}.
   */
  public SimulatedTestbox report(String... namesAndValues) {
    HandedOut job = holding();
    if (namesAndValues.length % 2 != 0) {
      throw new IllegalArgumentException("give names and values in pairs");
    }
    StringBuilder q = new StringBuilder("job_token=").append(enc(job.token()));
    for (int i = 0; i < namesAndValues.length; i += 2) {
      q.append('&').append(enc(namesAndValues[i])).append('=').append(enc(namesAndValues[i + 1]));
    }
    client.send(hostname + " update " + job.id(), client.request(
        "/scheduler/v1/jobs/" + job.id() + "/update?" + q).POST(HttpRequest.BodyPublishers.noBody()));
    return this;
  }

  /**
   * The box vanishes: a long poll it has parked hangs up (the scheduler drops it, as it drops a
   * box whose connection closed), it reports nothing more, and any further call on it fails. Its
   * current job stays handed out until the dispatch-ack or stage timeout ends it.
   */
  public void disappear() {
    gone = true;
    for (CompletableFuture<JobClient.Reply> poll : polls) {
      // HttpClient closes the connection of a cancelled exchange: the server sees the hang-up
      poll.cancel(true);
    }
  }

  private String dispatchPath(long waitSeconds) {
    return "/scheduler/v1/jobs/dispatch?" + query + (waitSeconds > 0 ? "&wait=" + waitSeconds : "");
  }

  private Optional<HandedOut> handedOut(JobClient.Reply r) {
    if (r.status() == 204) {
      return Optional.empty();
    }
    if (r.status() != 200) {
      throw new SchedulerException(hostname + " dispatch", r.status(), r.body());
    }
    ObjectNode job = (ObjectNode) r.json();
    HandedOut h = new HandedOut(Long.parseLong(job.path("id").asText()), job.path("job_token").asText(),
        new JobView(job));
    current = h;
    return Optional.of(h);
  }

  private HandedOut holding() {
    alive();
    HandedOut job = current;
    if (job == null) {
      throw new IllegalStateException(hostname + " holds no job: ask for one first");
    }
    return job;
  }

  private void alive() {
    if (gone) {
      throw new IllegalStateException(hostname + " has disappeared");
    }
  }

  static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
  }
}
