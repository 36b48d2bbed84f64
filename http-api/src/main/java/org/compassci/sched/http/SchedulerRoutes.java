package org.compassci.sched.http;

import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;

/** Every route of the scheduler, each area in its own class. */
public final class SchedulerRoutes extends AllDirectives {

  private final Gateway gw;
  private final java.util.Optional<String> adminToken;
  /** Real testboxes (boot by MAC, packages, uploads); null when not wired (then those routes are absent). */
  private final BootContext boot;

  public SchedulerRoutes(Gateway gw, java.util.Optional<String> adminToken) {
    this(gw, adminToken, null);
  }

  public SchedulerRoutes(Gateway gw, java.util.Optional<String> adminToken, BootContext boot) {
    this.gw = gw;
    this.adminToken = adminToken;
    this.boot = boot;
  }

  public Route routes() {
    return concat(
        pathPrefix("scheduler", () -> pathPrefix("v1", () -> concat(
            new HealthRoutes(gw).routes(),
            boot != null ? new BootRoutes(gw, boot).v1() : reject(),
            new DispatchRoutes(gw).routes(),
            new WatchRoutes(gw).routes(),
            new JobRoutes(gw, boot != null ? boot.secrets() : null).routes(),
            new ManageRoutes(gw, adminToken).routes(),
            new DashboardRoutes(gw).api()))),
        new DashboardRoutes(gw).page(),
        // Prometheus scrapes /metrics by convention, outside the API's prefix
        path("metrics", () -> get(() -> completeWithFuture(
            gw.<org.compassci.sched.actors.StatsActor.Command, String>ask(gw.stats(),
                    org.compassci.sched.actors.StatsActor.Scrape::new)
                .thenApply(text -> org.apache.pekko.http.javadsl.model.HttpResponse.create()
                    .withEntity(org.apache.pekko.http.javadsl.model.ContentTypes.TEXT_PLAIN_UTF8, text))
                .exceptionally(Responses::unavailable)))),
        new LegacyRoutes(gw).routes(),
        boot != null ? concat(new BootRoutes(gw, boot).root(), new ResultRoutes(gw, boot).routes(),
            new LkpRoutes(gw).routes(), new JobRoutes(gw, boot.secrets()).legacySubmit()) : reject());
  }
}
