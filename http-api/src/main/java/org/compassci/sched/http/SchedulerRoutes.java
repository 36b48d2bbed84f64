package org.compassci.sched.http;

import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;

/** Every route of the scheduler, each area in its own class. */
public final class SchedulerRoutes extends AllDirectives {

  private final Gateway gw;
  private final java.util.Optional<String> adminToken;

  public SchedulerRoutes(Gateway gw, java.util.Optional<String> adminToken) {
    this.gw = gw;
    this.adminToken = adminToken;
  }

  public Route routes() {
    return concat(
        pathPrefix("scheduler", () -> pathPrefix("v1", () -> concat(
            new HealthRoutes(gw).routes(),
            new DispatchRoutes(gw).routes(),
            new WatchRoutes(gw).routes(),
            new JobRoutes(gw).routes(),
            new ManageRoutes(gw, adminToken).routes()))),
        // Prometheus scrapes /metrics by convention, outside the API's prefix
        path("metrics", () -> get(() -> completeWithFuture(
            gw.<org.compassci.sched.actors.StatsActor.Command, String>ask(gw.stats(),
                    org.compassci.sched.actors.StatsActor.Scrape::new)
                .thenApply(text -> org.apache.pekko.http.javadsl.model.HttpResponse.create()
                    .withEntity(org.apache.pekko.http.javadsl.model.ContentTypes.TEXT_PLAIN_UTF8, text))
                .exceptionally(Responses::unavailable)))),
        new LegacyRoutes(gw).routes());
  }
}
