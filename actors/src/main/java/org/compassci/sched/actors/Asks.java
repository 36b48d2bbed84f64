package org.compassci.sched.actors;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;

/**
 * The one way this code asks an actor. Pekko's ask answers with Scala's {@code CompletionStage}
 * wrapper, whose every continuation (and so {@code ActorContext.ask} and {@code pipeToSelf} on
 * it) runs on {@code CompletableFuture}'s default executor; on a machine with a common pool of
 * parallelism 1 (2 cores) that executor starts a new thread per task. Here the answer completes
 * a plain future on the actor system's dispatcher, where continuations run without new threads.
 */
public final class Asks {

  private Asks() {}

  public static <Req, Res> CompletableFuture<Res> ask(ActorSystem<?> system, ActorRef<Req> target,
      Function<ActorRef<Res>, Req> message, Duration timeout) {
    CompletableFuture<Res> answer = new CompletableFuture<>();
    AskPattern.ask(target, message::apply, timeout, system.scheduler())
        .whenCompleteAsync((reply, failure) -> {
          if (failure != null) {
            answer.completeExceptionally(failure);
          } else {
            answer.complete(reply);
          }
        }, system.executionContext());
    return answer;
  }
}
