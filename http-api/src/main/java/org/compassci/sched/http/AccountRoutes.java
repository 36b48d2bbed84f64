package org.compassci.sched.http;

import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.CacheControl;
import org.apache.pekko.http.javadsl.model.headers.CacheDirectives;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.apache.pekko.util.ByteString;
import org.compassci.sched.actors.AccountsActor;
import org.compassci.sched.model.Json;
import org.compassci.sched.model.Outcome;
import org.compassci.sched.persistence.Account;

/**
 * /scheduler/v1/accounts: admins make, list, rotate and remove accounts. A token is in the
 * answer that makes it, once, and nowhere else.
 */
public final class AccountRoutes extends AllDirectives {

  private final Gateway gw;
  private final Auth auth;

  public AccountRoutes(Gateway gw, Auth auth) {
    this.gw = gw;
    this.auth = auth;
  }

  public Route routes() {
    if (auth.accounts() == null) {
      // wired without an accounts actor (Auth.legacy): there are no accounts to manage
      return reject();
    }
    return pathPrefix("accounts", () -> auth.admin(() -> concat(
        pathEndOrSingleSlash(() -> concat(
            get(this::list),
            post(() -> withSizeLimit(gw.maxBodyBytes(), () -> entity(Unmarshaller.entityToByteString(), this::add))))),
        path(segment(), name -> concat(
            get(() -> one(name)),
            delete(() -> remove(name)))),
        path(segment().slash("token"), name -> post(() -> rotate(name))))));
  }

  private Route list() {
    List<Account> all = new ArrayList<>(allAccounts());
    all.sort(Comparator.comparing(Account::name));
    ArrayNode out = Json.MAPPER.createArrayNode();
    all.forEach(a -> out.add(Auth.view(a)));
    return complete(Responses.json(StatusCodes.OK, Json.object().put("total", all.size()).set("accounts", out)));
  }

  private List<Account> allAccounts() {
    return auth.book().all();
  }

  private Route one(String name) {
    return complete(auth.book().byName(name)
        .map(a -> Responses.json(StatusCodes.OK, Auth.view(a)))
        .orElseGet(() -> Responses.error(StatusCodes.NOT_FOUND, "no account " + printable(name))));
  }

  private Route add(ByteString body) {
    JsonNode req;
    try {
      req = gw.jobFiles().limits().parseJson(body.toArray());
    } catch (org.compassci.sched.model.TooLargeException e) {
      return complete(Responses.error(StatusCodes.PAYLOAD_TOO_LARGE, e.getMessage()));
    } catch (IllegalArgumentException e) {
      return complete(Responses.error(StatusCodes.BAD_REQUEST, e.getMessage()));
    }
    if (req == null || !req.isObject()) {
      return complete(Responses.error(StatusCodes.BAD_REQUEST,
          "give {\"name\":\"...\",\"email\":\"...\",\"role\":\"user|admin\"}"));
    }
    for (String f : List.of("name", "email", "role", "display_name")) {
      if (req.has(f) && !req.get(f).isTextual() && !req.get(f).isNull()) {
        return complete(Responses.error(StatusCodes.BAD_REQUEST, f + ": must be a string"));
      }
    }
    String name = Auth.text(req, "name");
    String role = Auth.text(req, "role").isEmpty() ? Account.USER : Auth.text(req, "role");
    return answer(gw.<AccountsActor.Command, AccountsActor.Answer>ask(auth.accounts(),
        r -> new AccountsActor.Add(name, Auth.text(req, "email"), Auth.text(req, "display_name"), role, r)));
  }

  private Route rotate(String name) {
    return answer(gw.<AccountsActor.Command, AccountsActor.Answer>ask(auth.accounts(),
        r -> new AccountsActor.Rotate(name, r)));
  }

  private Route remove(String name) {
    // the accounts actor refuses the last admin's removal (409), one removal at a time
    return answer(gw.<AccountsActor.Command, AccountsActor.Answer>ask(auth.accounts(),
        r -> new AccountsActor.Remove(name, r)));
  }

  private Route answer(java.util.concurrent.CompletableFuture<AccountsActor.Answer> asked) {
    return completeWithFuture(asked.thenApply(AccountRoutes::answer).exceptionally(Responses::unavailable));
  }

  private static HttpResponse answer(AccountsActor.Answer a) {
    if (a.status() != Outcome.Status.OK || a.account().isEmpty()) {
      return Responses.error(Responses.statusOf(a.status()), a.message());
    }
    ObjectNode body = Auth.view(a.account().get());
    if (a.token().isEmpty()) {
      return Responses.json(StatusCodes.OK, body.put("removed", true));
    }
    body.put("token", a.token().get());
    // shown this once: no cache, no proxy may keep it
    return Responses.json(StatusCodes.CREATED, body)
        .addHeader(CacheControl.create(CacheDirectives.NO_STORE));
  }

  private static String printable(String s) {
    return org.compassci.sched.auth.AccountRules.printable(s);
  }
}
