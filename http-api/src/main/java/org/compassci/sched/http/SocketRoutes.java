package org.compassci.sched.http;

import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.compassci.sched.actors.ProvidersActor;
import org.compassci.sched.config.SocketSettings;

/**
 * The WebSocket endpoints and what goes with them: providers ({@link ProviderRoutes}, with
 * {@code jobs/{id}/terminate}) and watchers ({@link ClientSocketRoutes}), put before the rest.
 */
public final class SocketRoutes extends AllDirectives {

  private final ProviderRoutes providers;
  private final ClientSocketRoutes clients;

  public SocketRoutes(Gateway gw, ActorRef<ProvidersActor.Command> providers, SocketSettings settings,
      ProviderBoot boot) {
    this(gw, providers, settings, boot, Auth.legacy(java.util.Optional.empty()));
  }

  public SocketRoutes(Gateway gw, ActorRef<ProvidersActor.Command> providers, SocketSettings settings,
      ProviderBoot boot, Auth auth) {
    this.providers = new ProviderRoutes(gw, providers, settings, boot, auth);
    this.clients = new ClientSocketRoutes(gw, settings, auth);
  }

  /** These routes, then {@code rest}. */
  public Route before(Route rest) {
    // built once: the inner route of pathPrefix is called again for every request under it
    Route sockets = concat(providers.routes(), clients.routes());
    return concat(
        pathPrefix("scheduler", () -> pathPrefix("v1", () -> sockets)),
        rest);
  }
}
