package org.compassci.sched.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
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
  /** Watching is reading: open, unless reads are private (see {@link Auth#read}). */
  private final Auth auth;

  public ClientSocketRoutes(Gateway gw, SocketSettings settings) {
    this(gw, settings, Auth.legacy(Optional.empty()));
  }

  public ClientSocketRoutes(Gateway gw, SocketSettings settings, Auth auth) {
    this.auth = auth;
    this.gw = gw;
    this.limits = new WebSockets.Limits(settings.maxFrameChars(), settings.maxFramesPerSecond(),
        settings.watchPing(), settings.watchIdle());
  }

  /** The route under {@code /scheduler/v1}. */
  public Route routes() {
    return path("client", () -> get(() -> auth.readOpen(allowed -> extractRequest(r -> socket(r, allowed)))));
  }

  private Route socket(HttpRequest request, Optional<java.util.function.BooleanSupplier> allowed) {
    org.compassci.sched.model.ConnectionId connection = request.getAttribute(HttpServer.CONNECTION).orElse(null);
    return WebSockets.accept(request, gw.system(), limits, closer -> flow(closer, connection, allowed))
        .map(this::complete)
        .orElseGet(() -> complete(Responses.error(StatusCodes.BAD_REQUEST,
            "a WebSocket endpoint: connect with a WebSocket client (Upgrade: websocket)")));
  }

  /** A message of this socket's own beside the watch actor's events (an id that is no job's). */
  private record Note(String json) {}

  private Flow<String, String, NotUsed> flow(WebSockets.Closer closer, org.compassci.sched.model.ConnectionId connection,
      Optional<java.util.function.BooleanSupplier> allowed) {
    long sid = SIDS.incrementAndGet();
    // the socket's own actor ref, known once the flow is materialized, before any message comes in
    AtomicReference<ActorRef<Object>> socket = new AtomicReference<>();
    Source<String, NotUsed> events = ActorSource.<Object>actorRef(e -> e instanceof WatchActor.End,
            e -> Optional.empty(), SOCKET_BUFFER, OverflowStrategy.dropHead())
        .mapMaterializedValue(ref -> {
          socket.set(ref);
          gw.watch().tell(new WatchActor.OpenSocket(ref.narrow(), connection, gw.watchMaxJobs()));
          return NotUsed.getInstance();
        })
        .watchTermination((nu, done) -> {
          done.whenCompleteAsync((d, failure) -> gw.watch().tell(new WatchActor.Unsubscribe(socket.get().narrow())),
              gw.system().executionContext());
          return nu;
        })
        .conflateWithSeed(first -> new SocketBacklog(closer, gw.watchMaxJobs()).add(first), SocketBacklog::add)
        .mapConcat(SocketBacklog::frames);
    ObjectNode welcome = Json.object().put("type", "welcome").put("sid", sid)
        .put("message", "Welcome to the Compass-CI scheduler").put("status", "connected");
    Sink<String, NotUsed> in = Flow.of(String.class)
        .to(Sink.foreach(text -> read(text, socket.get(), closer)))
        .mapMaterializedValue(done -> NotUsed.getInstance());
    return Flow.fromSinkAndSourceCoupled(in, auth.whileAllowed(Source.single(Json.write(welcome)).concat(events),
        allowed, () -> closer.close(WebSockets.POLICY_VIOLATION, Auth.TOKEN_REVOKED)));
  }

  /**
   * The conflating buffer of the watch actor's events, and this socket's own notes in order. One
   * event per job is kept, but a watcher that follows and unfollows (or names jobs that do not
   * exist, or more than it may follow) while it reads nothing makes new jobs' events without end:
   * past {@code 4 × max-jobs} of them it is closed (1008), as a provider that does not read.
   */
  private static final class SocketBacklog {
    private final WebSockets.Closer closer;
    private final int most;
    private EventBacklog events;
    private List<String> notes;

    SocketBacklog(WebSockets.Closer closer, int maxJobs) {
      this.closer = closer;
      this.most = 4 * maxJobs + SOCKET_BUFFER;
    }

    SocketBacklog add(Object o) {
      if (events != null && events.size() >= most) {
        closer.close(WebSockets.POLICY_VIOLATION, "the watcher reads too slowly: " + most
            + " jobs' events wait for it");
        return this;
      }
      if (o instanceof Note n) {
        if (notes == null) {
          notes = new ArrayList<>(2);
        }
        // bounded like the events: a reader that does not read keeps the newest notes only
        if (notes.size() >= SOCKET_BUFFER) {
          notes.remove(0);
        }
        notes.add(n.json());
      } else if (o instanceof WatchActor.Event e) {
        if (events == null) {
          events = new EventBacklog(e);
        } else {
          events.add(e);
        }
      }
      return this;
    }

    /** The notes, then the events, each event rendered as the socket takes it (see {@link EventBacklog#frames}). */
    Iterable<String> frames() {
      return () -> {
        java.util.stream.Stream<String> noted = notes == null ? java.util.stream.Stream.empty() : notes.stream();
        java.util.stream.Stream<String> jobs = events == null ? java.util.stream.Stream.empty()
            : java.util.stream.StreamSupport.stream(events.frames(WS).spliterator(), false);
        return java.util.stream.Stream.concat(noted, jobs).iterator();
      };
    }
  }

  private void read(String text, ActorRef<Object> socket, WebSockets.Closer closer) {
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
      socket.tell(new Note(error(null, "job_id: give a job id, or a list of them")));
      return;
    }
    for (JsonNode id : given.isArray() ? given : List.of(given)) {
      Optional<Long> parsed = jobId(id);
      if (parsed.isPresent()) {
        ids.add(parsed.get());
      } else {
        socket.tell(new Note(error(id.isValueNode() ? id.asText() : Json.write(id), "not a job id")));
      }
    }
    if (!ids.isEmpty()) {
      ActorRef<WatchActor.Event> out = socket.narrow();
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
