package org.compassci.sched.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.BoundedSourceQueue;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.typed.javadsl.ActorSource;
import org.compassci.sched.actors.WatchActor;
import org.compassci.sched.config.SocketSettings;
import org.compassci.sched.model.Json;

/**
 * Watchers' WebSocket, {@code WS /scheduler/v1/client}: {@code welcome} on open, then
 * {@code watch-job-event} and {@code unwatch-job-event} (one job id, or a list) choose the jobs;
 * each change comes as a JSON object of {@code job_id} and the fields that changed, and
 * {@code {"type":"job-close","job_id"}} when the job retires. The socket shares the watch actor
 * with the Server-Sent Events streams, and their bounded, conflating buffer: a reader that falls
 * behind holds at most one pending message per job, the job's whole state.
 */
public final class ClientSocketRoutes extends AllDirectives {

  /** Events queued for one socket before the conflating buffer takes them, as for SSE. */
  private static final int SOCKET_BUFFER = 64;

  /** Session ids, as in the welcome message. */
  private static final AtomicLong SIDS = new AtomicLong();

  private final Gateway gw;
  private final WebSockets.Limits limits;

  public ClientSocketRoutes(Gateway gw, SocketSettings settings) {
    this.gw = gw;
    this.limits = new WebSockets.Limits(settings.maxFrameChars(), settings.maxFramesPerSecond(),
        settings.watchPing(), settings.watchIdle());
  }

  /** The route under {@code /scheduler/v1}. */
  public Route routes() {
    return path("client", () -> get(() -> extractRequest(this::socket)));
  }

  private Route socket(HttpRequest request) {
    Object connection = request.getAttribute(HttpServer.CONNECTION).orElse(null);
    return WebSockets.accept(request, gw.system(), limits, closer -> flow(closer, connection))
        .map(this::complete)
        .orElseGet(() -> complete(Responses.error(StatusCodes.BAD_REQUEST,
            "a WebSocket endpoint: connect with a WebSocket client (Upgrade: websocket)")));
  }

  private Flow<String, String, NotUsed> flow(WebSockets.Closer closer, Object connection) {
    long sid = SIDS.incrementAndGet();
    Pair<ActorRef<WatchActor.Event>, Source<WatchActor.Event, NotUsed>> events =
        ActorSource.<WatchActor.Event>actorRef(e -> e instanceof WatchActor.End, e -> Optional.empty(),
            SOCKET_BUFFER, OverflowStrategy.dropHead()).preMaterialize(gw.system());
    ActorRef<WatchActor.Event> out = events.first();
    // answers of this socket's own (a job id that is none): beside the watch actor's events
    Pair<BoundedSourceQueue<String>, Source<String, NotUsed>> notes =
        Source.<String>queue(16).preMaterialize(gw.system());
    gw.watch().tell(new WatchActor.OpenSocket(out, connection, gw.watchMaxJobs()));
    Source<String, NotUsed> fromWatch = events.second()
        .watchTermination((nu, done) -> {
          done.whenCompleteAsync((d, failure) -> {
            gw.watch().tell(new WatchActor.Unsubscribe(out));
            notes.first().complete();
          }, gw.system().executionContext());
          return nu;
        })
        .conflateWithSeed(EventBacklog::new, EventBacklog::add)
        .mapConcat(b -> b.frames(WS));
    ObjectNode welcome = Json.object().put("type", "welcome").put("sid", sid)
        .put("message", "Welcome to the Compass-CI scheduler").put("status", "connected");
    Source<String, NotUsed> toSocket = Source.single(Json.write(welcome))
        .concat(fromWatch.merge(notes.second(), true));
    Sink<String, NotUsed> in = Flow.of(String.class)
        .to(Sink.foreach(text -> read(text, out, notes.first(), closer)))
        .mapMaterializedValue(done -> NotUsed.getInstance());
    return Flow.fromSinkAndSourceCoupled(in, toSocket);
  }

  private void read(String text, ActorRef<WatchActor.Event> out, BoundedSourceQueue<String> notes,
      WebSockets.Closer closer) {
    JsonNode msg;
    try {
      msg = Json.parse(text);
    } catch (IllegalArgumentException e) {
      closer.close(WebSockets.INVALID_PAYLOAD, e.getMessage());
      return;
    }
    if (!msg.isObject() || !msg.path("type").isTextual()) {
      closer.close(WebSockets.POLICY_VIOLATION,
          "a message is a JSON object with a type: watch-job-event or unwatch-job-event");
      return;
    }
    String type = msg.get("type").asText();
    boolean watch = type.equals("watch-job-event");
    if (!watch && !type.equals("unwatch-job-event")) {
      closer.close(WebSockets.POLICY_VIOLATION, "unknown type '"
          + (type.length() > 40 ? type.substring(0, 40) + "…" : type)
          + "': a watcher sends watch-job-event and unwatch-job-event");
      return;
    }
    List<Long> ids = new ArrayList<>();
    JsonNode given = msg.has("job_ids") ? msg.get("job_ids") : msg.get("job_id");
    if (given == null || given.isNull() || (given.isArray() && given.isEmpty())) {
      notes.offer(error(null, "job_id: give a job id, or a list of them"));
      return;
    }
    for (JsonNode id : given.isArray() ? given : List.of(given)) {
      Optional<Long> parsed = jobId(id);
      if (parsed.isPresent()) {
        ids.add(parsed.get());
      } else {
        notes.offer(error(id.isValueNode() ? id.asText() : Json.write(id), "not a job id"));
      }
    }
    if (!ids.isEmpty()) {
      gw.watch().tell(watch ? new WatchActor.Follow(out, ids) : new WatchActor.Unfollow(out, ids));
    }
  }

  private static Optional<Long> jobId(JsonNode id) {
    if (!id.isTextual() && !id.isIntegralNumber()) {
      return Optional.empty();
    }
    try {
      long v = Long.parseLong(id.asText().trim());
      return v > 0 ? Optional.of(v) : Optional.empty();
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }

  private static String error(String jobId, String message) {
    ObjectNode m = Json.object().put("type", "error");
    if (jobId != null) {
      m.put("job_id", jobId.length() > 64 ? jobId.substring(0, 64) + "…" : jobId);
    }
    return Json.write(m.put("message", message));
  }

  /** WebSocket messages: the changes as they are, job-close, or an error naming the job. */
  static final EventBacklog.Renderer<String> WS = new EventBacklog.Renderer<>() {
    @Override
    public String job(ObjectNode data) {
      return Json.write(data);
    }

    @Override
    public String closed(long id, String error) {
      if (error != null) {
        return error(Long.toString(id), error);
      }
      return Json.write(Json.object().put("type", "job-close").put("job_id", Long.toString(id)));
    }
  };
}
