package org.compassci.sched.bench;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.server.AllDirectives;

/**
 * The HTTP stack's own limit on this machine: a Pekko HTTP server, built from the project's own
 * dependencies and with their default settings, whose one route answers {@code complete("ok")}.
 * scripts/bench.sh http drives it with the same client and JVM options as the scheduler, in the
 * same run, and prints every figure as a ratio to it.
 *
 * <pre>StackServer   prints "stack listening on http://127.0.0.1:PORT", serves until killed</pre>
 */
public final class StackServer extends AllDirectives {

  public static void main(String[] args) throws Exception {
    // Pekko's reference settings, not the scheduler's application.conf on the class path
    Config config = ConfigFactory.parseString("pekko.loglevel = WARNING")
        .withFallback(ConfigFactory.defaultReference());
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "stack", config);
    var binding = Http.get(system).newServerAt("127.0.0.1", 0)
        .bind(new StackServer().complete("ok"))
        .toCompletableFuture().get();
    System.out.println("stack listening on http://127.0.0.1:" + binding.localAddress().getPort());
  }
}
