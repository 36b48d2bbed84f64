package org.compassci.sched.actors;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import scala.jdk.javaapi.FutureConverters;
import scala.runtime.BoxedUnit;

/**
 * The one way this code asks an actor. Pekko's ask answers with Scala's {@code CompletionStage}
 * wrapper, whose every continuation (and so {@code ActorContext.ask} and {@code pipeToSelf} on
 * it) runs on {@code CompletableFuture}'s default executor; on a machine with a common pool of
 * parallelism 1 (2 cores) that executor starts a new thread per task. Here the answer completes
 * a plain future on the actor system's dispatcher, where continuations run without new threads.
 *
 * <p>The answer is handed over as a callback of the Scala future underneath the wrapper, which
 * the dispatcher runs as a batch: Pekko HTTP's own callbacks on the completed future (marshalling
 * the answer, the route's result) then join that batch on the same thread instead of each going
 * through the dispatcher's queue again, as they did after a plain task.
 */
public final class Asks {

  private Asks() {}

  public static <Req, Res> CompletableFuture<Res> ask(ActorSystem<?> system, ActorRef<Req> target,
      Function<ActorRef<Res>, Req> message, Duration timeout) {
    CompletableFuture<Res> answer = new CompletableFuture<>();
    FutureConverters.asScala(AskPattern.ask(target, message::apply, timeout, system.scheduler()))
        .onComplete(reply -> {
          if (reply.isSuccess()) {
            answer.complete(reply.get());
          } else {
            answer.completeExceptionally(reply.failed().get());
          }
          return BoxedUnit.UNIT;
        }, system.executionContext());
    return answer;
  }
}
