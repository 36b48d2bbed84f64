package org.compassci.sched.actors;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.StashBuffer;
import org.compassci.sched.match.JobQueue;
import org.compassci.sched.model.DataReadiness;
import org.compassci.sched.model.Job;
import org.compassci.sched.model.JobHealth;
import org.compassci.sched.model.JobIdGenerator;
import org.compassci.sched.model.JobIntake;
import org.compassci.sched.model.JobStage;
import org.compassci.sched.model.Outcome;
import org.compassci.sched.model.Testbox;
import org.compassci.sched.model.Tokens;
import org.compassci.sched.persistence.JobRecord;

/**
 * Owns every job in stage submit. Because this actor alone takes jobs out of the queue, no job
 * can go to two testboxes. A job enters the queue only once it is durable, and a hand-out is
 * written before the testbox hears of it: after a crash, a job a box received is not in submit.
 */
public final class MatcherActor extends AbstractBehavior<MatcherActor.Command> {

  public sealed interface Command {}

  /** New jobs, already checked at the edge; answered once they are durable. */
  public record Submit(List<JobIntake.Draft> jobs, ActorRef<SubmitResult> replyTo)
      implements Command {}

  /** A testbox asks for a job that fits it. */
  public record Dispatch(Testbox box, ActorRef<DispatchResult> replyTo) implements Command {}

  public record Cancel(long id, ActorRef<Outcome> replyTo) implements Command {}

  /** How many jobs wait, for health and management. */
  public record GetQueueSize(ActorRef<Integer> replyTo) implements Command {}

  private record Loaded(PersistenceActor.LoadResult result) implements Command {}

  private record RetryLoad() implements Command {}

  private record StoreWritten(PersistenceActor.Written written) implements Command {}

  /** Writes in flight, carried through the store and back as the write's context. */
  private record PendingSubmit(List<Job> jobs, ActorRef<SubmitResult> replyTo) {}

  private record PendingHandOut(Job job, ObjectNode answer, ActorRef<DispatchResult> replyTo) {}

  private record PendingCancel(Job job, ActorRef<Outcome> replyTo) {}

  /** One entry per submitted job, in order; {@code error} set when none was stored. */
  public record SubmitResult(List<Submitted> jobs, Optional<String> error) {}

  public record Submitted(long id, String resultRoot) {}

  public sealed interface DispatchResult {}

  public record Assigned(ObjectNode job) implements DispatchResult {}

  public record NoJob() implements DispatchResult {}

  public record Unavailable(String reason) implements DispatchResult {}

  private final ActorRef<PersistenceActor.Command> store;
  private final ActorRef<LifecycleActor.Command> lifecycle;
  private final JobIdGenerator ids;
  private final String resultsRoot;
  private final Clock clock;
  private final JobQueue queue = new JobQueue();
  private final ActorRef<PersistenceActor.Written> written;

  public static Behavior<Command> create(ActorRef<PersistenceActor.Command> store,
      ActorRef<LifecycleActor.Command> lifecycle, int workerId, String resultsRoot, Clock clock) {
    return Behaviors.withStash(100_000, stash -> Behaviors.setup(ctx -> {
      MatcherActor matcher = new MatcherActor(ctx, store, lifecycle, workerId, resultsRoot, clock);
      return matcher.loading(stash);
    }));
  }

  private MatcherActor(ActorContext<Command> ctx, ActorRef<PersistenceActor.Command> store,
      ActorRef<LifecycleActor.Command> lifecycle, int workerId, String resultsRoot, Clock clock) {
    super(ctx);
    this.store = store;
    this.lifecycle = lifecycle;
    this.ids = new JobIdGenerator(workerId);
    this.resultsRoot = resultsRoot;
    this.clock = clock;
    this.written = ctx.messageAdapter(PersistenceActor.Written.class, StoreWritten::new);
  }

  /** Until the queued jobs are back from the store, requests wait: none may see a partial queue. */
  private Behavior<Command> loading(StashBuffer<Command> stash) {
    requestLoad();
    return Behaviors.receive(Command.class)
        .onMessage(Loaded.class, l -> onLoaded(l, stash))
        .onMessage(RetryLoad.class, r -> {
          requestLoad();
          return Behaviors.same();
        })
        .onAnyMessage(m -> {
          stash.stash(m);
          return Behaviors.same();
        })
        .build();
  }

  private void requestLoad() {
    store.tell(new PersistenceActor.LoadStages(List.of(JobStage.SUBMIT.wireName()),
        getContext().messageAdapter(PersistenceActor.LoadResult.class, Loaded::new)));
  }

  private Behavior<Command> onLoaded(Loaded l, StashBuffer<Command> stash) {
    if (l.result().error().isPresent()) {
      getContext().getLog().warn("cannot load queued jobs, retrying in 1s: {}", l.result().error().get());
      getContext().scheduleOnce(Duration.ofSeconds(1), getContext().getSelf(), new RetryLoad());
      return Behaviors.same();
    }
    for (JobRecord r : l.result().jobs()) {
      try {
        Job job = Job.fromRecord(r);
        ids.observe(job.id());
        queue.add(job);
      } catch (RuntimeException e) {
        getContext().getLog().error("queued job {} in the store cannot be read, left alone: {}", r.id(), e.getMessage());
      }
    }
    getContext().getLog().info("matcher loaded {} queued jobs", queue.size());
    return stash.unstashAll(this);
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Submit.class, this::onSubmit)
        .onMessage(Dispatch.class, this::onDispatch)
        .onMessage(Cancel.class, this::onCancel)
        .onMessage(StoreWritten.class, this::onStoreWritten)
        .onMessage(GetQueueSize.class, this::onGetQueueSize)
        .build();
  }

  private Behavior<Command> onSubmit(Submit s) {
    List<Job> jobs = new ArrayList<>(s.jobs().size());
    List<JobRecord> records = new ArrayList<>(s.jobs().size());
    var now = clock.instant();
    for (JobIntake.Draft d : s.jobs()) {
      Job job = Job.submitted(d, ids.next(now), now, resultsRoot);
      jobs.add(job);
      records.add(job.toRecord());
    }
    store.tell(new PersistenceActor.Write(records, new PendingSubmit(jobs, s.replyTo()), written));
    return this;
  }

  private Behavior<Command> onStoreWritten(StoreWritten w) {
    Optional<String> error = w.written().error();
    Object pending = w.written().context();
    if (pending instanceof PendingSubmit p) {
      submitWritten(p, error);
    } else if (pending instanceof PendingHandOut p) {
      handOutWritten(p, error);
    } else if (pending instanceof PendingCancel p) {
      cancelWritten(p, error);
    }
    return this;
  }

  private void submitWritten(PendingSubmit c, Optional<String> error) {
    if (error.isPresent()) {
      c.replyTo().tell(new SubmitResult(List.of(), error));
      return;
    }
    List<Submitted> out = new ArrayList<>(c.jobs().size());
    for (Job job : c.jobs()) {
      queue.add(job);
      out.add(new Submitted(job.id(), job.resultRoot()));
    }
    c.replyTo().tell(new SubmitResult(out, Optional.empty()));
  }

  private Behavior<Command> onDispatch(Dispatch d) {
    Optional<Job> found = queue.takeFirstFit(d.box());
    if (found.isEmpty()) {
      d.replyTo().tell(new NoJob());
      return this;
    }
    Job job = found.get();
    String token = Tokens.newToken();
    job.handOut(d.box().hostname(), token, clock.instant());
    ObjectNode answer = job.view();
    answer.put("job_token", token);
    store.tell(new PersistenceActor.Write(List.of(job.toRecord()),
        new PendingHandOut(job, answer, d.replyTo()), written));
    return this;
  }

  private void handOutWritten(PendingHandOut c, Optional<String> error) {
    if (error.isPresent()) {
      c.job().returnToQueue();
      queue.add(c.job());
      c.replyTo().tell(new Unavailable(error.get()));
      return;
    }
    // the lifecycle hears of the job before the testbox can report on it
    lifecycle.tell(new LifecycleActor.Track(c.job()));
    c.replyTo().tell(new Assigned(c.answer()));
  }

  private Behavior<Command> onCancel(Cancel c) {
    Optional<Job> found = queue.remove(c.id());
    if (found.isEmpty()) {
      lifecycle.tell(new LifecycleActor.CancelNotQueued(c.id(), c.replyTo()));
      return this;
    }
    Job job = found.get();
    job.setHealth(JobHealth.CANCEL);
    job.setReadiness(DataReadiness.NORUN);
    job.setStage(JobStage.CANCEL, clock.instant());
    store.tell(new PersistenceActor.Write(List.of(job.toRecord()),
        new PendingCancel(job, c.replyTo()), written));
    return this;
  }

  private void cancelWritten(PendingCancel c, Optional<String> error) {
    if (error.isPresent()) {
      c.job().returnToQueue();
      queue.add(c.job());
      c.replyTo().tell(Outcome.of(Outcome.Status.UNAVAILABLE, "store unavailable: " + error.get()));
      return;
    }
    c.replyTo().tell(Outcome.ok(c.job().view()));
  }

  private Behavior<Command> onGetQueueSize(GetQueueSize g) {
    g.replyTo().tell(queue.size());
    return this;
  }
}
