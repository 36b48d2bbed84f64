package org.compassci.sched.http;

import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;

/** Every route of the scheduler, each area in its own class. */
public final class SchedulerRoutes extends AllDirectives {

  private final Gateway gw;
  private final Auth auth;
  /** Real testboxes (boot by MAC, packages, uploads); null when not wired (then those routes are absent). */
  private final BootContext boot;

  public SchedulerRoutes(Gateway gw, java.util.Optional<String> adminToken) {
    this(gw, adminToken, null);
  }

  public SchedulerRoutes(Gateway gw, java.util.Optional<String> adminToken, BootContext boot) {
    this(gw, Auth.legacy(adminToken), boot);
  }

  public SchedulerRoutes(Gateway gw, Auth auth, BootContext boot) {
    this.gw = gw;
    this.auth = auth;
    this.boot = boot;
  }

  /** Prometheus's text exposition format, named as its scrapers expect. */
  private static final org.apache.pekko.http.javadsl.model.ContentType.NonBinary PROMETHEUS_TEXT =
      (org.apache.pekko.http.javadsl.model.ContentType.NonBinary)
          org.apache.pekko.http.javadsl.model.ContentTypes.parse("text/plain; version=0.0.4; charset=UTF-8");

  public Route routes() {
    return routesAfter(reject());
  }

  /** {@code first} (the WebSocket routes), then these, all within the query's bound. */
  public Route routesAfter(Route first) {
    // built here, once: a directive's inner route is a function Pekko calls for every request
    // that passes it, so a tree written inside pathPrefix would be built again per request
    // (every area's routes, for one of them to match)
    Route v1 = concat(
        new HealthRoutes(gw).routes(),
        boot != null ? new BootRoutes(gw, boot, auth).v1() : reject(),
        new DispatchRoutes(gw, auth).routes(),
        new WatchRoutes(gw, auth).routes(),
        new JobRoutes(gw, boot != null ? boot.secrets() : null, auth).routes(),
        new ManageRoutes(gw, auth).routes(),
        new AccountRoutes(gw, auth).routes(),
        new DashboardRoutes(gw, auth).api());
    // what no route takes is answered in JSON too (Pekko's own answers are plain text)
    org.apache.pekko.http.javadsl.server.RejectionHandler asJson =
        org.apache.pekko.http.javadsl.server.RejectionHandler.defaultHandler()
            .mapRejectionResponse(r -> Responses.jsonRejection(r, gw.maxBodyBytes()));
    return handleRejections(asJson, () -> bounded(concat(first,
        pathPrefix("scheduler", () -> pathPrefix("v1", () -> v1)),
        new DashboardRoutes(gw, auth).page(),
        // Prometheus scrapes /metrics by convention, outside the API's prefix
        path("metrics", () -> get(() -> auth.read(() -> completeWithFuture(
            gw.<org.compassci.sched.actors.StatsActor.Command, String>ask(gw.stats(),
                    org.compassci.sched.actors.StatsActor.Scrape::new)
                .thenApply(text -> org.apache.pekko.http.javadsl.model.HttpResponse.create()
                    .withEntity(PROMETHEUS_TEXT, text))
                .exceptionally(Responses::unavailable))))),
        new LegacyRoutes(gw).routes(),
        boot != null ? concat(new BootRoutes(gw, boot, auth).root(), new ResultRoutes(gw, boot, auth).routes(),
            new LkpRoutes(gw).routes(), new JobRoutes(gw, boot.secrets(), auth).legacySubmit()) : reject())));
  }

  private org.apache.pekko.http.javadsl.model.HttpResponse bodyTooLarge() {
    return Responses.error(org.apache.pekko.http.javadsl.model.StatusCodes.PAYLOAD_TOO_LARGE,
        "the request body is larger than scheduler.http.max-body (" + gw.maxBodyBytes() + " bytes)");
  }

  /**
   * A body in chunks as {@link #bounded} reads it: past the limit, 413; one that does not arrive
   * within scheduler.http.ask-timeout or is cut short, Pekko's own status (408, 400), in JSON.
   */
  private final org.apache.pekko.http.javadsl.server.ExceptionHandler chunksTooLarge =
      org.apache.pekko.http.javadsl.server.ExceptionHandler.newBuilder()
          .match(org.apache.pekko.http.scaladsl.model.EntityStreamSizeException.class, e -> complete(bodyTooLarge()))
          .match(org.apache.pekko.http.scaladsl.model.IllegalRequestException.class, e -> complete(
              Responses.error(e.status(), "the request body could not be read: " + e.info().summary())))
          .build();

  /**
   * What is refused before any route runs, in one directive on every request:
   * <ul>
   *   <li>more query parameters than scheduler.http.max-query-params: 431 before any route reads
   *       them (the request line's own length is Pekko's max-uri-length, answered by
   *       {@link ParsingErrors});
   *   <li>a {@code /scheduler/v1} call with a body declared larger than scheduler.http.max-body:
   *       413, so a call that takes no body (cancel, update, terminate) is not carried out for
   *       what the contract calls bad input. One sent in chunks, with no length declared, is read
   *       up to the limit before the route runs, and refused the same way past it. The routes
   *       that read a body bound it as they read; submit answers its own 413, in its own shape (a
   *       list of one refused job), and the legacy and upload routes keep their own rules.
   * </ul>
   */
  private Route bounded(Route inner) {
    int most = auth.access().maxQueryParams();
    return extractRequest(request -> {
      String q = request.getUri().rawQueryString().orElse("");
      int params = q.isEmpty() ? 0 : 1;
      for (int i = 0; i < q.length() && params <= most; i++) {
        if (q.charAt(i) == '&' || q.charAt(i) == ';') {
          params++;
        }
      }
      if (params > most) {
        return complete(Responses.error(org.apache.pekko.http.javadsl.model.StatusCodes.REQUEST_HEADER_FIELDS_TOO_LARGE,
            "more than the " + most + " query parameters of scheduler.http.max-query-params"));
      }
      String path = request.getUri().getPathString();
      if (!path.startsWith("/scheduler/v1/") || path.equals("/scheduler/v1/jobs/submit")) {
        return inner;
      }
      var length = request.entity().getContentLengthOption();
      if (length.isPresent() && length.getAsLong() > gw.maxBodyBytes()) {
        return complete(bodyTooLarge());
      }
      if (length.isEmpty() && !request.entity().isStrict()) {
        // a body in chunks declares no length to refuse it by: it is read, up to the limit,
        // before the route runs, or a cancel or update with one too large was carried out
        // (the size limit first: its failure is the one that says "too large"; toStrict's own is a 400)
        return handleExceptions(chunksTooLarge, () -> withSizeLimit(gw.maxBodyBytes(),
            () -> toStrictEntity(gw.askTimeout(), gw.maxBodyBytes() + 1, () -> inner)));
      }
      return inner;
    });
  }
}
