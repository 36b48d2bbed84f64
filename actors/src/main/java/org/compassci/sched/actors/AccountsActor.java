package org.compassci.sched.actors;

import java.time.Clock;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.StashBuffer;
import org.compassci.sched.auth.AccountBook;
import org.compassci.sched.auth.AccountRules;
import org.compassci.sched.auth.AccountTokens;
import org.compassci.sched.model.Outcome;
import org.compassci.sched.persistence.Account;
import org.compassci.sched.persistence.AccountExistsException;
import org.compassci.sched.persistence.AccountStore;

/**
 * Owns the accounts. It alone changes them: each change is stored first (on the store
 * dispatcher), then kept here and published to the {@link AccountBook} that requests read, so a
 * token check costs a request no message. A new or rotated token leaves this actor once, in the
 * answer to the request that made it; only its digest is kept.
 */
public final class AccountsActor extends AbstractBehavior<AccountsActor.Command> {

  public sealed interface Command {}

  /** A new account of {@code role} (user or admin); answered with its token, the only time it shows. */
  public record Add(String name, String email, String displayName, String role, ActorRef<Answer> replyTo)
      implements Command {}

  /** A new token for the account; the old one stops working at once. */
  public record Rotate(String name, ActorRef<Answer> replyTo) implements Command {}

  public record Remove(String name, ActorRef<Answer> replyTo) implements Command {}

  public record GetStats(ActorRef<ActorStats> replyTo) implements Command {}

  /** {@code token}: the clear token, only in the answer to Add and Rotate. */
  public record Answer(Outcome.Status status, Optional<Account> account, Optional<String> token, String message) {

    static Answer refused(Outcome.Status status, String message) {
      return new Answer(status, Optional.empty(), Optional.empty(), message);
    }
  }

  /** {@code changesBefore}: {@link #changes} when the read started. */
  private record Loaded(List<Account> accounts, Throwable failure, long changesBefore) implements Command {}

  private record Refresh() implements Command {}

  /** A change is durable ({@code failure} null) or not; {@code removed} for a removal. */
  private record Stored(Account account, String token, String what, Throwable failure,
      ActorRef<Answer> replyTo) implements Command {

    boolean removed() {
      return what.equals("removed");
    }
  }

  private final AccountStore store;
  private final AccountBook book;
  private final Clock clock;
  private final Executor blocking;
  private final Activity activity;
  /** Every account by name: what the store holds, as of the last change or reload. */
  private final Map<String, Account> accounts = new TreeMap<>();
  /** Names with a change on its way to the store: a second change waits its turn or is refused. */
  private final Set<String> changing = new HashSet<>();
  /** Accounts whose removal is being stored: no longer counted as admins. */
  private final Set<String> removing = new HashSet<>();
  /** Changes of ours stored so far: a read begun before the last of them is stale. */
  private long changes;
  private boolean reloading;

  /** {@code refresh}: how often accounts are read again (others may change them); zero: never. */
  public static Behavior<Command> create(AccountStore store, AccountBook book, Duration refresh, Clock clock) {
    return Behaviors.withStash(10_000, stash -> Behaviors.withTimers(timers -> Behaviors.setup(ctx -> {
      if (!refresh.isZero()) {
        timers.startTimerWithFixedDelay(new Refresh(), refresh);
      }
      return new AccountsActor(ctx, store, book, clock).loading(stash);
    })));
  }

  private AccountsActor(ActorContext<Command> ctx, AccountStore store, AccountBook book, Clock clock) {
    super(ctx);
    // its own name, not Pekko's guess from the call stack (see LifecycleActor)
    ctx.setLoggerName(AccountsActor.class);
    this.store = store;
    this.book = book;
    this.clock = clock;
    this.activity = new Activity(clock);
    this.blocking = ctx.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig(PersistenceActor.DISPATCHER));
  }

  /** Until the accounts are read, changes wait: none may be checked against a partial list. */
  private Behavior<Command> loading(StashBuffer<Command> stash) {
    load();
    return Behaviors.receive(Command.class)
        .onMessage(Loaded.class, l -> onFirstLoad(l, stash))
        .onMessage(Refresh.class, r -> Behaviors.same())
        .onAnyMessage(m -> {
          stash.stash(m);
          return Behaviors.same();
        })
        .build();
  }

  private void load() {
    reloading = true;
    long before = changes;
    getContext().pipeToSelf(CompletableFuture.supplyAsync(store::accounts, blocking),
        (all, failure) -> new Loaded(all, failure, before));
  }

  private Behavior<Command> onFirstLoad(Loaded l, StashBuffer<Command> stash) {
    if (l.failure() != null) {
      getContext().getLog().warn("cannot read accounts, retrying in 1s: {}", l.failure().getMessage());
      getContext().scheduleOnce(Duration.ofSeconds(1), getContext().getSelf(), new Refresh());
      return Behaviors.receive(Command.class)
          .onMessage(Refresh.class, r -> loading(stash))
          .onAnyMessage(m -> {
            stash.stash(m);
            return Behaviors.same();
          })
          .build();
    }
    onLoaded(l);
    return stash.unstashAll(this);
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Add.class, this::onAdd)
        .onMessage(Rotate.class, this::onRotate)
        .onMessage(Remove.class, this::onRemove)
        .onMessage(Stored.class, this::onStored)
        .onMessage(Refresh.class, this::onRefresh)
        .onMessage(Loaded.class, this::onLoaded)
        .onMessage(GetStats.class, this::onGetStats)
        .build();
  }

  private Behavior<Command> onAdd(Add a) {
    activity.touch();
    Optional<String> bad = AccountRules.badName(a.name())
        .or(() -> AccountRules.badEmail(a.email()))
        .or(() -> AccountRules.badDisplayName(a.displayName()))
        .or(() -> AccountRules.badRole(a.role()));
    if (bad.isPresent()) {
      a.replyTo().tell(Answer.refused(Outcome.Status.INVALID, bad.get()));
      return this;
    }
    if (accounts.containsKey(a.name()) || changing.contains(a.name())) {
      a.replyTo().tell(Answer.refused(Outcome.Status.CONFLICT, "account " + a.name() + " exists already"));
      return this;
    }
    String token = AccountTokens.newToken();
    Account account = new Account(a.name(), a.email() == null ? "" : a.email().trim(),
        a.displayName() == null ? "" : a.displayName().trim(), a.role(), clock.millis(), AccountTokens.digest(token));
    storeChange(account, token, "made", a.replyTo(), () -> store.addAccount(account));
    return this;
  }

  /** The account to change, or null once {@code replyTo} is told why not: unknown, or a change in flight. */
  private Account changeable(String name, ActorRef<Answer> replyTo) {
    Account old = accounts.get(name);
    if (old == null || changing.contains(name)) {
      replyTo.tell(old == null ? Answer.refused(Outcome.Status.NOT_FOUND, "no account " + AccountRules.printable(name))
          : Answer.refused(Outcome.Status.CONFLICT, "account " + name + " is being changed; try again"));
      return null;
    }
    return old;
  }

  private Behavior<Command> onRotate(Rotate r) {
    activity.touch();
    Account old = changeable(r.name(), r.replyTo());
    if (old == null) {
      return this;
    }
    String token = AccountTokens.newToken();
    Account account = old.withTokenDigest(AccountTokens.digest(token));
    storeChange(account, token, "given a new token", r.replyTo(), () -> store.saveAccount(account));
    return this;
  }

  private Behavior<Command> onRemove(Remove r) {
    activity.touch();
    Account old = changeable(r.name(), r.replyTo());
    if (old == null) {
      return this;
    }
    // here, where removals are one at a time: checked at the route, two removals sent together
    // each saw the other admin still there, and both went
    if (old.admin() && accounts.values().stream()
        .filter(a -> a.admin() && !removing.contains(a.name()) && !a.name().equals(old.name())).findAny().isEmpty()) {
      r.replyTo().tell(Answer.refused(Outcome.Status.CONFLICT,
          "account " + old.name() + " is the last admin: make another admin first"));
      return this;
    }
    removing.add(old.name());
    storeChange(old, null, "removed", r.replyTo(), () -> store.removeAccount(old.name()));
    return this;
  }

  private void storeChange(Account account, String token, String what, ActorRef<Answer> replyTo, Runnable write) {
    changing.add(account.name());
    getContext().pipeToSelf(CompletableFuture.runAsync(write, blocking),
        (ok, failure) -> new Stored(account, token, what, failure, replyTo));
  }

  private Behavior<Command> onStored(Stored s) {
    changing.remove(s.account().name());
    removing.remove(s.account().name());
    if (s.failure() != null) {
      Throwable cause = s.failure().getCause() != null ? s.failure().getCause() : s.failure();
      s.replyTo().tell(cause instanceof AccountExistsException
          ? Answer.refused(Outcome.Status.CONFLICT, cause.getMessage())
          : Answer.refused(Outcome.Status.UNAVAILABLE, "store unavailable: " + cause.getMessage()));
      return this;
    }
    changes++;
    if (s.removed()) {
      accounts.remove(s.account().name());
    } else {
      accounts.put(s.account().name(), s.account());
    }
    book.publish(accounts.values());
    // never the token: it leaves only in the answer
    getContext().getLog().info("account {} ({}) {}", s.account().name(), s.account().role(), s.what());
    s.replyTo().tell(new Answer(Outcome.Status.OK, Optional.of(s.account()), Optional.ofNullable(s.token()), ""));
    return this;
  }

  private Behavior<Command> onRefresh(Refresh r) {
    if (!reloading && changing.isEmpty()) {
      load();
    }
    return this;
  }

  private Behavior<Command> onLoaded(Loaded l) {
    reloading = false;
    if (l.failure() != null) {
      // the accounts known so far stand until the store answers again
      return this;
    }
    if (!changing.isEmpty() || l.changesBefore() != changes) {
      // read before a change of ours was stored, or while one was: the next refresh brings it. A
      // read begun before a removal and answered after it published the removed token again
      return this;
    }
    accounts.clear();
    l.accounts().forEach(a -> accounts.put(a.name(), a));
    book.publish(accounts.values());
    return this;
  }

  private Behavior<Command> onGetStats(GetStats g) {
    g.replyTo().tell(new ActorStats("accounts", Map.of("accounts", (long) accounts.size(),
        "changes_in_flight", (long) changing.size()), activity.messages(), activity.last()));
    return this;
  }
}
