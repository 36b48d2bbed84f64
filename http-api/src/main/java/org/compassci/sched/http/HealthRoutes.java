package org.compassci.sched.http;

import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.compassci.sched.actors.PersistenceActor;
import org.compassci.sched.model.Json;

/** /scheduler/v1/health: alive, and ready when the store is reachable. */
public final class HealthRoutes extends AllDirectives {

  private final Gateway gw;

  public HealthRoutes(Gateway gw) {
    this.gw = gw;
  }

  public Route routes() {
    return path("health", () -> get(() -> completeWithFuture(
        gw.<PersistenceActor.Command, PersistenceActor.PingResult>ask(gw.store(),
                PersistenceActor.Ping::new)
            .thenApply(p -> {
              var body = Json.object().put("status", p.error().isEmpty() ? "ok" : "unavailable")
                  .put("store", p.store());
              p.error().ifPresent(e -> body.put("error", e));
              return Responses.json(p.error().isEmpty() ? StatusCodes.OK
                  : StatusCodes.SERVICE_UNAVAILABLE, body);
            })
            .exceptionally(Responses::unavailable))));
  }
}
