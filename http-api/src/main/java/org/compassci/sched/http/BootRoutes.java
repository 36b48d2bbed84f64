package org.compassci.sched.http;

import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.CacheControl;
import org.apache.pekko.http.javadsl.model.headers.CacheDirectives;
import org.apache.pekko.http.javadsl.model.headers.Host;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.compassci.sched.actors.HostRegistryActor;
import org.compassci.sched.actors.LifecycleActor;
import org.compassci.sched.actors.MatcherActor;
import org.compassci.sched.boot.BootPlan;
import org.compassci.sched.boot.BootScripts;
import org.compassci.sched.boot.BootType;
import org.compassci.sched.boot.JobPackage;
import org.compassci.sched.boot.JobScript;
import org.compassci.sched.boot.LabHosts;
import org.compassci.sched.boot.Mac;
import org.compassci.sched.boot.PackageLink;
import org.compassci.sched.model.InvalidJobException;
import org.compassci.sched.model.Job;
import org.compassci.sched.model.JobUpdate;
import org.compassci.sched.model.Json;
import org.compassci.sched.model.Outcome;
import org.compassci.sched.model.Testbox;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bare-metal boxes: {@code /boot.<type>/mac/<mac>} (and {@code jobs/dispatch?mac=}) find the box
 * by MAC, take a job through the same matcher as every box, and answer the boot script; the
 * package named in it ({@code /scheduler/v1/packages/<link>/job.cgz}) is built when the box
 * downloads it. {@code gpxelinux.cgi} is the same answer for a box asking for its next job.
 */
public final class BootRoutes extends AllDirectives {

  private static final Logger LOG = LoggerFactory.getLogger(BootRoutes.class);

  /** application/gzip (RFC 6713), which Pekko does not name. */
  private static final org.apache.pekko.http.javadsl.model.ContentType GZIP = ContentTypes.create(
      MediaTypes.applicationBinary("gzip", MediaTypes.NOT_COMPRESSIBLE, "cgz", "gz"));

  private final Gateway gw;
  private final BootContext boot;
  private final ManageRoutes manage;

  public BootRoutes(Gateway gw, BootContext boot) {
    this(gw, boot, Auth.legacy(boot.adminToken()));
  }

  public BootRoutes(Gateway gw, BootContext boot, Auth auth) {
    this.gw = gw;
    this.boot = boot;
    this.manage = new ManageRoutes(gw, auth);
  }

  /** The routes outside /scheduler/v1: what firmware and lkp-tests call. */
  public Route root() {
    return concat(
        path(segment().slash("mac").slash(segment()), (first, mac) -> first.startsWith("boot.")
            ? get(() -> boot(first.substring("boot.".length()), mac)) : reject()),
        pathPrefix("~lkp", () -> pathPrefix("cgi-bin", () -> path("gpxelinux.cgi", () -> get(this::nextJob)))));
  }

  /** The routes inside /scheduler/v1; before the dispatch routes, which answer jobs/dispatch without mac. */
  public Route v1() {
    return concat(
        path(segment("jobs").slash("dispatch"), () -> get(() -> parameter("mac", mac ->
            parameterOptional("boot_type", type -> boot(type.orElse("ipxe"), mac))))),
        path(segment("packages").slash(segment()).slash("job.cgz"), sealed -> get(() -> extractRequest(request -> jobPackage(sealed, Auth.peer(request))))),
        path(segment("manage").slash("hosts").slash("reload"), () -> post(() -> manage.admin(this::reload))));
  }

  /** What a boot request says: the box's type of answer, its MAC, how it reaches us, how long it waits. */
  private record BootRequest(BootType type, String mac, JobPackage.Endpoint at, Duration longPoll,
      List<String> tags, String arch, org.compassci.sched.model.ConnectionId connection, long askedAtMillis) {}

  private Route boot(String type, String mac) {
    return extractRequest(request -> parameterMap(q -> {
      BootRequest r;
      try {
        BootType t = BootType.of(type);
        String canonical = Mac.normalize(mac);
        r = new BootRequest(t, canonical, endpoint(request, q), waitOf(q),
            LabHosts.tags(q.getOrDefault("tags", "")), q.getOrDefault("arch", "").trim(),
            request.getAttribute(HttpServer.CONNECTION).orElse(null), gw.clock().millis());
      } catch (InvalidJobException e) {
        return complete(Responses.text(StatusCodes.BAD_REQUEST, e.getMessage()));
      }
      return completeWithFuture(gw.<HostRegistryActor.Command, Outcome>ask(gw.hosts(),
              reply -> new HostRegistryActor.FindByMac(r.mac(), reply))
          .thenCompose(host -> host.status() == Outcome.Status.OK
              ? dispatch(r, host.job()) : CompletableFuture.completedFuture(noJob(r.type(), r.at())))
          .exceptionally(Responses::unavailable));
    }));
  }

  /** lkp-tests' {@code gpxelinux.cgi?hostname=&mac=&last_kernel=}: the box's next job, as iPXE. */
  private Route nextJob() {
    return extractRequest(request -> parameterMap(q -> {
      JobPackage.Endpoint at;
      String mac;
      try {
        at = endpoint(request, q);
        mac = q.containsKey("mac") && !q.get("mac").isBlank() ? Mac.normalize(q.get("mac")) : null;
        if (mac == null && q.getOrDefault("hostname", "").isBlank()) {
          throw new InvalidJobException("mac or hostname: required");
        }
      } catch (InvalidJobException e) {
        return complete(Responses.text(StatusCodes.BAD_REQUEST, e.getMessage()));
      }
      BootRequest r = new BootRequest(BootType.IPXE, mac, at, Duration.ZERO, List.of(), "",
          request.getAttribute(HttpServer.CONNECTION).orElse(null), gw.clock().millis());
      String hostname = q.getOrDefault("hostname", "").trim();
      return completeWithFuture(gw.<HostRegistryActor.Command, Outcome>ask(gw.hosts(),
              reply -> mac != null ? new HostRegistryActor.FindByMac(mac, reply) : new HostRegistryActor.Get(hostname, reply))
          // a MAC no lab file or registration names: the box's name, when it gives one, still finds it
          .thenCompose(host -> host.status() != Outcome.Status.OK && mac != null && !hostname.isEmpty()
              ? gw.<HostRegistryActor.Command, Outcome>ask(gw.hosts(), reply -> new HostRegistryActor.Get(hostname, reply))
              : CompletableFuture.completedFuture(host))
          .thenCompose(host -> host.status() == Outcome.Status.OK
              ? dispatch(r, host.job()) : CompletableFuture.completedFuture(noJob(r.type(), r.at())))
          .exceptionally(Responses::unavailable));
    }));
  }

  /**
   * How long a box that boots again waits for the job it held to come back to the queue: a
   * give-back is one commit, and the box is then most likely handed that job again at once.
   */
  static final Duration BOOTED_AGAIN_WAIT = Duration.ofSeconds(5);
  /** How long the route asks the lifecycle which jobs go back; unanswered, the box just asks for a job. */
  static final Duration BOOTED_AGAIN_ASK = Duration.ofSeconds(2);

  /** A hardware box asks like any other: its hostname, group, arch, tags and memory, tbox_type=hw. */
  private CompletionStage<HttpResponse> dispatch(BootRequest r, ObjectNode host) {
    Testbox box;
    try {
      box = Testbox.fromQuery(boxQuery(r, host));
    } catch (InvalidJobException e) {
      return CompletableFuture.completedFuture(Responses.text(StatusCodes.BAD_REQUEST, e.getMessage()));
    }
    List<Long> held = new ArrayList<>();
    host.path("jobs").forEach(j -> held.add(j.asLong()));
    if (held.isEmpty() || host.has("provider")) {
      // a VM host (a provider) holds many jobs at once, each its VMs'
      return dispatch(r, box, r.longPoll());
    }
    // one box, one job: a box that boots again never started a job it holds in dispatch (the
    // script's answer was lost, the box was reset, a download before its package broke off),
    // which goes back to the queue now instead of after the dispatch-ack timeout; the box waits
    // a little for it. A short ask: the route's time is the box's wait and the dispatch's
    return gw.<LifecycleActor.Command, LifecycleActor.GivingBack>ask(gw.lifecycle(),
            reply -> new LifecycleActor.BootedAgain(box.hostname(), held, r.askedAtMillis(), reply),
            BOOTED_AGAIN_ASK)
        .exceptionally(failure -> new LifecycleActor.GivingBack(0))
        .thenCompose(back -> dispatch(r, box, back.jobs() > 0 && r.longPoll().compareTo(BOOTED_AGAIN_WAIT) < 0
            ? BOOTED_AGAIN_WAIT : r.longPoll()));
  }

  private CompletionStage<HttpResponse> dispatch(BootRequest r, Testbox box, Duration wait) {
    return gw.dispatch(box, wait, r.connection())
        .thenCompose(result -> {
          if (result instanceof MatcherActor.Assigned a) {
            return answer(r, a);
          }
          if (result instanceof MatcherActor.Unavailable u) {
            return CompletableFuture.completedFuture(Responses.error(StatusCodes.SERVICE_UNAVAILABLE, "no hand-out now: " + u.reason()));
          }
          return CompletableFuture.completedFuture(noJob(r.type(), r.at()));
        });
  }

  static Map<String, String> boxQuery(BootRequest r, ObjectNode host) {
    Map<String, String> q = new HashMap<>();
    q.put("hostname", host.path("hostname").asText());
    // the lab knows the box's arch; iPXE's ${buildarch} says i386 on a 64-bit machine's BIOS ROM
    String arch = host.path("arch").asText("");
    q.put("arch", arch.isEmpty() ? r.arch() : arch);
    q.put("tbox_type", "hw");
    if (!host.path("tbox_group").asText("").isEmpty()) {
      q.put("tbox_group", host.path("tbox_group").asText());
    }
    List<String> tags = new ArrayList<>();
    if (!host.path("tags").asText("").isEmpty()) {
      tags.add(host.path("tags").asText());
    }
    tags.addAll(r.tags());
    q.put("tags", String.join(",", tags));
    if (host.path("memory").canConvertToLong()) {
      q.put("freemem", Long.toString(host.path("memory").asLong()));
    }
    return q;
  }

  /**
   * The boot answer, rendered here on the HTTP threads. A job no answer can be built for ends
   * abort_invalid with the reason, durably, before the box hears "no job": it is never lost
   * silently, and never handed out again.
   */
  private CompletionStage<HttpResponse> answer(BootRequest r, MatcherActor.Assigned a) {
    String body;
    try {
      Job job = Job.fromRecord(a.record());
      ObjectNode view = job.view();
      // libvirt's host fetches its guest's package: not the address the guest uploads from
      String link = new PackageLink(a.id(), a.token(), r.at(), r.type() != BootType.LIBVIRT).seal(boot.links());
      String url = "http://" + r.at().host() + ":" + r.at().port() + "/scheduler/v1/packages/" + link + "/job.cgz";
      BootPlan plan = BootPlan.of(view, url, r.at(), boot.prefixes());
      // the package is built when it is downloaded: a script that cannot be written fails here, first
      JobScript.render(JobPackage.jobYaml(view, a.token(), r.at()), view.get("job2sh"));
      body = BootScripts.render(r.type(), plan);
    } catch (RuntimeException e) {
      String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
      LOG.warn("job {} cannot boot on {}: {}", a.id(), a.record().host(), why);
      return gw.<LifecycleActor.Command, Outcome>ask(gw.lifecycle(), reply -> new LifecycleActor.Update(a.id(), List.of(
                  new JobUpdate.Param("job_token", a.token()),
                  new JobUpdate.Param("job_stage", "abort_invalid"),
                  new JobUpdate.Param("abort_reason", "cannot boot: " + why)),
              JobUpdate.Mode.STRICT, reply))
          .thenApply(o -> o.status() == Outcome.Status.OK ? noJob(r.type(), r.at())
              : Responses.error(StatusCodes.SERVICE_UNAVAILABLE, o.message()));
    }
    return CompletableFuture.completedFuture(HttpResponse.create().withStatus(StatusCodes.OK)
        .withEntity(r.type().json() ? ContentTypes.APPLICATION_JSON : ContentTypes.TEXT_PLAIN_UTF8, body)
        .addHeader(CacheControl.create(CacheDirectives.NO_STORE)));
  }

  private static HttpResponse noJob(BootType type, JobPackage.Endpoint at) {
    return HttpResponse.create().withStatus(StatusCodes.NOT_FOUND)
        .withEntity(type.json() ? ContentTypes.APPLICATION_JSON : ContentTypes.TEXT_PLAIN_UTF8,
            BootScripts.noJob(type, at));
  }

  /**
   * {@code job.cgz} of one hand-out, built now from the job as it is: while the job is in dispatch
   * or boot (the first download moves it to boot), or out and never fetched; 410 after, 404 for a
   * link this scheduler never made.
   */
  private Route jobPackage(String sealed, Optional<String> peer) {
    Optional<PackageLink> link = PackageLink.open(boot.links(), sealed);
    if (link.isEmpty()) {
      return complete(Responses.text(StatusCodes.NOT_FOUND, "no such package"));
    }
    PackageLink l = link.get();
    return completeWithFuture(gw.<LifecycleActor.Command, Outcome>ask(gw.lifecycle(),
            reply -> new LifecycleActor.FetchPackage(l.jobId(), l.token(),
                l.bound() ? peer.orElse(null) : Job.ANY_ADDRESS, reply))
        .thenApply(o -> switch (o.status()) {
          case OK -> packageAnswer(l, o.job());
          case CONFLICT -> Responses.text(StatusCodes.GONE, o.message());
          case NOT_FOUND -> Responses.text(StatusCodes.NOT_FOUND, o.message());
          default -> Responses.error(Responses.statusOf(o.status()), o.message());
        })
        .exceptionally(Responses::unavailable));
  }

  private HttpResponse packageAnswer(PackageLink l, ObjectNode doc) {
    JsonNode secrets = null;
    JsonNode sealedSecrets = doc.remove("_secrets");
    if (sealedSecrets != null && sealedSecrets.isTextual()) {
      Optional<byte[]> plain = boot.secrets().open(sealedSecrets.asText());
      if (plain.isEmpty()) {
        // another key than the one that sealed them: the box runs without, and the log says so
        LOG.error("job {}: its secrets cannot be opened with this scheduler's key (scheduler.secrets-key)", l.jobId());
      } else {
        secrets = Json.parse(plain.get());
      }
    }
    byte[] cgz;
    try {
      cgz = JobPackage.buildOwned(doc, l.token(), l.scheduler(), secrets, Instant.now().getEpochSecond());
    } catch (IllegalArgumentException e) {
      return Responses.text(StatusCodes.GONE, "job " + l.jobId() + " cannot be packed: " + e.getMessage());
    }
    return HttpResponse.create().withStatus(StatusCodes.OK)
        .withEntity(GZIP, cgz)
        .addHeader(CacheControl.create(CacheDirectives.NO_STORE));
  }

  private Route reload() {
    return completeWithFuture(gw.<HostRegistryActor.Command, HostRegistryActor.LabReloaded>ask(gw.hosts(),
            HostRegistryActor.ReloadLab::new)
        .thenApply(r -> {
          ObjectNode body = Json.object().put("hosts", r.hosts());
          r.problems().forEach(body.putArray("problems")::add);
          if (r.problems().isEmpty()) {
            body.putArray("problems");
          }
          return Responses.json(r.hosts() == 0 && !r.problems().isEmpty() ? StatusCodes.CONFLICT : StatusCodes.OK, body);
        })
        .exceptionally(Responses::unavailable));
  }

  /**
   * Where the box reaches us: {@code sched_host}/{@code sched_port} as it sent them, else the
   * Host header of its request (behind NAT or in QEMU's user network our own address is wrong).
   */
  static JobPackage.Endpoint endpoint(HttpRequest request, Map<String, String> q) {
    Optional<Host> header = request.getHeader(Host.class);
    String host = q.getOrDefault("sched_host", "").trim();
    String port = q.getOrDefault("sched_port", "").trim();
    if (host.isEmpty()) {
      host = header.map(h -> h.host().address()).orElse("");
      if (host.contains(":") && !host.startsWith("[")) {
        host = "[" + host + "]";
      }
    }
    if (port.isEmpty()) {
      int p = header.map(h -> h.port()).orElse(0);
      port = Integer.toString(p == 0 ? 80 : p);
    }
    return JobPackage.Endpoint.of(host, port);
  }

  private static Duration waitOf(Map<String, String> q) {
    String w = q.getOrDefault("wait", "").trim();
    if (w.isEmpty()) {
      return Duration.ZERO;
    }
    int s;
    try {
      s = Integer.parseInt(w);
    } catch (NumberFormatException e) {
      throw new InvalidJobException("wait: '" + w + "' is not a whole number");
    }
    if (s < 0 || s > DispatchRoutes.MAX_WAIT_SECONDS) {
      throw new InvalidJobException("wait: must be 0.." + DispatchRoutes.MAX_WAIT_SECONDS + " seconds");
    }
    return Duration.ofSeconds(s);
  }

}
