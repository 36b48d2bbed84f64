package org.compassci.sched.http;

import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.compassci.sched.actors.PersistenceActor;
import org.compassci.sched.model.Json;

/** /scheduler/v1/health: alive, and ready when the store is reachable. */
public final class HealthRoutes extends AllDirectives {

  private final Gateway gw;
  /** The store's kind as its last answer named it: a 503 for an unanswered ask keeps the shape. */
  private volatile String storeKind = "unknown";

  public HealthRoutes(Gateway gw) {
    this.gw = gw;
  }

  public Route routes() {
    return path("health", () -> get(() -> completeWithFuture(
        gw.<PersistenceActor.Command, PersistenceActor.PingResult>ask(gw.store(),
                PersistenceActor.Ping::new)
            .thenApply(p -> {
              storeKind = p.store();
              var body = Json.object().put("status", p.error().isEmpty() ? "ok" : "unavailable")
                  .put("store", p.store());
              p.error().ifPresent(e -> body.put("error", e));
              return Responses.json(p.error().isEmpty() ? StatusCodes.OK
                  : StatusCodes.SERVICE_UNAVAILABLE, body);
            })
            .exceptionally(failure -> {
              // the same shape as the store's own "unavailable", with Retry-After
              Throwable t = Responses.cause(failure);
              return Responses.unavailable(Json.object().put("status", "unavailable").put("store", storeKind)
                  .put("error", t instanceof java.util.concurrent.TimeoutException
                      ? "the store did not answer within scheduler.http.ask-timeout" : "store unavailable: " + t.getMessage()));
            }))));
  }
}
