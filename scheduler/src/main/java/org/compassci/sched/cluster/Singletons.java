package org.compassci.sched.cluster;

import java.time.Clock;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.typed.ClusterSingleton;
import org.apache.pekko.cluster.typed.SingletonActor;
import org.compassci.sched.actors.ExtractActor;
import org.compassci.sched.actors.HostRegistryActor;
import org.compassci.sched.actors.IdempotencyActor;
import org.compassci.sched.actors.LifecycleActor;
import org.compassci.sched.actors.MatcherActor;
import org.compassci.sched.actors.PersistenceActor;
import org.compassci.sched.actors.Restarts;
import org.compassci.sched.config.SchedulerSettings;

/**
 * Cluster mode: the matcher (queue, fair share, hand-outs), the lifecycle (stage state,
 * deadlines), the host registry (which box asked when, what it runs) and the submits with an
 * Idempotency-Key (which key is on its way) each run once in the cluster, as Cluster Singletons
 * on the oldest node, so that each fact has one owner. Every
 * node gets their proxies; the behaviours given here run only on the node that hosts them,
 * with that node's own store and extraction. All on one node, the matcher's and the
 * lifecycle's reports to the registry, and the keyed submits to the matcher, never cross the
 * network.
 *
 * @param matcher     the matcher's proxy
 * @param lifecycle   the lifecycle's proxy
 * @param idempotency the proxy of the keyed submits' actor
 */
public record Singletons(ActorRef<MatcherActor.Command> matcher, ActorRef<LifecycleActor.Command> lifecycle,
    ActorRef<HostRegistryActor.Command> hosts, ActorRef<IdempotencyActor.Command> idempotency) {

  public static Singletons init(ActorSystem<?> system, Restarts restarts,
      ActorRef<PersistenceActor.Command> persistence, ActorRef<ExtractActor.Command> extractor,
      SchedulerSettings settings, Clock clock, ClusterSettings cluster,
      org.compassci.sched.persistence.HostStore hostStore) {
    ClusterSingleton singletons = ClusterSingleton.get(system);
    // registrations are read back from the store; the rest a new incarnation learns again as
    // the boxes ask
    ActorRef<HostRegistryActor.Command> hosts = singletons.init(SingletonActor.of(
        restarts.supervise("hosts", HostRegistryActor.create(settings.hostsOfflineAfter(), clock,
            settings.boot().labHostsDir(), hostStore)), "hosts"));
    // the lifecycle needs the matcher's proxy, made just below: read when the lifecycle starts,
    // which is never before this method has returned (a singleton starts once the node is up)
    AtomicReference<ActorRef<MatcherActor.Command>> matcher = new AtomicReference<>();
    ActorRef<LifecycleActor.Command> lifecycle = singletons.init(SingletonActor.of(
            restarts.supervise("lifecycle",
                // the one lifecycle of the cluster: every hand-out in the store is the cluster's
                // its load waits for this node's matcher epoch: then the node it replaces writes no more
                LifecycleActor.create(persistence, extractor, hosts, settings.timeouts(), clock, matcher::get,
                    LifecycleActor.sweepEvery(settings.timeouts()), cluster.self())),
            "lifecycle")
        .withStopMessage(new LifecycleActor.HandOver()));
    matcher.set(singletons.init(SingletonActor.of(
            restarts.supervise("matcher",
                MatcherActor.create(persistence, lifecycle, hosts, settings, clock, cluster.self())), "matcher")
        .withStopMessage(new MatcherActor.HandOver())));
    // one per node let a retry through another node make a second set of jobs (see the actor)
    ActorRef<IdempotencyActor.Command> idempotency = singletons.init(SingletonActor.of(
            restarts.supervise("idempotency", IdempotencyActor.create(persistence, matcher.get(),
                settings.access().idempotencyTtl(), clock)), "idempotency")
        .withStopMessage(new IdempotencyActor.HandOver()));
    return new Singletons(matcher.get(), lifecycle, hosts, idempotency);
  }
}
