package org.compassci.sched.http;

import static org.apache.pekko.http.javadsl.server.PathMatchers.longSegment;
import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import org.apache.pekko.Done;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.stream.BufferOverflowException;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.typed.javadsl.ActorSource;
import org.compassci.sched.actors.LifecycleActor;
import org.compassci.sched.actors.MatcherActor;
import org.compassci.sched.actors.ProviderActor;
import org.compassci.sched.actors.ProvidersActor;
import org.compassci.sched.boot.JobPackage;
import org.compassci.sched.config.SocketSettings;
import org.compassci.sched.model.InvalidJobException;
import org.compassci.sched.model.Job;
import org.compassci.sched.model.JobUpdate;
import org.compassci.sched.model.Json;
import org.compassci.sched.model.Outcome;
import org.compassci.sched.model.Testbox;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * VM and container providers ({@code WS /scheduler/v1/vm-container-provider/{host}}, Compass-CI's
 * {@code multi-qemu-docker}), {@code POST jobs/{id}/terminate}, and {@code dashboard/providers}.
 * A provider's socket is served by a {@link ProviderActor}; this class reads its messages, turns
 * the actor's answers into messages, and closes the socket with a close code and a reason for
 * what no provider sends: malformed JSON (1007), no or an unknown {@code type} (1008), binary
 * (1003), too large (1009), too many (1008).
 */
public final class ProviderRoutes extends AllDirectives {

  private static final Logger LOG = LoggerFactory.getLogger(ProviderRoutes.class);

  /** A hostname: letters, digits, dots, dashes and underscores. */
  private static final Pattern HOST = Pattern.compile("[A-Za-z0-9._-]{1,253}");

  /** What a provider tells of itself that the host registry shows; the rest changes each second. */
  private static final List<String> INFO_KEYS =
      List.of("arch", "tbox_type", "tags", "nr_cpu", "nr_node", "nr_disks", "is_remote", "services");

  private final Gateway gw;
  private final ActorRef<ProvidersActor.Command> providers;
  private final SocketSettings settings;
  private final WebSockets.Limits limits;
  private final ProviderBoot boot;
  /** Reports of every socket waiting for the store: scheduler.providers.reports-in-flight. */
  private final Permits reports;

  /** Who may terminate and read: an account's token in tokens mode (see {@link Auth}). */
  private final Auth auth;

  public ProviderRoutes(Gateway gw, ActorRef<ProvidersActor.Command> providers, SocketSettings settings,
      ProviderBoot boot) {
    this(gw, providers, settings, boot, Auth.legacy(java.util.Optional.empty()));
  }

  public ProviderRoutes(Gateway gw, ActorRef<ProvidersActor.Command> providers, SocketSettings settings,
      ProviderBoot boot, Auth auth) {
    this.auth = auth;
    this.gw = gw;
    this.providers = providers;
    this.settings = settings;
    this.limits = new WebSockets.Limits(settings.maxFrameChars(), settings.maxFramesPerSecond(),
        settings.providerPing(), settings.providerIdle());
    this.boot = boot;
    this.reports = new Permits(settings.reportsInFlight());
  }

  /** The routes under {@code /scheduler/v1}. */
  public Route routes() {
    return concat(
        // a provider is a testbox's host: like a box asking for work, it needs no account
        path(segment("vm-container-provider").slash(segment()),
            host -> get(() -> extractRequest(request -> socket(host, request)))),
        path(segment("jobs").slash(longSegment()).slash("terminate"),
            id -> post(() -> auth.account(caller -> terminate(id, caller)))),
        path(segment("dashboard").slash("providers"), () -> get(() -> auth.read(this::stats))));
  }

  private Route socket(String host, HttpRequest request) {
    if (!HOST.matcher(host).matches()) {
      return complete(Responses.error(StatusCodes.BAD_REQUEST, "host: '" + host + "' is not a hostname"));
    }
    if (request.getAttribute(org.apache.pekko.http.javadsl.model.AttributeKeys.webSocketUpgrade).isEmpty()) {
      return complete(Responses.error(StatusCodes.BAD_REQUEST,
          "a WebSocket endpoint: connect with a WebSocket client (Upgrade: websocket)"));
    }
    // a provider may show a bearer token (Compass-CI's remote providers send one): a wrong one is
    // refused; an admin's lets its reports move jobs without their job_token, as an admin's updates may
    Optional<Auth.Result> who = auth.caller(request);
    if (who.isPresent() && !who.get().ok()) {
      return auth.deny(who.get().status(), who.get().message());
    }
    // asked again at each report: the socket outlives the token's rotation or removal
    Optional<String> token = Auth.bearer(request);
    java.util.function.BooleanSupplier admin = () -> auth.isAdminNow(token);
    org.compassci.sched.model.ConnectionId connection = request.getAttribute(HttpServer.CONNECTION).orElse(null);
    JobPackage.Endpoint fallback;
    try {
      fallback = BootRoutes.endpoint(request, Map.of());
    } catch (InvalidJobException e) {
      return complete(Responses.error(StatusCodes.BAD_REQUEST, "Host: " + e.getMessage()));
    }
    return completeWithFuture(gw.<ProvidersActor.Command, ActorRef<ProviderActor.Command>>ask(providers,
            r -> new ProvidersActor.Connect(host, connection, r))
        .thenApply(p -> WebSockets.accept(request, gw.system(), limits, closer -> flow(closer, host, fallback, p, admin))
            .orElseGet(() -> Responses.error(StatusCodes.BAD_REQUEST, "not a WebSocket handshake")))
        .exceptionally(Responses::unavailable));
  }

  /**
   * In: requests to the socket's actor, reports to the lifecycle; out: what the actor sends,
   * from the moment the socket is up ({@link ProviderActor.Attach}).
   */
  private Flow<String, String, NotUsed> flow(WebSockets.Closer closer, String host,
      JobPackage.Endpoint fallback, ActorRef<ProviderActor.Command> provider, java.util.function.BooleanSupplier admin) {
    // this socket's reports go to the lifecycle in the order they came: each waits its turn
    AtomicReference<CompletableFuture<Void>> lastAsked = new AtomicReference<>(CompletableFuture.completedFuture(null));
    HandedHere handed = new HandedHere();
    Sink<String, NotUsed> in = Flow.of(String.class)
        .mapConcat(text -> read(text, host, fallback, provider, closer))
        // reports wait for the store: while a socket's REPORTS_IN_FLIGHT do, or the scheduler's
        // reports-in-flight, the socket is not read, so providers that report faster than the
        // store writes are slowed instead of queued for
        .mapAsyncUnordered(REPORTS_IN_FLIGHT, m -> {
          if (m instanceof Report r) {
            return report(host, r, provider, lastAsked, handed, admin);
          }
          provider.tell((ProviderActor.Command) m);
          return CompletableFuture.completedFuture(Done.getInstance());
        })
        .to(Sink.onComplete(t -> provider.tell(new ProviderActor.SocketClosed())));
    Source<String, NotUsed> toSocket = ActorSource.<ProviderActor.Outbound>actorRef(o -> false, o -> Optional.empty(),
            settings.outbox(), OverflowStrategy.fail())
        .mapMaterializedValue(out -> {
          provider.tell(new ProviderActor.Attach(out));
          return NotUsed.getInstance();
        })
        .recoverWithRetries(1, BufferOverflowException.class, () -> {
          closer.close(WebSockets.POLICY_VIOLATION, "the provider reads too slowly: "
              + settings.outbox() + " messages wait for it");
          return Source.empty();
        })
        .mapConcat(o -> write(o, closer, handed, provider))
        // the last step of ours: a boot-job counts as sent from here, and the actor hears it
        // before it hears of the stream's end, after which the rest goes back to the queue
        .map(m -> {
          if (m.bootJob() > 0) {
            provider.tell(new ProviderActor.Written(m.bootJob(), m.token()));
          }
          return m.text();
        })
        .watchTermination((mat, ended) -> {
          ended.whenComplete((done, failure) -> provider.tell(new ProviderActor.OutboxEnded()));
          return mat;
        });
    return Flow.fromSinkAndSourceCoupled(in, toSocket);
  }

  /** A {@code job-update}: the job and what to set, as the query of {@code jobs/{id}/update}. */
  private record Report(long jobId, List<JobUpdate.Param> params) {}

  /**
   * The job_tokens of the jobs this socket was sent, the newest 1,024: multi-qemu-docker reports
   * without the token, so its reports on those jobs carry it from here, and the lifecycle checks
   * them as it checks a testbox's. A job sent over another socket (before a reconnect) needs its
   * token in the report, or an admin's socket, when accounts are required.
   */
  private static final class HandedHere {
    private final Map<Long, String> tokens = new java.util.LinkedHashMap<>(16, 0.75f, false) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<Long, String> eldest) {
        return size() > 1024;
      }
    };

    synchronized void add(long id, String token) {
      tokens.put(id, token);
    }

    synchronized String token(long id) {
      return tokens.get(id);
    }
  }

  /** Reports of one socket waiting for the store before the socket waits too. */
  static final int REPORTS_IN_FLIGHT = 8;

  /**
   * A report goes through the rules of {@code jobs/{id}/update}, naming this provider as its
   * sender: a report on a job handed to another box changes nothing. A refusal is said on the socket.
   */
  private CompletionStage<Done> report(String host, Report r, ActorRef<ProviderActor.Command> provider,
      AtomicReference<CompletableFuture<Void>> lastAsked, HandedHere handed, java.util.function.BooleanSupplier admin) {
    List<JobUpdate.Param> params = new ArrayList<>(r.params().size() + 2);
    params.addAll(r.params());
    params.add(new JobUpdate.Param("hostname", host));
    boolean withToken = r.params().stream().anyMatch(p -> p.name().equals("job_token") && !p.value().isBlank());
    String token = withToken ? null : handed.token(r.jobId());
    if (token != null) {
      params.add(new JobUpdate.Param("job_token", token));
    } else if (!withToken && !auth.open() && !admin.getAsBoolean()) {
      // the rule of jobs/{id}/update: the job's job_token, or an admin
      provider.tell(new ProviderActor.Refuse(r.jobId(), "a report on job " + r.jobId()
          + " needs its job_token: it was not sent over this socket"));
      return CompletableFuture.completedFuture(Done.getInstance());
    }
    CompletableFuture<Void> asked = new CompletableFuture<>();
    // a permit, after the socket's previous report was asked: reports of one job keep their order
    return lastAsked.getAndSet(asked)
        .thenCompose(previous -> reports.acquire())
        .thenCompose(granted -> {
          try {
            return gw.<LifecycleActor.Command, Outcome>ask(gw.lifecycle(),
                reply -> new LifecycleActor.Update(r.jobId(), params, JobUpdate.Mode.STRICT, reply));
          } finally {
            asked.complete(null);
          }
        })
        .handle((o, failure) -> {
          reports.release();
          if (failure != null) {
            provider.tell(new ProviderActor.Refuse(r.jobId(), "the scheduler is busy, report again"));
          } else if (o.status() != Outcome.Status.OK) {
            provider.tell(new ProviderActor.Refuse(r.jobId(), o.message()));
          }
          return Done.getInstance();
        });
  }

  /** One message from the provider: a request for its actor, a report, or none (refused, or closing). */
  private List<Object> read(String text, String host, JobPackage.Endpoint fallback,
      ActorRef<ProviderActor.Command> provider, WebSockets.Closer closer) {
    JsonNode msg;
    try {
      msg = Json.parse(text);
    } catch (IllegalArgumentException e) {
      closer.close(WebSockets.INVALID_PAYLOAD, e.getMessage());
      return List.of();
    }
    if (!msg.isObject()) {
      closer.close(WebSockets.INVALID_PAYLOAD, "a message is a JSON object with a type");
      return List.of();
    }
    JsonNode type = msg.get("type");
    if (type == null || !type.isTextual()) {
      closer.close(WebSockets.POLICY_VIOLATION, "a message needs a type: host-job-request or job-update");
      return List.of();
    }
    try {
      return switch (type.asText()) {
        case "host-job-request" -> List.of(request((ObjectNode) msg, host, fallback));
        case "job-update" -> List.of(report((ObjectNode) msg));
        default -> {
          closer.close(WebSockets.POLICY_VIOLATION, "unknown type '" + clip(type.asText())
              + "': a provider sends host-job-request and job-update");
          yield List.of();
        }
      };
    } catch (InvalidJobException e) {
      // well-formed but wrong: said on the socket, which stays open
      provider.tell(new ProviderActor.Refuse(jobIdOf(msg), e.getMessage()));
      return List.of();
    }
  }

  /** A host-job-request, read as a dispatch query is: the socket's host is the hostname. */
  private static ProviderActor.Request request(ObjectNode msg, String host, JobPackage.Endpoint fallback) {
    Map<String, String> q = new HashMap<>();
    q.put("hostname", host);
    String arch = scalar(msg, "arch");
    if (arch != null) {
      q.put("arch", arch);
    }
    String types = scalar(msg, "tbox_type");
    types = types == null || types.isBlank() ? "vm,dc" : types;
    for (String t : types.split(",")) {
      if (t.trim().equalsIgnoreCase("hw")) {
        throw new InvalidJobException("tbox_type: a provider offers vm and dc; hardware boxes ask jobs/dispatch");
      }
    }
    q.put("tbox_type", types);
    q.put("tags", tags(msg.get("tags")));
    String freemem = scalar(msg, "freemem");
    if (freemem == null) {
      throw new InvalidJobException("freemem: required (MB of memory free for new VMs and containers)");
    }
    q.put("freemem", freemem);
    Testbox box = Testbox.fromQuery(q);
    ObjectNode info = Json.object();
    for (String k : INFO_KEYS) {
      if (msg.has(k)) {
        info.set(k, msg.get(k));
      }
    }
    // its machines reach the scheduler as its services say (behind NAT, or QEMU's 10.0.2.2)
    JobPackage.Endpoint at = fallback;
    JsonNode services = msg.get("services");
    if (services != null && services.isObject()) {
      String h = scalar((ObjectNode) services, "sched_host");
      String p = scalar((ObjectNode) services, "sched_port");
      if (h != null && !h.isBlank()) {
        at = JobPackage.Endpoint.of(h.trim(), p == null || p.isBlank() ? Integer.toString(fallback.port()) : p);
      }
    }
    return new ProviderActor.Request(box, info, at);
  }

  /** A job-update: every field but type and job_id is a parameter, as in jobs/{id}/update. */
  private static Report report(ObjectNode msg) {
    long id = jobIdOf(msg);
    if (id <= 0) {
      throw new InvalidJobException("job_id: required, a job id");
    }
    List<JobUpdate.Param> params = new ArrayList<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = msg.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (e.getKey().equals("type") || e.getKey().equals("job_id")) {
        continue;
      }
      if (!e.getValue().isValueNode() || e.getValue().isNull()) {
        throw new InvalidJobException(e.getKey() + ": a string or a number");
      }
      params.add(new JobUpdate.Param(e.getKey(), e.getValue().asText()));
    }
    if (params.isEmpty()) {
      throw new InvalidJobException("nothing to update: give job_stage, job_health, job_data_readiness, job_step or k=v");
    }
    return new Report(id, params);
  }

  private static long jobIdOf(JsonNode msg) {
    JsonNode id = msg.get("job_id");
    if (id == null || !(id.isTextual() || id.isIntegralNumber())) {
      return 0;
    }
    try {
      return Long.parseLong(id.asText().trim());
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  /** Tags as a list of k=v, an object of k: v, or a comma list; as the dispatch query's comma list. */
  private static String tags(JsonNode tags) {
    if (tags == null || tags.isNull()) {
      return "";
    }
    List<String> out = new ArrayList<>();
    if (tags.isArray()) {
      for (JsonNode t : tags) {
        if (!t.isValueNode()) {
          throw new InvalidJobException("tags: a list of k=v");
        }
        out.add(t.asText());
      }
    } else if (tags.isObject()) {
      tags.fields().forEachRemaining(e -> out.add(e.getKey() + "=" + e.getValue().asText()));
    } else if (tags.isTextual()) {
      out.add(tags.asText());
    } else {
      throw new InvalidJobException("tags: a list of k=v");
    }
    return String.join(",", out);
  }

  /** A string or number field as text; null when absent; refused when it is neither. */
  private static String scalar(ObjectNode msg, String field) {
    JsonNode v = msg.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isTextual() && !v.isNumber()) {
      throw new InvalidJobException(field + ": a string or a number");
    }
    return v.asText();
  }

  /** A message for the socket; {@code bootJob} the id of the job it boots, 0 for other messages. */
  private record ToSocket(String text, long bootJob, String token) {}

  /** One message to the provider; empty when there is nothing to write. */
  private List<ToSocket> write(ProviderActor.Outbound o, WebSockets.Closer closer, HandedHere handed,
      ActorRef<ProviderActor.Command> provider) {
    if (o instanceof ProviderActor.BootJob b) {
      if (System.nanoTime() - b.sendBy() > 0) {
        // it waited behind a provider that does not read: written now, it could reach a box
        // after its dispatch-ack gave the job to another
        provider.tell(new ProviderActor.Unsent(b.assigned().id(), b.assigned().token()));
        return List.of();
      }
      handed.add(b.assigned().id(), b.assigned().token());
      List<String> text = bootJob(b);
      if (text.isEmpty()) {
        // none could be written: the job has ended abort_invalid, and is not to be sent back
        provider.tell(new ProviderActor.Written(b.assigned().id(), b.assigned().token()));
      }
      return text.stream().map(t -> new ToSocket(t, b.assigned().id(), b.assigned().token())).toList();
    }
    if (o instanceof ProviderActor.Terminate t) {
      return List.of(new ToSocket(Json.write(Json.object().put("type", "terminate-job")
          .put("job_id", Long.toString(t.jobId()))), 0, null));
    }
    if (o instanceof ProviderActor.Problem p) {
      ObjectNode m = Json.object().put("type", "error");
      if (p.jobId() > 0) {
        m.put("job_id", Long.toString(p.jobId()));
      }
      return List.of(new ToSocket(Json.write(m.put("message", p.message())), 0, null));
    }
    if (o instanceof ProviderActor.Close c) {
      closer.close(c.code(), c.reason());
    }
    return List.of();
  }

  /**
   * The boot-job, rendered here from the stored record. A job no boot-job can be written for ends
   * abort_invalid with the reason, and the provider hears nothing of it.
   */
  private List<String> bootJob(ProviderActor.BootJob b) {
    MatcherActor.Assigned a = b.assigned();
    try {
      ObjectNode view = Job.fromRecord(a.record()).view();
      return List.of(Json.write(BootJobs.render(view, a.token(), b.at(), boot)));
    } catch (RuntimeException e) {
      String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
      LOG.warn("job {} cannot boot on provider {}: {}", a.id(), a.record().host(), why);
      gw.lifecycle().tell(new LifecycleActor.Update(a.id(), List.of(
          new JobUpdate.Param("job_token", a.token()),
          new JobUpdate.Param("job_stage", "abort_invalid"),
          new JobUpdate.Param("abort_reason", "cannot boot: " + why)),
          JobUpdate.Mode.STRICT, gw.system().ignoreRef()));
      return List.of();
    }
  }

  /**
   * Ends the job (finish, health terminate), durably, then tells the provider holding it, if its
   * socket is open. 403 for a job that has ended already, or (with accounts) for a caller who is
   * neither its owner (its my_account) nor an admin; in open mode anyone may.
   */
  private Route terminate(long id, org.compassci.sched.auth.Caller caller) {
    if (!caller.authenticated() || caller.admin()) {
      return terminate(id);
    }
    return completeWithFuture(gw.<org.compassci.sched.actors.LifecycleActor.Command, Outcome>ask(gw.lifecycle(),
            r -> new org.compassci.sched.actors.LifecycleActor.Get(id, r))
        .thenApply(o -> o.status() != Outcome.Status.OK ? Responses.outcome(o)
            : org.compassci.sched.auth.AccountRules.mayEnd(caller, o.job().path("my_account").asText("")) ? null
            : Auth.denied(403, "job " + id + " is not " + caller.account()
                + "'s: only its owner or an admin may terminate it"))
        .thenCompose(refused -> refused != null ? CompletableFuture.completedFuture(refused) : terminating(id))
        .exceptionally(Responses::unavailable));
  }

  private Route terminate(long id) {
    return completeWithFuture(terminating(id));
  }

  private CompletableFuture<HttpResponse> terminating(long id) {
    return gw.<MatcherActor.Command, Outcome>ask(gw.matcher(), r -> new MatcherActor.Terminate(id, r))
        .thenCompose(o -> {
          if (o.status() != Outcome.Status.OK) {
            return CompletableFuture.completedFuture(o.status() == Outcome.Status.CONFLICT
                ? Responses.error(StatusCodes.FORBIDDEN, o.message()) : Responses.outcome(o));
          }
          String host = o.job().path("host_machine").asText("");
          // the job has ended, durably: a notice the providers could not take in time is
          // terminate_sent false, not a 503 whose retry would find the job ended (403)
          CompletableFuture<Boolean> sent = host.isEmpty() ? CompletableFuture.completedFuture(false)
              : gw.<ProvidersActor.Command, Boolean>ask(providers, r -> new ProvidersActor.TerminateJob(id, host, r))
                  .exceptionally(late -> false);
          return sent.thenApply(s -> terminated(id, o.job(), host, s));
        })
        .exceptionally(Responses::unavailable);
  }

  private static HttpResponse terminated(long id, ObjectNode job, String host, boolean sent) {
    ObjectNode body = Json.object().put("job_id", Long.toString(id));
    for (String k : List.of("job_stage", "job_health", "job_data_readiness")) {
      body.set(k, job.get(k));
    }
    body.put("host_machine", host.isEmpty() ? null : host).put("terminate_sent", sent);
    return Responses.json(StatusCodes.OK, body);
  }

  private Route stats() {
    return completeWithFuture(gw.<ProvidersActor.Command, org.compassci.sched.actors.ActorStats>ask(providers,
            ProvidersActor.GetStats::new)
        .thenApply(s -> {
          ObjectNode body = Json.object();
          s.holds().forEach(body::put);
          return Responses.json(StatusCodes.OK, body);
        })
        .exceptionally(Responses::unavailable));
  }

  private static String clip(String s) {
    return s.length() > 40 ? s.substring(0, 40) + "…" : s;
  }
}
