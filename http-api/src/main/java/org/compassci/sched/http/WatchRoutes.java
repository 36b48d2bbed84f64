package org.compassci.sched.http;

import static org.apache.pekko.http.javadsl.server.PathMatchers.longSegment;
import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.typed.javadsl.ActorSource;
import org.apache.pekko.util.ByteString;
import org.compassci.sched.actors.LifecycleActor;
import org.compassci.sched.actors.WatchActor;
import org.compassci.sched.model.InvalidJobException;
import org.compassci.sched.model.Json;
import org.compassci.sched.model.Outcome;
import org.compassci.sched.watch.WaitCondition;

/**
 * Following jobs: Server-Sent Events for one job or several ({@code jobs/{id}/events},
 * {@code events?job_ids=}), and the Compass-CI long-poll {@code jobs/wait}.
 */
public final class WatchRoutes extends AllDirectives {

  /** Events queued for one stream before the reader catches up; past it, events merge. */
  private static final int STREAM_BUFFER = 64;

  private final Gateway gw;
  private final Auth auth;

  public WatchRoutes(Gateway gw) {
    this(gw, Auth.legacy(Optional.empty()));
  }

  public WatchRoutes(Gateway gw, Auth auth) {
    this.gw = gw;
    this.auth = auth;
  }

  public Route routes() {
    return concat(
        path(segment("jobs").slash(longSegment()).slash("events"),
            id -> get(() -> auth.readOpen(allowed -> connection(c -> watchOne(id, c, allowed))))),
        path("events", () -> get(() -> auth.readOpen(allowed -> connection(c ->
            parameterOptional("job_ids", ids -> watchMany(ids.orElse(""), c, allowed)))))),
        path(segment("jobs").slash("wait"), () -> post(() -> auth.read(() -> withSizeLimit(gw.maxBodyBytes(),
            () -> entity(Unmarshaller.entityToByteString(), this::waitOn))))));
  }

  /** The client connection, so that a stream ends as soon as its client hangs up. */
  private Route connection(java.util.function.Function<org.compassci.sched.model.ConnectionId, Route> inner) {
    return extractRequest(r -> inner.apply(r.getAttribute(HttpServer.CONNECTION).orElse(null)));
  }

  /** One job: 404 before any stream when the job does not exist. */
  private Route watchOne(long id, org.compassci.sched.model.ConnectionId connection,
      Optional<java.util.function.BooleanSupplier> allowed) {
    return completeWithFuture(gw.<LifecycleActor.Command, Outcome>ask(gw.lifecycle(),
            r -> new LifecycleActor.Get(id, r))
        .thenApply(o -> o.status() == Outcome.Status.OK ? stream(List.of(id), connection, allowed) : Responses.outcome(o))
        .exceptionally(Responses::unavailable));
  }

  private Route watchMany(String list, org.compassci.sched.model.ConnectionId connection,
      Optional<java.util.function.BooleanSupplier> allowed) {
    Set<Long> ids = new LinkedHashSet<>();
    for (String part : list.split(",")) {
      String p = part.trim();
      if (p.isEmpty()) {
        continue;
      }
      try {
        ids.add(Long.parseLong(p));
      } catch (NumberFormatException e) {
        return complete(Responses.error(StatusCodes.BAD_REQUEST, "job_ids: '" + p + "' is not a job id"));
      }
    }
    if (ids.isEmpty()) {
      return complete(Responses.error(StatusCodes.BAD_REQUEST, "job_ids: give one or more job ids, comma-separated"));
    }
    if (ids.size() > gw.watchMaxJobs()) {
      return complete(Responses.error(StatusCodes.BAD_REQUEST,
          "job_ids: at most " + gw.watchMaxJobs() + " jobs per stream, got " + ids.size()));
    }
    return complete(stream(new ArrayList<>(ids), connection, allowed));
  }

  /**
   * The stream subscribes when it starts and unsubscribes when it ends, whoever ends it. A reader
   * that falls behind gets, per job, one event with the job's whole state instead of the changes
   * it missed, so a stream holds at most one pending event per job.
   */
  private HttpResponse stream(List<Long> ids, org.compassci.sched.model.ConnectionId connection,
      Optional<java.util.function.BooleanSupplier> allowed) {
    Source<WatchActor.Event, ActorRef<WatchActor.Event>> events = ActorSource.actorRef(
        e -> e instanceof WatchActor.End, e -> Optional.empty(), STREAM_BUFFER, OverflowStrategy.dropHead());
    Source<ByteString, NotUsed> body = events
        .watchTermination((ref, done) -> {
          gw.watch().tell(new WatchActor.Subscribe(ids, ref, connection));
          done.whenCompleteAsync((d, failure) -> gw.watch().tell(new WatchActor.Unsubscribe(ref)),
              gw.system().executionContext());
          return NotUsed.getInstance();
        })
        .conflateWithSeed(EventBacklog::new, EventBacklog::add)
        .mapConcat(b -> b.frames(SSE));
    return Responses.eventStream(auth.whileAllowed(body, allowed, () -> { }), gw.heartbeat());
  }

  /** Server-Sent Events: {@code event: job} with the changes, {@code event: close} at the end. */
  static final EventBacklog.Renderer<ByteString> SSE = new EventBacklog.Renderer<>() {
    @Override
    public ByteString job(ObjectNode data) {
      return Responses.event("job", Json.write(data));
    }

    @Override
    public ByteString closed(long id, String error) {
      ObjectNode data = Json.object().put("job_id", Long.toString(id));
      if (error != null) {
        data.put("error", error);
      }
      return Responses.event("close", Json.write(data));
    }
  };

  private Route waitOn(ByteString body) {
    Map<Long, WaitCondition> on = new LinkedHashMap<>();
    try {
      JsonNode tree = gw.jobFiles().limits().parseJson(body.toArray());
      JsonNode waitOn = tree.get("wait_on");
      if (waitOn == null || !waitOn.isObject() || waitOn.isEmpty()) {
        throw new InvalidJobException("give {\"wait_on\":{\"<job id>\":{\"job_stage\":\"finish\"}|null, ...}}");
      }
      for (Iterator<Map.Entry<String, JsonNode>> it = waitOn.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        long id;
        try {
          id = Long.parseLong(e.getKey().trim());
        } catch (NumberFormatException ex) {
          throw new InvalidJobException("wait_on: '" + e.getKey() + "' is not a job id");
        }
        on.put(id, WaitCondition.parse(e.getKey(), e.getValue()));
      }
      if (on.size() > gw.watchMaxJobs()) {
        throw new InvalidJobException("wait_on: at most " + gw.watchMaxJobs() + " jobs, got " + on.size());
      }
    } catch (org.compassci.sched.model.TooLargeException e) {
      return complete(Responses.error(StatusCodes.PAYLOAD_TOO_LARGE, e.getMessage()));
    } catch (IllegalArgumentException | InvalidJobException e) {
      return complete(Responses.error(StatusCodes.BAD_REQUEST, e.getMessage()));
    }
    return completeWithFuture(gw.<WatchActor.Command, WatchActor.WaitResult>ask(gw.watch(),
            r -> new WatchActor.Wait(on, gw.waitTimeout(), r), gw.waitTimeout().plus(gw.askTimeout()))
        .thenApply(WatchRoutes::waited)
        .exceptionally(Responses::unavailable));
  }

  private static HttpResponse waited(WatchActor.WaitResult r) {
    ObjectNode out = Json.object();
    ObjectNode remaining = out.putObject("wait_on");
    r.remaining().forEach((id, c) -> remaining.set(Long.toString(id), c.raw() == null ? com.fasterxml.jackson.databind.node.NullNode.getInstance() : c.raw()));
    ObjectNode waited = out.putObject("waited_jobs");
    r.waited().forEach((id, state) -> waited.set(Long.toString(id), state));
    return Responses.json(StatusCodes.OK, out);
  }
}
