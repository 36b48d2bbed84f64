package org.compassci.sched.actors;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Clock;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.compassci.sched.extract.Extraction;

/**
 * Extracts the statistics of jobs whose results are uploaded: the plugins read result folders,
 * so they run on a dispatcher of their own and come back with pipeToSelf.
 */
public final class ExtractActor extends AbstractBehavior<ExtractActor.Command> {

  public static final String DISPATCHER = "scheduler.extract-dispatcher";

  public sealed interface Command {}

  /** {@code job}: a copy the plugins may read. */
  public record Extract(long id, ObjectNode job, ActorRef<Extracted> replyTo) implements Command {}

  public record Extracted(long id, Extraction.Result result) {}

  public record GetStats(ActorRef<ActorStats> replyTo) implements Command {}

  private record Finished(Extract request, Extraction.Result result) implements Command {}

  private final Extraction extraction;
  private final Executor executor;
  private final Activity activity;
  private int running;
  private long done;
  private long failed;

  public static Behavior<Command> create(Extraction extraction, Clock clock) {
    return Behaviors.setup(ctx -> new ExtractActor(ctx, extraction, clock));
  }

  private ExtractActor(ActorContext<Command> ctx, Extraction extraction, Clock clock) {
    super(ctx);
    this.extraction = extraction;
    this.activity = new Activity(clock);
    this.executor = ctx.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig(DISPATCHER));
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Extract.class, this::onExtract)
        .onMessage(Finished.class, this::onFinished)
        .onMessage(GetStats.class, this::onGetStats)
        .build();
  }

  private Behavior<Command> onExtract(Extract e) {
    activity.touch();
    running++;
    getContext().pipeToSelf(CompletableFuture.supplyAsync(() -> extraction.run(e.job()), executor),
        (result, failure) -> new Finished(e, failure == null ? result
            : new Extraction.Result(null, "extraction failed: " + failure.getMessage())));
    return this;
  }

  private Behavior<Command> onFinished(Finished f) {
    running--;
    if (f.result().ok()) {
      done++;
    } else {
      failed++;
    }
    f.request().replyTo().tell(new Extracted(f.request().id(), f.result()));
    return this;
  }

  private Behavior<Command> onGetStats(GetStats g) {
    g.replyTo().tell(new ActorStats("extract", java.util.Map.of("running", (long) running,
        "extracted", done, "failed", failed), activity.messages(), activity.last()));
    return this;
  }
}
