package org.compassci.sched.http;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.model.AttributeKey;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.settings.ServerSettings;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.BidiFlow;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.TLSPlacebo;
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

  /** The connection a request came in on: an object per connection, compared by identity. */
  public static final AttributeKey<Object> CONNECTION =
      AttributeKey.create("scheduler-connection", Object.class);

  private HttpServer() {}

  @SuppressWarnings({"unchecked", "rawtypes"})
  public static CompletionStage<Tcp.ServerBinding> bind(ActorSystem<?> system, String host,
      int port, Route route, Consumer<Object> clientGone) {
    ServerSettings defaults = ServerSettings.create(system.classicSystem());
    // lkp-tests' WebDAV uploads make folders with MKCOL, a method HTTP itself does not know
    ServerSettings settings = defaults.withParserSettings(defaults.getParserSettings().withCustomMethods(
        org.apache.pekko.http.javadsl.model.HttpMethods.custom("MKCOL", false, true,
            org.apache.pekko.http.javadsl.model.RequestEntityAcceptances.Tolerated)));
    Materializer mat = Materializer.matFromSystem(system);
    Flow<HttpRequest, HttpResponse, NotUsed> handler = route.flow(system);
    scala.concurrent.duration.Duration idle = settings.getTimeouts().idleTimeout();
    Optional<Duration> idleTimeout = idle.isFinite()
        ? Optional.of(Duration.ofNanos(idle.toNanos())) : Optional.empty();
    return Tcp.get(system)
        .bind(host, port, settings.getBacklog(), settings.getSocketOptions(), false, idleTimeout)
        .to(Sink.foreach(connection -> {
          Object id = new Object();
          BidiFlow<HttpResponse, ByteString, ByteString, HttpRequest, NotUsed> http =
              Http.get(system).serverLayer(settings, Optional.of(connection.remoteAddress()))
                  .atop((BidiFlow) TLSPlacebo.getInstance());
          Flow<ByteString, ByteString, NotUsed> bytes = http.reversed().join(Flow.of(HttpRequest.class)
              .map(r -> (HttpRequest) r.addAttribute(CONNECTION, id))
              .via(handler));
          connection.handleWith(Flow.of(ByteString.class)
              // the client's bytes end when it hangs up, long before a pending answer is due
              .watchTermination((nu, done) -> {
                done.whenComplete((d, failure) -> clientGone.accept(id));
                return nu;
              })
              .via(bytes), mat);
        }))
        .run(mat);
  }
}
