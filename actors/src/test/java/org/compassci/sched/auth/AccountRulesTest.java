package org.compassci.sched.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.compassci.sched.persistence.Account;
import org.compassci.sched.persistence.JdbcJobStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tokens, the account book, who may do what, and the first admin: plain rules, no actors. */
class AccountRulesTest {

  @TempDir Path dir;

  @Test
  void tokensAre256RandomBitsKeptAsDigestsAndComparedWhole() {
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < 1000; i++) {
      String t = AccountTokens.newToken();
      assertTrue(t.matches("sched_[A-Za-z0-9_-]{43}"), t);
      assertTrue(seen.add(t));
    }
    String token = AccountTokens.newToken();
    String digest = AccountTokens.digest(token);
    assertEquals(64, digest.length());
    assertFalse(digest.contains(token.substring(6, 16)));
    assertTrue(AccountTokens.matches(token, digest));
    assertFalse(AccountTokens.matches(token + "x", digest));
    assertFalse(AccountTokens.matches(token.substring(1), digest));
    assertFalse(AccountTokens.matches(null, digest));
    assertFalse(AccountTokens.matches(token, "not hex"));
    assertFalse(AccountTokens.matches(token, digest.substring(2)));
  }

  private static Account account(String name, String role, String token) {
    return new Account(name, name + "@example.org", "", role, 1, AccountTokens.digest(token));
  }

  @Test
  void theBookFindsAnAccountByItsTokenOrByNameAndToken() {
    AccountBook book = new AccountBook();
    assertTrue(book.byToken("anything").isEmpty());
    String a = AccountTokens.newToken();
    String b = AccountTokens.newToken();
    book.publish(List.of(account("alice", Account.USER, a), account("root", Account.ADMIN, b)));
    assertEquals("alice", book.byToken(a).orElseThrow().name());
    assertTrue(book.byToken(b).orElseThrow().admin());
    assertTrue(book.byToken("").isEmpty());
    assertTrue(book.byToken(null).isEmpty());
    assertEquals("alice", book.verify("alice", a).orElseThrow().name());
    assertTrue(book.verify("alice", b).isEmpty(), "root's token is not alice's");
    assertTrue(book.verify("nobody", a).isEmpty());
    book.publish(List.of(account("root", Account.ADMIN, b)));
    assertTrue(book.byToken(a).isEmpty(), "a removed account's token stops at once");
    assertEquals(1, book.size());
    assertFalse(book.all().get(0).toString().contains(book.all().get(0).tokenDigest()), "no digest in a log line");
  }

  @Test
  void namesEmailsAndRoles() {
    assertTrue(AccountRules.badName("alice").isEmpty());
    assertTrue(AccountRules.badName("a.b_c+d-1").isEmpty());
    for (String bad : List.of("", "../x", "a/b", "-x", "a b", "x".repeat(65), "ü")) {
      assertTrue(AccountRules.badName(bad).isPresent(), bad);
    }
    assertTrue(AccountRules.badName(null).isPresent());
    assertTrue(AccountRules.badEmail("").isEmpty());
    assertTrue(AccountRules.badEmail("a@b.org").isEmpty());
    assertTrue(AccountRules.badEmail("no-at").isPresent());
    assertTrue(AccountRules.badEmail("a@b\nc").isPresent());
    assertTrue(AccountRules.badRole("user").isEmpty());
    assertTrue(AccountRules.badRole("admin").isEmpty());
    assertTrue(AccountRules.badRole("root").isPresent());
    assertEquals("a?b", AccountRules.printable("a\u0000b"));
  }

  @Test
  void anAccountSubmitsAndEndsItsOwnJobsAnAdminAnyoneAndOpenModeEveryone() {
    Caller alice = new Caller("alice", false, true);
    Caller admin = new Caller("root", true, true);
    assertTrue(AccountRules.maySubmitAs(alice, "alice"));
    assertTrue(AccountRules.maySubmitAs(alice, ""));
    assertFalse(AccountRules.maySubmitAs(alice, "bob"));
    assertTrue(AccountRules.maySubmitAs(admin, "bob"));
    assertTrue(AccountRules.maySubmitAs(Caller.ANYONE, "bob"));
    assertTrue(AccountRules.mayEnd(alice, "alice"));
    assertFalse(AccountRules.mayEnd(alice, "bob"));
    assertFalse(AccountRules.mayEnd(alice, ""), "a job without an owner is the admins'");
    assertTrue(AccountRules.mayEnd(admin, "bob"));
    assertTrue(AccountRules.mayEnd(Caller.ANYONE, "bob"));
    Account a = new Account("alice", "Alice@Example.org", "", Account.USER, 0, "");
    assertTrue(AccountRules.emailMatches(a, "alice@example.org"));
    assertTrue(AccountRules.emailMatches(a, ""));
    assertFalse(AccountRules.emailMatches(a, "eve@example.org"));
  }

  @Test
  void theFirstStartMakesTheAdminWithItsTokenInA0600FileAndLaterStartsKeepIt() throws Exception {
    Path data = dir.resolve("data");
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 1)) {
      AccountBootstrap.Summary first = AccountBootstrap.run(store, Optional.empty(), data, Clock.systemUTC());
      Path file = data.resolve("admin.token");
      assertEquals(1, first.accounts());
      assertTrue(first.adminToken().contains(file.toString()));
      assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
      String token = Files.readString(file).strip();
      Account admin = store.accounts().get(0);
      assertEquals("admin", admin.name());
      assertTrue(admin.admin());
      assertTrue(AccountTokens.matches(token, admin.tokenDigest()));

      AccountBootstrap.Summary again = AccountBootstrap.run(store, Optional.empty(), data, Clock.systemUTC());
      assertEquals(token, Files.readString(file).strip(), "a later start makes no new token");
      assertEquals(admin, store.accounts().get(0));
      assertEquals(1, again.accounts());

      // SCHED_ADMIN_TOKEN is the admin's token, on every start
      String set = "operator-chosen-token-0123456789";
      AccountBootstrap.Summary env = AccountBootstrap.run(store, Optional.of(set), data, Clock.systemUTC());
      assertTrue(env.adminToken().contains("SCHED_ADMIN_TOKEN"));
      assertTrue(AccountTokens.matches(set, store.accounts().get(0).tokenDigest()));
      assertFalse(AccountTokens.matches(token, store.accounts().get(0).tokenDigest()), "the old one is gone");
    }
  }

  @Test
  void withSchedAdminTokenAnEmptyStoreWritesNoFile() {
    try (JdbcJobStore store = JdbcJobStore.embedded(dir, 1)) {
      AccountBootstrap.run(store, Optional.of("operator-chosen-token-0123456789"), dir.resolve("data"), Clock.systemUTC());
      assertFalse(Files.exists(dir.resolve("data/admin.token")));
      assertNotEquals(List.of(), store.accounts());
    }
  }
}
