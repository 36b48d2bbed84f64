package org.compassci.sched.actors;

import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.compassci.sched.model.Job;
import org.compassci.sched.model.JobStage;
import org.compassci.sched.model.JobUpdate;
import org.compassci.sched.model.Outcome;
import org.compassci.sched.persistence.JobRecord;

/**
 * Owns every job that has left the queue and not yet retired: applies what testboxes report,
 * and answers reads. A job it does not hold (after a restart, or retired) is read from the
 * store; an active one found there is taken back into memory.
 */
public final class LifecycleActor extends AbstractBehavior<LifecycleActor.Command> {

  public sealed interface Command {}

  /**
   * A job just handed out by the matcher; from now on this actor owns it. Its document is read
   * when first needed, so a hand-out costs this actor nothing until its testbox reports.
   */
  public record Track(JobRecord record) implements Command {}

  public record Update(long id, List<JobUpdate.Param> params, JobUpdate.Mode mode,
      ActorRef<Outcome> replyTo) implements Command {}

  public record Get(long id, ActorRef<Outcome> replyTo) implements Command {}

  /** The matcher did not hold this job: it is unknown, or past submit. */
  public record CancelNotQueued(long id, ActorRef<Outcome> replyTo) implements Command {}

  public record GetActiveCount(ActorRef<Integer> replyTo) implements Command {}

  /** The job went back to the queue: the matcher owns it again. */
  public record Forget(long id) implements Command {}

  private record Found(long id, PersistenceActor.FindResult result) implements Command {}

  private record StoreWritten(PersistenceActor.Written written) implements Command {}

  /** An update in flight: answered when its write is back from the store. */
  private record PendingUpdate(ActorRef<Outcome> replyTo, Outcome outcome) {}

  private final ActorRef<PersistenceActor.Command> store;
  private final Clock clock;
  private final Map<Long, Job> active = new HashMap<>();
  /** Handed-out jobs not yet read: parsed into {@link #active} on first use. */
  private final Map<Long, JobRecord> tracked = new HashMap<>();
  /** Requests for jobs being read from the store, answered in order once the read is back. */
  private final Map<Long, List<Command>> awaitingLoad = new HashMap<>();
  private final ActorRef<PersistenceActor.Written> written;
  private final ActorRef<PersistenceActor.FindResult> found;

  public static Behavior<Command> create(ActorRef<PersistenceActor.Command> store, Clock clock) {
    return Behaviors.setup(ctx -> new LifecycleActor(ctx, store, clock));
  }

  private LifecycleActor(ActorContext<Command> ctx, ActorRef<PersistenceActor.Command> store,
      Clock clock) {
    super(ctx);
    this.store = store;
    this.clock = clock;
    this.written = ctx.messageAdapter(PersistenceActor.Written.class, StoreWritten::new);
    this.found = ctx.messageAdapter(PersistenceActor.FindResult.class, r -> new Found(r.id(), r));
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Track.class, this::onTrack)
        .onMessage(Update.class, u -> withJob(u.id(), u, this::onUpdate))
        .onMessage(Get.class, g -> withJob(g.id(), g, this::onGet))
        .onMessage(CancelNotQueued.class, c -> withJob(c.id(), c, this::onCancelNotQueued))
        .onMessage(Forget.class, f -> {
          active.remove(f.id());
          tracked.remove(f.id());
          return this;
        })
        .onMessage(Found.class, this::onFound)
        .onMessage(StoreWritten.class, this::onWritten)
        .onMessage(GetActiveCount.class, g -> {
          g.replyTo().tell(active.size() + tracked.size());
          return this;
        })
        .build();
  }

  private Behavior<Command> onTrack(Track t) {
    tracked.put(t.record().id(), t.record());
    return this;
  }

  /** Runs {@code handler} with the job from memory, or once it is read from the store. */
  private <C extends Command> Behavior<Command> withJob(long id, C cmd, JobHandler<C> handler) {
    Job job = active.get(id);
    if (job == null) {
      JobRecord record = tracked.remove(id);
      if (record != null) {
        job = readable(record);
        if (job != null) {
          active.put(id, job);
        }
      }
    }
    if (job != null) {
      handler.handle(cmd, job, null);
      return this;
    }
    List<Command> waiting = awaitingLoad.get(id);
    if (waiting != null) {
      waiting.add(cmd);
      return this;
    }
    awaitingLoad.put(id, new ArrayList<>(List.of(cmd)));
    store.tell(new PersistenceActor.Find(id, found));
    return this;
  }

  @FunctionalInterface
  private interface JobHandler<C> {
    /** {@code job} is null when it is not active; then {@code stored} tells what the store had. */
    void handle(C cmd, Job job, Outcome stored);
  }

  private Behavior<Command> onFound(Found f) {
    List<Command> waiting = awaitingLoad.remove(f.id());
    if (waiting == null) {
      return this;
    }
    Outcome stored;
    if (f.result().error().isPresent()) {
      stored = Outcome.of(Outcome.Status.UNAVAILABLE, "store unavailable: " + f.result().error().get());
    } else if (f.result().job().isEmpty()) {
      stored = Outcome.of(Outcome.Status.NOT_FOUND, "job " + f.id() + " does not exist");
    } else {
      JobRecord r = f.result().job().get();
      Job job = readable(r);
      if (job == null) {
        stored = Outcome.of(Outcome.Status.UNAVAILABLE, "job " + f.id() + " cannot be read from the store");
      } else if (job.stage().isActive() || (job.stage().isFinal() && !job.isRetired())) {
        active.put(job.id(), job);
        stored = null;
      } else {
        stored = Outcome.ok(job.view());
      }
    }
    for (Command cmd : waiting) {
      // replays through the table: memory now has the job if the store said it is active
      if (stored == null) {
        getContext().getSelf().tell(cmd);
      } else {
        answerFromStore(cmd, stored);
      }
    }
    return this;
  }

  private Job readable(JobRecord r) {
    try {
      return Job.fromRecord(r);
    } catch (RuntimeException e) {
      getContext().getLog().error("job {} in the store cannot be read: {}", r.id(), e.getMessage());
      return null;
    }
  }

  /** A job not held here: queued in the matcher, retired, or missing. */
  private void answerFromStore(Command cmd, Outcome stored) {
    if (cmd instanceof Get g) {
      g.replyTo().tell(stored);
    } else if (cmd instanceof Update u) {
      u.replyTo().tell(refuseStored(u.id(), u.mode(), stored));
    } else if (cmd instanceof CancelNotQueued c) {
      c.replyTo().tell(stored.status() == Outcome.Status.OK
          ? Outcome.of(Outcome.Status.CONFLICT, "job " + c.id() + " is "
              + stored.job().path("job_stage").asText() + "; only a job in submit can be cancelled")
          : stored);
    }
  }

  private Outcome refuseStored(long id, JobUpdate.Mode mode, Outcome stored) {
    if (stored.status() != Outcome.Status.OK) {
      return stored;
    }
    String stage = stored.job().path("job_stage").asText();
    if (JobStage.SUBMIT.wireName().equals(stage)) {
      return Outcome.of(Outcome.Status.CONFLICT, "job " + id + " is still queued: it takes updates once dispatched");
    }
    if (mode == JobUpdate.Mode.LEGACY) {
      return Outcome.of(Outcome.Status.OK, "ignored: job " + id + " has ended");
    }
    return Outcome.of(Outcome.Status.LOCKED, "job " + id + " is " + stage + " and its data "
        + stored.job().path("job_data_readiness").asText() + ": it takes no more updates");
  }

  private void onUpdate(Update u, Job job, Outcome unused) {
    JobUpdate.Result r = JobUpdate.apply(job, u.params(), u.mode(), clock.instant());
    if (r.refused()) {
      if (u.mode() == JobUpdate.Mode.LEGACY && r.refusal() != Outcome.Status.INVALID) {
        u.replyTo().tell(Outcome.of(Outcome.Status.OK, "ignored: " + r.message()));
      } else {
        u.replyTo().tell(Outcome.of(r.refusal(), r.message()));
      }
      return;
    }
    if (!r.changed()) {
      u.replyTo().tell(Outcome.ok(job.view()));
      return;
    }
    if (job.isRetired()) {
      active.remove(job.id());
    }
    // the answer waits for the commit: what a testbox was told is what a restart finds
    store.tell(new PersistenceActor.Write(List.of(job.toRecord()),
        new PendingUpdate(u.replyTo(), Outcome.ok(job.view())), written));
  }

  private void onGet(Get g, Job job, Outcome unused) {
    g.replyTo().tell(Outcome.ok(job.view()));
  }

  private void onCancelNotQueued(CancelNotQueued c, Job job, Outcome unused) {
    c.replyTo().tell(Outcome.of(Outcome.Status.CONFLICT, "job " + c.id() + " is "
        + job.stage().wireName() + "; only a job in submit can be cancelled"));
  }

  private Behavior<Command> onWritten(StoreWritten w) {
    if (w.written().context() instanceof PendingUpdate p) {
      p.replyTo().tell(w.written().error()
          .map(e -> Outcome.of(Outcome.Status.UNAVAILABLE, "store unavailable: " + e))
          .orElse(p.outcome()));
    }
    return this;
  }
}
