package org.compassci.sched.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Which top-level keys of an lkp-tests job file are programs, as lkp-tests' own {@code submit}
 * finds them: a key is a program when an lkp-tests tree holds an executable of that name among
 * its setup scripts, tests, daemons or monitors ({@code lib/job.rb}, {@code available_programs};
 * {@code lib/job2sh.rb}, {@code parse_one}). Without the tree nothing tells {@code hackbench:}
 * (a test) from {@code vmstat:} (a monitor, run in the background) or from a job's own map.
 *
 * <p>The scheduler's {@code job.sh} runs what a job lists under {@code setup:}, {@code daemon:},
 * {@code monitor:} and {@code program:} (as Compass-CI's compact scheduler does); {@link #place}
 * moves each program key of a job there. Both layouts are read: the 2022 one
 * ({@code setup/}, {@code tests/}, {@code daemon/}, {@code monitors/**}) and the later one
 * ({@code programs/NAME/run}, {@code setup}, {@code daemon}, {@code *monitor}).
 */
public final class LkpPrograms {

  /** The section of a job that runs a program of this kind, as {@code JobScript} reads it. */
  public enum Kind {
    SETUP("setup"), DAEMON("daemon"), MONITOR("monitor"), TEST("program");

    private final String section;

    Kind(String section) {
      this.section = section;
    }

    public String section() {
      return section;
    }
  }

  /** The sections {@code job.sh} runs: a job with none of them (and no job2sh) runs nothing. */
  public static final Set<String> SECTIONS = Set.of("setup", "daemon", "monitor", "monitors", "program");

  /** What lkp-tests' program lookup skips: data files beside the scripts, and the wrappers. */
  private static final Pattern NOT_A_PROGRAM = Pattern.compile(".*\\.(yaml|[0-9]+)$|wrapper");

  /** Keys that are never programs: what the scheduler or job2sh reads itself. */
  private static final Set<String> NEVER = Set.of("job2sh", "secrets", "hw", "services", "pp",
      "define_files", "on_fail", "monitors");

  private final Map<String, Kind> programs;

  private LkpPrograms(Map<String, Kind> programs) {
    this.programs = programs;
  }

  public static LkpPrograms of(Map<String, Kind> programs) {
    return new LkpPrograms(Map.copyOf(programs));
  }

  /**
   * The programs of the lkp-tests tree at {@code lkpSrc}. Throws IllegalArgumentException when it
   * is not one: no folder, or none of the folders lkp-tests keeps its programs in.
   */
  public static LkpPrograms scan(Path lkpSrc) {
    if (!Files.isDirectory(lkpSrc)) {
      throw new IllegalArgumentException(lkpSrc + ": no such folder");
    }
    Map<String, Kind> found = new LinkedHashMap<>();
    boolean tree = false;
    // a name both a setup script and a test runs as setup, as in lkp-tests (its setup pass comes first)
    tree |= scanFolder(lkpSrc.resolve("setup"), Kind.SETUP, false, found);
    tree |= scanFolder(lkpSrc.resolve("tests"), Kind.TEST, false, found);
    tree |= scanFolder(lkpSrc.resolve("daemon"), Kind.DAEMON, false, found);
    tree |= scanFolder(lkpSrc.resolve("monitors"), Kind.MONITOR, true, found);
    Path programs = lkpSrc.resolve("programs");
    if (Files.isDirectory(programs)) {
      tree = true;
      try (Stream<Path> dirs = Files.list(programs)) {
        for (Path dir : dirs.sorted().toList()) {
          String name = dir.getFileName().toString();
          Optional<Kind> kind = programsKind(dir);
          if (kind.isPresent() && !NOT_A_PROGRAM.matcher(name).matches()) {
            found.putIfAbsent(name, kind.get());
          }
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    if (!tree) {
      throw new IllegalArgumentException(lkpSrc + ": not an lkp-tests tree (no setup/, tests/, daemon/, "
          + "monitors/ or programs/ folder)");
    }
    return new LkpPrograms(Map.copyOf(found));
  }

  /** The later layout: what a program's folder holds tells its kind; setup first, as above. */
  private static Optional<Kind> programsKind(Path dir) {
    if (executable(dir.resolve("setup"))) {
      return Optional.of(Kind.SETUP);
    }
    if (executable(dir.resolve("run"))) {
      return Optional.of(Kind.TEST);
    }
    if (executable(dir.resolve("daemon"))) {
      return Optional.of(Kind.DAEMON);
    }
    for (String m : List.of("monitor", "no-stdout-monitor", "one-shot-monitor", "plain-monitor")) {
      if (executable(dir.resolve(m))) {
        return Optional.of(Kind.MONITOR);
      }
    }
    return Optional.empty();
  }

  private static boolean scanFolder(Path folder, Kind kind, boolean deep, Map<String, Kind> found) {
    if (!Files.isDirectory(folder)) {
      return false;
    }
    try (Stream<Path> files = deep ? Files.walk(folder) : Files.list(folder)) {
      for (Path f : files.sorted().toList()) {
        String name = f.getFileName().toString();
        if (executable(f) && !NOT_A_PROGRAM.matcher(name).matches()) {
          found.putIfAbsent(name, kind);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return true;
  }

  private static boolean executable(Path f) {
    return Files.isRegularFile(f) && Files.isExecutable(f);
  }

  public int size() {
    return programs.size();
  }

  /**
   * Moves each top-level key of {@code job} that names a program into the section that runs it
   * ({@code hackbench: {mode: process}} becomes {@code program: {hackbench: {mode: process}}}),
   * after what the section already lists, in the job's order; a scalar one
   * ({@code cpufreq_governor: performance}) is copied there and stays at the top too. A job that carries lkp-tests'
   * own functions ({@code job2sh}) is left as it is: those run it.
   */
  public ObjectNode place(ObjectNode job) {
    if (job.has("job2sh")) {
      return job;
    }
    List<String> keys = new ArrayList<>();
    job.fieldNames().forEachRemaining(keys::add);
    for (String key : keys) {
      Kind kind = programs.get(key);
      if (kind == null || NEVER.contains(key) || SECTIONS.contains(key)) {
        continue;
      }
      JsonNode value = job.get(key);
      if (value.isArray()) {
        // a list left after expansion is a value the file keeps as a list: not a program's options
        continue;
      }
      JsonNode section = job.get(kind.section());
      if (section != null && !section.isNull() && !section.isObject()) {
        // not a section the scheduler could add to: JobIntake or job.sh says what is wrong with it
        continue;
      }
      ObjectNode target = section instanceof ObjectNode o ? o : job.putObject(kind.section());
      if (target.has(key)) {
        continue;
      }
      if (value.isValueNode() && !value.isNull()) {
        // a scalar stays a top-level variable as well: lkp-tests exports every scalar, and a
        // setup script such as cpufreq_governor reads its value from there
        target.set(key, value.deepCopy());
      } else {
        job.remove(key);
        target.set(key, value);
      }
    }
    return job;
  }

  /**
   * True when {@code job.sh} would run something for {@code job}: it carries lkp-tests' own
   * functions, or lists a program in a section.
   */
  public static boolean runsSomething(ObjectNode job) {
    if (job.path("job2sh").isObject()) {
      return true;
    }
    for (String s : SECTIONS) {
      JsonNode section = job.get(s);
      if (section != null && section.isObject() && section.size() > 0) {
        return true;
      }
    }
    return false;
  }

  /**
   * The top-level keys of {@code job} that hold a map: what lkp-tests would take for programs if
   * its tree has them, for a message about a job that runs nothing.
   */
  public static List<String> likelyPrograms(ObjectNode job) {
    List<String> out = new ArrayList<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = job.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if ((e.getValue().isObject() || e.getValue().isNull()) && !NEVER.contains(e.getKey())
          && !SECTIONS.contains(e.getKey())) {
        out.add(e.getKey());
      }
    }
    return out;
  }
}
