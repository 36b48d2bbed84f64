package org.compassci.sched.auth;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import org.compassci.sched.persistence.Account;
import org.compassci.sched.persistence.AccountExistsException;
import org.compassci.sched.persistence.AccountStore;

/**
 * The first account. On a first start with an empty store the {@code admin} account is made: its
 * token is SCHED_ADMIN_TOKEN when set, else a new random one written to
 * {@code <data-dir>/admin.token} (mode 0600) and nowhere else, never to a log. When
 * SCHED_ADMIN_TOKEN is set it is the admin's token on every start, so changing it and restarting
 * rotates it. Runs once at start, before the actors, on the starting thread.
 */
public final class AccountBootstrap {

  public static final String ADMIN = "admin";
  public static final String TOKEN_FILE = "admin.token";

  /** What start-up logs: how many accounts there are, and where the admin's token is. */
  public record Summary(List<Account> all, String adminToken) {
    public int accounts() {
      return all.size();
    }
  }

  private AccountBootstrap() {}

  public static Summary run(AccountStore store, Optional<String> adminToken, Path dataDir, Clock clock) {
    List<Account> accounts = store.accounts();
    Path file = dataDir.resolve(TOKEN_FILE);
    if (adminToken.isPresent()) {
      String digest = AccountTokens.digest(adminToken.get());
      Optional<Account> admin = accounts.stream().filter(a -> a.name().equals(ADMIN)).findFirst();
      if (admin.isEmpty()) {
        add(store, newAdmin(digest, clock));
      } else if (!admin.get().tokenDigest().equals(digest) || !admin.get().admin()) {
        Account a = admin.get();
        store.saveAccount(new Account(a.name(), a.email(), a.displayName(), Account.ADMIN, a.createdMillis(), digest));
      }
      return new Summary(store.accounts(), "from SCHED_ADMIN_TOKEN (scheduler.admin-token)");
    }
    if (accounts.isEmpty()) {
      String token = AccountTokens.newToken();
      // the file first: an admin whose token was never written anywhere could not be used
      writeSecret(file, token);
      add(store, newAdmin(AccountTokens.digest(token), clock));
      return new Summary(store.accounts(), "in " + file + " (made now)");
    }
    return new Summary(accounts, Files.exists(file) ? "in " + file
        : "not on this machine (an admin can make a new one: accounts rotate admin)");
  }

  private static Account newAdmin(String digest, Clock clock) {
    return new Account(ADMIN, "", "Administrator", Account.ADMIN, clock.millis(), digest);
  }

  private static void add(AccountStore store, Account admin) {
    try {
      store.addAccount(admin);
    } catch (AccountExistsException e) {
      // another scheduler on the same database made it first: theirs stands
    }
  }

  /** Writes {@code secret} to {@code file} readable by this user only, whole or not at all. */
  public static void writeSecret(Path file, String secret) {
    try {
      Files.createDirectories(file.getParent());
      Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
      Files.deleteIfExists(tmp);
      if (FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      } else {
        Files.createFile(tmp);
      }
      Files.writeString(tmp, secret + "\n", StandardCharsets.UTF_8);
      try {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot write " + file + ": " + e.getMessage(), e);
    }
  }
}
