package org.compassci.sched.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.compassci.sched.model.IntakeLimits;

/**
 * Where the command line finds its token: {@code --token}, else {@code SCHED_TOKEN}, else
 * Compass-CI's own files, {@code /etc/compass-ci/defaults/*.yaml} then
 * {@code ~/.config/compass-ci/defaults/*.yaml} (a later file wins, as lkp-tests reads them), whose
 * {@code my_token} is the token and {@code my_account} the account it belongs to. So a Compass-CI
 * user whose {@code account.yaml} holds a token this scheduler made needs nothing more.
 */
record Credentials(Optional<String> token, String source) {

  static final Credentials NONE = new Credentials(Optional.empty(), "none");

  static Credentials find(String option, Map<String, String> env) {
    if (option != null && !option.isBlank()) {
      return new Credentials(Optional.of(option.strip()), "--token");
    }
    String fromEnv = env.getOrDefault("SCHED_TOKEN", "");
    if (!fromEnv.isBlank()) {
      return new Credentials(Optional.of(fromEnv.strip()), "SCHED_TOKEN");
    }
    List<Path> dirs = new ArrayList<>(List.of(Path.of("/etc/compass-ci/defaults")));
    String home = env.getOrDefault("HOME", System.getProperty("user.home", ""));
    if (!home.isBlank()) {
      dirs.add(Path.of(home, ".config", "compass-ci", "defaults"));
    }
    Credentials found = NONE;
    for (Path dir : dirs) {
      for (Path file : yamlFiles(dir)) {
        Optional<String> token = myToken(file);
        if (token.isPresent()) {
          found = new Credentials(token, file.toString());
        }
      }
    }
    return found;
  }

  private static List<Path> yamlFiles(Path dir) {
    List<Path> files = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return files;
    }
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.yaml")) {
      ds.forEach(files::add);
    } catch (IOException e) {
      return files;
    }
    files.sort(null);
    return files;
  }

  /** The file's my_token; an unreadable file is passed over, as lkp-tests would fail on it later. */
  private static Optional<String> myToken(Path file) {
    try {
      JsonNode doc = IntakeLimits.defaults().yaml().readTree(Files.readAllBytes(file));
      JsonNode t = doc == null ? null : doc.get("my_token");
      return t != null && t.isValueNode() && !t.asText().isBlank() ? Optional.of(t.asText().strip()) : Optional.empty();
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }
}
