package org.compassci.sched.http;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.apache.pekko.Done;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.model.AttributeKey;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.settings.ServerSettings;
import org.apache.pekko.stream.KillSwitches;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.SharedKillSwitch;
import org.apache.pekko.stream.TLSProtocol;
import org.apache.pekko.stream.TLSProtocol.SslTlsInbound;
import org.apache.pekko.stream.TLSProtocol.SslTlsOutbound;
import org.apache.pekko.stream.javadsl.BidiFlow;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Tcp;
import org.apache.pekko.util.ByteString;

/**
 * The HTTP server, bound at the TCP level so that a client hanging up is seen at once. Pekko
 * HTTP tells a route nothing when a client closes while its request is pending (a parked
 * long poll); here every connection's inbound bytes are watched, and its requests carry the
 * connection ({@link #CONNECTION}), so the matcher can drop the parked requests of a client
 * that left instead of handing them a job nobody will read.
 */
public final class HttpServer {

  /** The connection a request came in on: a value per connection (it crosses nodes in a cluster). */
  public static final AttributeKey<org.compassci.sched.model.ConnectionId> CONNECTION =
      AttributeKey.create("scheduler-connection", org.compassci.sched.model.ConnectionId.class);

  /**
   * A bound server. The raw TCP bind has no {@code ServerBinding.terminate}, so the drain is
   * here: {@code binding} stops taking connections, {@link #drained} waits for the requests in
   * flight, {@link #closeConnections} ends every connection that is left.
   */
  public record Bound(Tcp.ServerBinding binding, AtomicInteger inFlight, SharedKillSwitch connections,
      java.util.concurrent.atomic.AtomicBoolean draining) {

    /**
     * From here on a request that comes in on a connection still open is not served: it is
     * answered 503 with {@code Connection: close}, as Pekko's own terminate does, so its client
     * asks again elsewhere; the requests already in flight go on. Served, a new one could start
     * what the closing of the connections then cuts off: a box that asked again at once after
     * its parked poll's 204 was handed a job whose answer never left, and the job waited out its
     * dispatch-ack. Called before the parked polls are answered, so that no box's next request
     * comes in between.
     */
    public void turnAwayNewRequests() {
      draining.set(true);
    }

    /** Completes when no request is in flight, or at {@code deadline}, whichever is first. */
    public CompletionStage<Done> drained(ActorSystem<?> system, Duration deadline) {
      CompletableFuture<Done> done = new CompletableFuture<>();
      long end = System.nanoTime() + deadline.toNanos();
      poll(system, done, end);
      return done;
    }

    private void poll(ActorSystem<?> system, CompletableFuture<Done> done, long end) {
      if (System.nanoTime() >= end) {
        done.complete(Done.getInstance());
        return;
      }
      if (inFlight.get() <= 0) {
        // an answer leaves the count before it is rendered and written: closing the connections
        // at once could drop the last ones (a parked poll's 204, ShutdownTest on a loaded
        // machine), so they get a moment, within the deadline, to reach the socket; a request
        // that came in meanwhile (turned away, or sent before the flag) is waited for again
        long grace = Math.min(TimeUnit.MILLISECONDS.toNanos(200), Math.max(0, end - System.nanoTime()));
        system.scheduler().scheduleOnce(Duration.ofNanos(grace), () -> {
          if (inFlight.get() <= 0) {
            done.complete(Done.getInstance());
          } else {
            poll(system, done, end);
          }
        }, system.executionContext());
        return;
      }
      system.scheduler().scheduleOnce(Duration.ofMillis(20), () -> poll(system, done, end),
          system.executionContext());
    }

    public void closeConnections() {
      connections.shutdown();
    }
  }

  private HttpServer() {}

  /**
   * The answer to a request whose body arrives in parts, given once that body has been read: a
   * route that answers before the body is in (a refusal, a rejection, an unknown job) would make
   * Pekko HTTP close the connection after the answer, and a client still sending its body then
   * sees the connection reset instead of the answer. A body nobody read is read and dropped
   * here; one being read (by the route, or by the rejection handler's own discarding) is waited
   * for. A route that stops reading part way (a size limit) still closes the connection.
   */
  private static CompletionStage<HttpResponse> answerAfterBody(HttpRequest request,
      org.apache.pekko.japi.function.Function<HttpRequest, CompletionStage<HttpResponse>> handler,
      Materializer mat, java.util.concurrent.Executor onDispatcher) throws Exception {
    CompletableFuture<Void> bodyRead = new CompletableFuture<>();
    java.util.concurrent.atomic.AtomicBoolean reading = new java.util.concurrent.atomic.AtomicBoolean();
    Flow<ByteString, ByteString, Object> watch = Flow.of(ByteString.class).<Object>watchTermination((nu, done) -> {
      reading.set(true);
      done.whenCompleteAsync((d, failure) -> bodyRead.complete(null), onDispatcher);
      return nu;
    });
    // a body of declared length keeps it: routes refuse one declared too large before reading it
    HttpRequest watched = request.entity() instanceof org.apache.pekko.http.scaladsl.model.HttpEntity.Default sized
        ? request.withEntity(org.apache.pekko.http.javadsl.model.HttpEntities.create(
            sized.getContentType(), sized.contentLength(), sized.getDataBytes().via(watch)))
        : request.withEntity(((org.apache.pekko.http.scaladsl.model.RequestEntity) request.entity())
            .transformDataBytes(watch.asScala()));
    return handler.apply(watched).thenComposeAsync(answer -> {
      if (reading.get()) {
        return bodyRead.thenApply(v -> answer);
      }
      return watched.discardEntityBytes(mat).completionStage()
          .handleAsync((done, failure) -> answer, onDispatcher);
    }, onDispatcher);
  }

  /**
   * Plain HTTP under Pekko's server layer, which speaks TLS records. Pekko's TLSPlacebo stamps
   * each chunk with the JDK's default SSL session, and making that session loads the JVM's trust
   * store at the first bind: about 250 classes and 150 certificates kept for good, for a server
   * that never speaks TLS. The layer reads the session only for the Tls-Session-Info header and
   * the ssl-session attribute, so with both off (they describe TLS, which this server has not;
   * {@link #bind} refuses them) the chunks carry none.
   */
  static BidiFlow<SslTlsOutbound, ByteString, ByteString, SslTlsInbound, NotUsed> plainBytes() {
    return BidiFlow.fromFlows(
        Flow.of(SslTlsOutbound.class)
            .filter(out -> out instanceof TLSProtocol.SendBytes)
            .map(out -> ((TLSProtocol.SendBytes) out).bytes()),
        Flow.of(ByteString.class).map(bytes -> (SslTlsInbound) new TLSProtocol.SessionBytes(null, bytes)));
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  public static CompletionStage<Bound> bind(ActorSystem<?> system, String host,
      int port, Route route, Consumer<org.compassci.sched.model.ConnectionId> clientGone) {
    AtomicInteger inFlight = new AtomicInteger();
    java.util.concurrent.atomic.AtomicBoolean draining = new java.util.concurrent.atomic.AtomicBoolean();
    SharedKillSwitch connections = KillSwitches.shared("http-connections");
    ServerSettings defaults = ServerSettings.create(system.classicSystem());
    // lkp-tests' WebDAV uploads make folders with MKCOL, a method HTTP itself does not know
    ServerSettings settings = defaults.withParserSettings(defaults.getParserSettings().withCustomMethods(
        org.apache.pekko.http.javadsl.model.HttpMethods.custom("MKCOL", false, true,
            org.apache.pekko.http.javadsl.model.RequestEntityAcceptances.Tolerated)));
    Materializer mat = Materializer.matFromSystem(system);
    org.apache.pekko.japi.function.Function<HttpRequest, CompletionStage<HttpResponse>> handler = route.handler(system);
    java.util.concurrent.Executor onDispatcher = system.executionContext();
    scala.concurrent.duration.Duration idle = settings.getTimeouts().idleTimeout();
    Optional<Duration> idleTimeout = idle.isFinite()
        ? Optional.of(Duration.ofNanos(idle.toNanos())) : Optional.empty();
    // one server layer for every connection: each new one primes Pekko's header parser again
    // (about 4 KB kept per connection, and its CPU), where a shared one is copied cheaply; the
    // remote address goes on each request below, as remote-address-attribute would put it
    if (settings.getParserSettings().getIncludeTlsSessionInfoHeader()
        || settings.getParserSettings().getIncludeSslSessionAttribute()) {
      return CompletableFuture.failedFuture(new IllegalArgumentException(
          "pekko.http.server.parsing.tls-session-info-header and ssl-session-attribute describe a "
              + "TLS session; this server speaks plain HTTP: turn them off"));
    }
    BidiFlow<HttpResponse, ByteString, ByteString, HttpRequest, NotUsed> http =
        Http.get(system).serverLayer(settings, Optional.empty()).atop((BidiFlow) plainBytes());
    return Tcp.get(system)
        .bind(host, port, settings.getBacklog(), settings.getSocketOptions(), false, idleTimeout)
        // pekko.http.server.max-connections, which Pekko's own bind keeps and this one must too:
        // past it new connections wait in the listen backlog until one closes, instead of each
        // taking its memory and a file handle
        .mapAsyncUnordered(settings.getMaxConnections(), connection -> {
          org.compassci.sched.model.ConnectionId id = org.compassci.sched.model.ConnectionId.next();
          org.apache.pekko.http.javadsl.model.RemoteAddress peer =
              org.apache.pekko.http.javadsl.model.RemoteAddress.create(connection.remoteAddress());
          Flow<ByteString, ByteString, NotUsed> bytes = http.reversed().join(Flow.of(HttpRequest.class)
              .map(r -> {
                inFlight.incrementAndGet();
                // the peer's address whatever remote-address-attribute says (Pekko's default is
                // off): without it the loopback rule refused every caller, and the from-box rule
                // of tokenless uploads took them from anywhere
                HttpRequest withId = (HttpRequest) r.addAttribute(CONNECTION, id);
                return (HttpRequest) withId.addAttribute(org.apache.pekko.http.javadsl.model.AttributeKeys.remoteAddress, peer);
              })
              .mapAsync(1, r -> draining.get() ? stopping(r, mat)
                  : r.entity().isStrict() ? handler.apply(r)
                  : answerAfterBody(r, handler, mat, onDispatcher))
              .map(r -> {
                inFlight.decrementAndGet();
                return r;
              }));
          return connection.handleWith(Flow.of(ByteString.class)
              // the client's bytes end when it hangs up, long before a pending answer is due
              .watchTermination((nu, done) -> {
                done.whenCompleteAsync((d, failure) -> clientGone.accept(id),
                    system.executionContext());
                return nu;
              })
              .via(bytes)
              .via(connections.flow())
              // the connection counts until our side of it has ended too
              .watchTermination((nu, done) -> done.handle((d, failure) -> Done.getInstance())), mat);
        })
        .to(Sink.ignore())
        .run(mat)
        .thenApplyAsync(binding -> new Bound(binding, inFlight, connections, draining),
            system.executionContext());
  }

  /** A request that came in while the server drains: not served; its client asks again elsewhere. */
  private static CompletionStage<HttpResponse> stopping(HttpRequest request, Materializer mat) {
    HttpResponse answer = HttpResponse.create()
        .withStatus(org.apache.pekko.http.javadsl.model.StatusCodes.SERVICE_UNAVAILABLE)
        .addHeader(org.apache.pekko.http.javadsl.model.headers.RetryAfter.create(1L))
        .addHeader(org.apache.pekko.http.javadsl.model.headers.Connection.create("close"))
        .withEntity(org.apache.pekko.http.javadsl.model.ContentTypes.APPLICATION_JSON,
            "{\"error\":\"this scheduler is shutting down: ask again\"}");
    return request.discardEntityBytes(mat).completionStage().handle((done, failure) -> answer);
  }
}
