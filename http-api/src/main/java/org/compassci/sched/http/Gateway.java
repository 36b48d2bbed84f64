package org.compassci.sched.http;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.compassci.sched.actors.Asks;
import org.compassci.sched.actors.ExtractActor;
import org.compassci.sched.actors.HostRegistryActor;
import org.compassci.sched.actors.LifecycleActor;
import org.compassci.sched.actors.MatcherActor;
import org.compassci.sched.actors.PersistenceActor;
import org.compassci.sched.actors.Restarts;
import org.compassci.sched.actors.StatsActor;
import org.compassci.sched.actors.WatchActor;
import org.compassci.sched.model.JobFile;

/** The actors the routes talk to, and the one place where the HTTP edge asks them. */
public record Gateway(
    ActorSystem<?> system,
    ActorRef<MatcherActor.Command> matcher,
    ActorRef<LifecycleActor.Command> lifecycle,
    ActorRef<PersistenceActor.Command> store,
    ActorRef<ExtractActor.Command> extractor,
    ActorRef<HostRegistryActor.Command> hosts,
    ActorRef<WatchActor.Command> watch,
    ActorRef<StatsActor.Command> stats,
    ActorRef<org.compassci.sched.actors.ProvidersActor.Command> providers,
    ActorRef<org.compassci.sched.actors.UploadActor.Command> uploads,
    Restarts restarts,
    Duration askTimeout,
    long maxBodyBytes,
    Duration waitTimeout,
    Duration heartbeat,
    int watchMaxJobs,
    JobFile.Rules jobFiles,
    /** The actors' clock: a time the routes hand them is on it (the test kit's runs virtual time). */
    java.time.Clock clock) {

  public <Req, Res> CompletableFuture<Res> ask(ActorRef<Req> target,
      Function<ActorRef<Res>, Req> message) {
    return ask(target, message, askTimeout);
  }

  public <Req, Res> CompletableFuture<Res> ask(ActorRef<Req> target,
      Function<ActorRef<Res>, Req> message, Duration timeout) {
    return Asks.ask(system, target, message, timeout);
  }

  /**
   * A box asks the matcher for a job, waiting up to {@code longPoll} for one. The ask lasts a
   * little longer than the wait (a parked request is answered when its wait is over), and its
   * deadline goes with the request, so that a hand-out made durable after it is given back.
   */
  public CompletableFuture<MatcherActor.DispatchResult> dispatch(org.compassci.sched.model.Testbox box,
      Duration longPoll, org.compassci.sched.model.ConnectionId connection) {
    Duration timeout = askTimeout.plus(longPoll);
    return ask(matcher, r -> new MatcherActor.Dispatch(box, longPoll, connection,
        System.currentTimeMillis() + timeout.toMillis(), r), timeout);
  }
}
