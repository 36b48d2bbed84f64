package org.compassci.sched.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.HttpChallenge;
import org.apache.pekko.http.javadsl.model.headers.WWWAuthenticate;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.stream.javadsl.Source;
import org.compassci.sched.actors.AccountsActor;
import org.compassci.sched.actors.IdempotencyActor;
import org.compassci.sched.auth.AccountBook;
import org.compassci.sched.auth.AccountRules;
import org.compassci.sched.auth.Caller;
import org.compassci.sched.config.AccessSettings;
import org.compassci.sched.persistence.Account;

/**
 * Who may call what, at the HTTP edge. Tokens are checked against the {@link AccountBook}, which
 * the accounts actor keeps current: no actor is asked per request.
 *
 * <ul>
 *   <li>401 with {@code WWW-Authenticate} when credentials are missing or wrong, 403 when they
 *       are right but do not allow the call;
 *   <li>{@code tokens} mode: submit and cancel need an account, management an admin; reads are
 *       open unless {@code private-reads};
 *   <li>{@code open} mode: anyone may submit and cancel; management answers an admin's token,
 *       or loopback callers.
 * </ul>
 */
public final class Auth extends AllDirectives {

  static final String REALM = "scheduler";

  private final AccessSettings access;
  private final AccountBook book;
  private final ActorRef<AccountsActor.Command> accounts;
  private final ActorRef<IdempotencyActor.Command> submits;
  /** SCHED_ADMIN_TOKEN is set: then management reads need it (or an admin's) from loopback too. */
  private final boolean adminTokenSet;
  private final java.util.Set<String> raisedQueues;

  public Auth(AccessSettings access, AccountBook book, ActorRef<AccountsActor.Command> accounts,
      ActorRef<IdempotencyActor.Command> submits) {
    this(access, book, accounts, submits, true);
  }

  public Auth(AccessSettings access, AccountBook book, ActorRef<AccountsActor.Command> accounts,
      ActorRef<IdempotencyActor.Command> submits, boolean adminTokenSet) {
    this(access, book, accounts, submits, adminTokenSet, java.util.Set.of("vip"));
  }

  /** {@code raisedQueues}: the queues served before the default level (vip), an admin's to give. */
  public Auth(AccessSettings access, AccountBook book, ActorRef<AccountsActor.Command> accounts,
      ActorRef<IdempotencyActor.Command> submits, boolean adminTokenSet, java.util.Set<String> raisedQueues) {
    this(access, book, accounts, submits, adminTokenSet, raisedQueues, null);
  }

  /**
   * {@code projectQueues}: the queues any account may name besides its own
   * ({@link org.compassci.sched.config.SchedulerSettings#projectQueues}); null: any that is not
   * raised nor another account's.
   */
  public Auth(AccessSettings access, AccountBook book, ActorRef<AccountsActor.Command> accounts,
      ActorRef<IdempotencyActor.Command> submits, boolean adminTokenSet, java.util.Set<String> raisedQueues,
      java.util.Set<String> projectQueues) {
    this.access = access;
    this.book = book;
    this.accounts = accounts;
    this.submits = submits;
    this.adminTokenSet = adminTokenSet;
    this.raisedQueues = java.util.Set.copyOf(raisedQueues);
    this.projectQueues = projectQueues == null ? null : java.util.Set.copyOf(projectQueues);
  }

  private final java.util.Set<String> projectQueues;

  /**
   * Open mode with only {@code adminToken}'s holder as an admin: how the routes behaved before
   * accounts, for callers that wire no accounts actor.
   */
  public static Auth legacy(Optional<String> adminToken) {
    AccountBook book = new AccountBook();
    adminToken.ifPresent(t -> book.publish(List.of(new Account("admin", "", "", Account.ADMIN, 0,
        org.compassci.sched.auth.AccountTokens.digest(t)))));
    AccessSettings d = AccessSettings.defaults();
    return new Auth(new AccessSettings(true, false, AccessSettings.TokenlessWebdav.ANYWHERE, d.accountsRefresh(), d.maxQueued(), d.idempotencyTtl(),
        d.maxQueryParams()), book, null, null);
  }

  public AccessSettings access() {
    return access;
  }

  public AccountBook book() {
    return book;
  }

  public boolean open() {
    return access.open();
  }

  ActorRef<AccountsActor.Command> accounts() {
    return accounts;
  }

  ActorRef<IdempotencyActor.Command> submits() {
    return submits;
  }

  /** The token of {@code Authorization: Bearer <token>}, if the request has one. */
  static Optional<String> bearer(HttpRequest request) {
    return request.getHeader("Authorization").map(h -> h.value().trim())
        .filter(v -> v.regionMatches(true, 0, "Bearer ", 0, 7))
        .map(v -> v.substring(7).trim())
        .filter(v -> !v.isEmpty());
  }


  /** Who shows this request's bearer token: empty without one; a refusal (401) for a wrong one. */
  Optional<Result> caller(HttpRequest request) {
    Optional<String> token = bearer(request);
    if (token.isEmpty()) {
      return Optional.empty();
    }
    Optional<Account> a = book.byToken(token.get());
    return Optional.of(a.isPresent() ? Result.ok(Caller.of(a.get()))
        : Result.denied(401, "the bearer token is not valid (unknown, rotated or removed)"));
  }

  /**
   * Whether {@code token} is an admin's now: a socket that lives for days asks again at each
   * use, so a token rotated or removed since the handshake stops counting at once.
   */
  boolean isAdminNow(Optional<String> token) {
    return token.flatMap(book::byToken).map(Account::admin).orElse(false);
  }

  /**
   * A caller, or why the request is refused: 401 or 403 and a message. {@code perJob}: every
   * job showed its own my_account and my_token (Compass-CI's way), so each job's owner is
   * already proven and {@link #claimOwnership} has nothing to check.
   */
  record Result(Caller caller, int status, String message, boolean perJob) {
    static Result ok(Caller c) {
      return new Result(c, 200, "", false);
    }

    static Result denied(int status, String message) {
      return new Result(null, status, message, false);
    }

    boolean ok() {
      return caller != null;
    }
  }

  /**
   * Management, accounts and weights: an admin's token; in open mode also loopback callers, but
   * only while no SCHED_ADMIN_TOKEN is set (API.md: "401/403 without the admin token when one is
   * set"): an operator who set one wants management locked, whatever the mode.
   */
  public Route admin(Supplier<Route> inner) {
    return extractRequest(request -> {
      Optional<Result> who = caller(request);
      boolean localOpen = open() && !adminTokenSet;
      if (who.isEmpty()) {
        return localOpen && fromLoopback(request) ? inner.get()
            : deny(401, localOpen ? "management needs an admin's bearer token, or a call from this machine"
                : "management needs an admin's bearer token (Authorization: Bearer ...)");
      }
      Result r = who.get();
      if (!r.ok()) {
        return deny(r.status(), r.message());
      }
      return r.caller().admin() ? inner.get()
          : deny(403, "account " + r.caller().account() + " is not an admin");
    });
  }

  /**
   * The TCP peer is this machine. Never from headers: Pekko's client IP prefers X-Forwarded-For
   * and X-Real-Ip, which any caller can send ("X-Forwarded-For: 127.0.0.1"). The peer's address
   * is the attribute the server puts on each request from its connection.
   */
  static boolean fromLoopback(HttpRequest request) {
    return request.getAttribute(org.apache.pekko.http.javadsl.model.AttributeKeys.remoteAddress)
        .flatMap(org.apache.pekko.http.javadsl.model.RemoteAddress::getAddress)
        .map(InetAddress::isLoopbackAddress).orElse(false);
  }

  /** The TCP peer's address as text (never from headers, as above), when the server put it on the request. */
  static java.util.Optional<String> peer(HttpRequest request) {
    return request.getAttribute(org.apache.pekko.http.javadsl.model.AttributeKeys.remoteAddress)
        .flatMap(org.apache.pekko.http.javadsl.model.RemoteAddress::getAddress)
        .map(InetAddress::getHostAddress);
  }

  /**
   * The management API's reads ({@code manage/*}): an admin's token; from loopback without one
   * too in open mode, or when no SCHED_ADMIN_TOKEN is set (the contract: "none: management
   * answers loopback callers only"). Behind a reverse proxy on the same machine every caller is
   * loopback: set SCHED_ADMIN_TOKEN there.
   */
  public Route manage(Supplier<Route> inner) {
    return extractRequest(request -> {
      if (bearer(request).isEmpty() && fromLoopback(request) && !adminTokenSet) {
        return inner.get();
      }
      return admin(inner);
    });
  }

  /** A call an account makes (cancel, terminate): in open mode, anyone. */
  public Route account(Function<Caller, Route> inner) {
    return extractRequest(request -> {
      Optional<Result> who = caller(request);
      if (who.isEmpty()) {
        return open() ? inner.apply(Caller.ANYONE)
            : deny(401, "this call needs an account's bearer token (Authorization: Bearer ...)");
      }
      Result r = who.get();
      return r.ok() ? inner.apply(r.caller()) : deny(r.status(), r.message());
    });
  }

  /** Reads: anyone, unless scheduler.auth.private-reads is on; then any account. */
  public Route read(Supplier<Route> inner) {
    if (!access.privateReads()) {
      return inner.get();
    }
    return extractRequest(request -> {
      Optional<Result> who = caller(request);
      if (who.isEmpty()) {
        return deny(401, "reads need an account's bearer token here (scheduler.auth.private-reads)");
      }
      return who.get().ok() ? inner.get() : deny(who.get().status(), who.get().message());
    });
  }

  /**
   * As {@link #read}, for a read that stays open: an event stream, the watchers' socket. With
   * private reads, {@code inner} is given a check of the reader's token now, for
   * {@link #whileAllowed}: a token rotated or removed since the stream opened ends it. Without
   * them, no check (empty).
   */
  public Route readOpen(Function<Optional<BooleanSupplier>, Route> inner) {
    if (!access.privateReads()) {
      return inner.apply(Optional.empty());
    }
    return read(() -> extractRequest(request -> {
      String token = bearer(request).orElseThrow();
      return inner.apply(Optional.of(() -> book.byToken(token).isPresent()));
    }));
  }

  static final String TOKEN_REVOKED = "the bearer token this stream opened with is no longer valid (rotated or removed)";

  /**
   * {@code events} while {@code stillAllowed} holds, asked every {@code scheduler.auth.refresh-interval}
   * (the accounts of a shared store are read again as often); once it fails, {@code refused} runs
   * and the stream ends.
   */
  <T> Source<T, NotUsed> whileAllowed(Source<T, NotUsed> events, Optional<BooleanSupplier> stillAllowed,
      Runnable refused) {
    if (stillAllowed.isEmpty()) {
      return events;
    }
    BooleanSupplier check = stillAllowed.get();
    Duration every = access.accountsRefresh();
    return events.map(Optional::of)
        .merge(Source.tick(every, every, Optional.<T>empty()).mapMaterializedValue(c -> NotUsed.getInstance()), true)
        .takeWhile(e -> {
          if (e.isPresent() || check.getAsBoolean()) {
            return true;
          }
          refused.run();
          return false;
        })
        .filter(Optional::isPresent)
        .map(Optional::get);
  }

  /** A JSON refusal ({@code {"error":...}}); 401 carries the challenge. */
  Route deny(int status, String message) {
    return complete(denied(status, message));
  }

  static HttpResponse denied(int status, String message) {
    return challenge(Responses.error(StatusCodes.get(status), message), status);
  }

  /** Adds {@code WWW-Authenticate: Bearer realm="scheduler"} to a 401. */
  static HttpResponse challenge(HttpResponse r, int status) {
    return status == 401
        ? r.addHeader(WWWAuthenticate.create(HttpChallenge.create("Bearer", REALM))) : r;
  }

  /**
   * Who submits: the bearer token's account, or Compass-CI's way, {@code my_account} with
   * {@code my_token} (and {@code my_email}, when given, must be the account's) in every job. In
   * open mode, anyone; a bearer token still names the account.
   */
  Result submitter(HttpRequest request, List<? extends JsonNode> jobs) {
    Optional<Result> who = caller(request);
    if (who.isPresent()) {
      return who.get();
    }
    if (open()) {
      return Result.ok(Caller.ANYONE);
    }
    Caller first = null;
    for (JsonNode job : jobs) {
      String account = text(job, "my_account");
      String token = text(job, "my_token");
      if (account.isEmpty() || token.isEmpty()) {
        return Result.denied(401, "no credentials: send Authorization: Bearer <token>, or my_account and "
            + "my_token (as in ~/.config/compass-ci/defaults/account.yaml) in every job");
      }
      Optional<Account> a = book.verify(account, token);
      if (a.isEmpty() || !AccountRules.emailMatches(a.get(), text(job, "my_email"))) {
        return Result.denied(401, "Failed to verify the account: my_account, my_token and my_email do not "
            + "match an account of this scheduler");
      }
      if (first == null) {
        first = Caller.of(a.get());
      }
    }
    return first == null ? Result.ok(Caller.ANYONE) : new Result(first, 200, "", true);
  }

  /**
   * Sets each job's owner: a job without {@code my_account} belongs to the caller. Returns why a
   * job may not be submitted by the caller (another account's, and the caller is no admin).
   */
  Optional<String> claimOwnership(Result who, List<? extends JsonNode> jobs) {
    if (who.perJob()) {
      // Compass-CI credentials: each job's owner proved itself in submitter(); its queue is
      // checked against that account
      for (JsonNode job : jobs) {
        Caller owner = book.byName(text(job, "my_account")).map(Caller::of).orElse(Caller.ANYONE);
        Optional<String> refused = queueRefused(owner, job);
        if (refused.isPresent()) {
          return refused;
        }
      }
      return Optional.empty();
    }
    Caller caller = who.caller();
    for (JsonNode job : jobs) {
      String owner = text(job, "my_account");
      if (owner.isEmpty() && caller.authenticated() && job instanceof ObjectNode o) {
        o.put("my_account", caller.account());
      } else if (!open() && !AccountRules.maySubmitAs(caller, owner)) {
        return Optional.of("account " + caller.account() + " may not submit jobs of my_account "
            + AccountRules.printable(owner) + " (only an admin may)");
      }
      Optional<String> refused = open() ? Optional.empty() : queueRefused(caller, job);
      if (refused.isPresent()) {
        return refused;
      }
    }
    return Optional.empty();
  }

  /**
   * A job's {@code queue} names its tenant and level, so it is checked as {@code my_account} is:
   * a queue served before the default level (vip) is an admin's to give, and a queue named
   * after another account is that account's own share of the boxes. Project queues (bisect,
   * single-build: the tenants of {@code scheduler.fair-share.weights}) and idle are anyone's; any
   * other name is a tenant of its own, an admin's to open, or a user could take one more share of
   * the boxes with each name made up.
   */
  private Optional<String> queueRefused(Caller caller, JsonNode job) {
    if (!caller.authenticated() || caller.admin()) {
      return Optional.empty();
    }
    String queue = text(job, "queue");
    if (queue.isEmpty() || queue.equals(caller.account())) {
      return Optional.empty();
    }
    if (raisedQueues.contains(queue)) {
      return Optional.of("account " + caller.account() + " may not submit to queue " + queue
          + ", which is served first (only an admin may)");
    }
    if (book.byName(queue).isPresent()) {
      return Optional.of("account " + caller.account() + " may not submit to queue "
          + AccountRules.printable(queue) + ": it is account " + AccountRules.printable(queue)
          + "'s own share (only an admin may)");
    }
    if (projectQueues != null && !projectQueues.contains(queue)) {
      return Optional.of("account " + caller.account() + " may not submit to queue " + AccountRules.printable(queue)
          + ": it is none of the lab's project queues (" + String.join(", ", new java.util.TreeSet<>(projectQueues))
          + "), and a queue is a fair share of its own (an admin may open one in scheduler.fair-share.weights)");
    }
    return Optional.empty();
  }

  static String text(JsonNode job, String field) {
    JsonNode v = job.get(field);
    return v == null || v.isNull() || v.isContainerNode() ? "" : v.asText().trim();
  }

  /** An account's public face: never its token digest. */
  static ObjectNode view(Account a) {
    ObjectNode o = org.compassci.sched.model.Json.object().put("name", a.name()).put("email", a.email())
        .put("display_name", a.displayName()).put("role", a.role())
        .put("created", java.time.Instant.ofEpochMilli(a.createdMillis()).toString());
    return o;
  }

  static Map<String, String> none() {
    return Map.of();
  }
}
