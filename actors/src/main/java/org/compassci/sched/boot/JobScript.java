package org.compassci.sched.boot;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The job's {@code job.sh}, which lkp-tests on the box sources. It defines both ways to read the
 * job's variables: {@code export_top_env} (lkp-tests 2022) and {@code check_set_var} with
 * {@code read_job_vars} (2024 and later), every value single-quoted so the box's shell never
 * expands it. The functions that run the job come from the job's {@code job2sh} when lkp-tests'
 * own submit sent one, or else {@code run_job} is written from the job's {@code setup},
 * {@code daemon}, {@code monitor} and {@code program} sections. It ends with {@code "$@"}.
 *
 * <p>Where Compass-CI's compact scheduler goes wrong, this does not: a value holding {@code $} is
 * not put in double quotes; check_set_var takes the name up to the first '=' (not the last);
 * its locals cannot clash with a job variable called {@code vars} or {@code name}; calling
 * read_job_vars twice does not stop the shell on a read-only variable; {@code if:} writes
 * {@code then}; a parameter name starting with a digit is encoded.
 */
public final class JobScript {

  /** Fields never made shell variables: what the scheduler keeps to itself, or what is not a value. */
  private static final Set<String> SKIPPED = Set.of("job2sh", "secrets", "hw", "services");

  /**
   * Names a job must not set on the box: they would change how its shell itself works
   * (a job field called PATH or IFS would break every command after it).
   */
  private static final Set<String> RESERVED = Set.of("PATH", "IFS", "ENV", "HOME", "SHELL", "PWD",
      "OLDPWD", "PS1", "PS2", "PS4", "OPTIND", "OPTARG", "LD_PRELOAD", "LD_LIBRARY_PATH", "LKP_SRC",
      "TMP", "BASH_ENV");

  /** Keys of a program's parameters that are not parameters. */
  private static final Set<String> NOT_PARAMS =
      Set.of("if", "if-role", "depends-on", "pre-script", "post-script");

  private static final List<String[]> SECTIONS = List.of(
      new String[] {"setup", "run_setup"}, new String[] {"daemon", "start_daemon"},
      new String[] {"monitor", "run_monitor"}, new String[] {"monitors", "run_monitor"},
      new String[] {"program", "run_program"});

  private static final List<String> JOB2SH_ORDER =
      List.of("run_job", "extract_stats", "define_files", "on_fail");

  private JobScript() {}

  /**
   * {@code job}: the job as job.yaml holds it (id, job_token, result_root, services, ...);
   * {@code job2sh}: lkp-tests' functions, or null. Throws IllegalArgumentException when a section
   * cannot be written (the job cannot boot).
   */
  public static String render(ObjectNode job, JsonNode job2sh) {
    Map<String, String> vars = variables(job);
    StringBuilder sh = new StringBuilder(4096);
    sh.append("#!/bin/sh\n\n");
    sh.append("export_top_env()\n{\n");
    vars.forEach((k, v) -> sh.append("\texport ").append(k).append('=').append(Shell.quote(v)).append('\n'));
    sh.append("\n\t[ -n \"$LKP_SRC\" ] ||\n\texport LKP_SRC=/lkp/${user:-lkp}/src\n}\n\n");

    sh.append("check_set_var()\n{\n")
        .append("\tlocal __lkp_name=\"${1%%=*}\"\n")
        .append("\t[ \"$__lkp_vars\" = \"  \" ] || [ \"${__lkp_vars#* $__lkp_name }\" != \"$__lkp_vars\" ] || return 0\n")
        .append("\tif eval \"[ \\\"\\${$__lkp_name+set}\\\" = set ]\"; then\n")
        .append("\t\teval \"[ \\\"\\$$__lkp_name\\\" = \\\"\\${1#*=}\\\" ]\" && return 0\n")
        .append("\t\t( eval \"$__lkp_name=\" ) 2>/dev/null || return 0\n")
        .append("\tfi\n")
        .append("\treadonly \"$1\"\n}\n\n");
    sh.append("read_job_vars()\n{\n\tlocal __lkp_vars=\" $* \"\n");
    vars.forEach((k, v) -> sh.append("\tcheck_set_var ").append(k).append('=').append(Shell.quote(v)).append('\n'));
    sh.append("}\n\n");

    if (job2sh != null && job2sh.isObject()) {
      appendJob2sh(sh, job2sh);
    } else {
      appendRunJob(sh, job);
    }
    sh.append("\"$@\"\n");
    return sh.toString();
  }

  /**
   * Top-level scalars first, then those of {@code hw} and of {@code services} (a later one of the
   * same name wins); keys that are not shell names stay in job.yaml only.
   */
  static Map<String, String> variables(ObjectNode job) {
    Map<String, String> vars = new LinkedHashMap<>();
    collect(job, vars, true);
    for (String nested : List.of("hw", "services")) {
      JsonNode n = job.get(nested);
      if (n != null && n.isObject()) {
        collect((ObjectNode) n, vars, false);
      }
    }
    return vars;
  }

  private static void collect(ObjectNode node, Map<String, String> vars, boolean top) {
    for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      String k = e.getKey();
      if (!Shell.isName(k) || RESERVED.contains(k) || k.startsWith("__lkp_") || (top && SKIPPED.contains(k))) {
        continue;
      }
      String v = Shell.scalar(e.getValue());
      if (v != null) {
        vars.remove(k);
        vars.put(k, v);
      }
    }
  }

  /** lkp-tests' functions, line by line, a null line being an empty one. */
  private static void appendJob2sh(StringBuilder sh, JsonNode job2sh) {
    List<String> keys = new ArrayList<>();
    JOB2SH_ORDER.stream().filter(job2sh::has).forEach(keys::add);
    job2sh.fieldNames().forEachRemaining(k -> {
      if (!keys.contains(k)) {
        keys.add(k);
      }
    });
    for (String k : keys) {
      JsonNode lines = job2sh.get(k);
      if (lines.isTextual()) {
        sh.append(lines.asText().replace("\0", ""));
        if (!lines.asText().endsWith("\n")) {
          sh.append('\n');
        }
        continue;
      }
      for (JsonNode line : lines) {
        for (JsonNode l : line.isArray() ? line : List.of(line)) {
          if (!l.isNull() && !l.isTextual()) {
            throw new IllegalArgumentException("job2sh." + k + ": lines must be strings or null");
          }
          sh.append(l.isNull() ? "" : l.asText().replace("\0", "")).append('\n');
        }
      }
    }
  }

  /** run_job from the job's sections: one line per program, {@code k=v ... run_program NAME}. */
  private static void appendRunJob(StringBuilder sh, ObjectNode job) {
    sh.append("run_job()\n{\n")
        .append("\techo $$ > $TMP/run-job.pid\n\n")
        .append("\t. $LKP_SRC/lib/http.sh\n")
        .append("\t. $LKP_SRC/lib/job.sh\n")
        .append("\t. $LKP_SRC/lib/env.sh\n\n");
    for (String[] section : SECTIONS) {
      JsonNode entries = job.get(section[0]);
      if (entries == null || entries.isNull()) {
        continue;
      }
      if (!entries.isObject()) {
        throw new IllegalArgumentException(section[0] + ": must map each program to its parameters");
      }
      for (Iterator<Map.Entry<String, JsonNode>> it = entries.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        appendEntry(sh, section[1], e.getKey(), e.getValue());
      }
    }
    sh.append("}\n\n");
  }

  private static void appendEntry(StringBuilder sh, String command, String program, JsonNode config) {
    if (program.isBlank() || program.indexOf('\0') >= 0) {
      throw new IllegalArgumentException("a program without a name");
    }
    StringBuilder line = new StringBuilder();
    List<String> args = new ArrayList<>();
    String condition = null;
    String pre = null;
    String post = null;
    if (config != null && config.isObject()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = config.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> p = it.next();
        switch (p.getKey()) {
          case "if" -> condition = Shell.scalar(p.getValue());
          case "pre-script" -> pre = Shell.scalar(p.getValue());
          case "post-script" -> post = Shell.scalar(p.getValue());
          default -> {
            if (NOT_PARAMS.contains(p.getKey())) {
              continue;
            }
            if (p.getValue().isObject()) {
              // one level of nesting is flattened, as Compass-CI does
              p.getValue().fields().forEachRemaining(n -> assign(line, n.getKey(), n.getValue()));
            } else {
              assign(line, p.getKey(), p.getValue());
            }
          }
        }
      }
    } else if (config != null && !config.isNull()) {
      String v = Shell.scalar(config);
      if (v == null) {
        throw new IllegalArgumentException(program + ": parameters must be a mapping");
      }
      args.add(Shell.quote(v));
    }
    line.append(command).append(' ').append(Shell.word(program));
    args.forEach(a -> line.append(' ').append(a));
    if (pre != null && !pre.isBlank()) {
      indent(sh, pre, "\t");
    }
    if (condition != null && !condition.isBlank()) {
      sh.append("\tif ").append(condition.replace('\n', ' ')).append("\n\tthen\n\t\t").append(line).append("\n\tfi\n");
    } else {
      sh.append('\t').append(line).append('\n');
    }
    if (post != null && !post.isBlank()) {
      indent(sh, post, "\t");
    }
  }

  private static void assign(StringBuilder line, String key, JsonNode value) {
    if (key.isEmpty()) {
      return;
    }
    String v = Shell.scalar(value);
    if (v == null) {
      v = value.toString();
    }
    line.append(Shell.encodeName(key)).append('=').append(v.isEmpty() ? "''" : Shell.word(v)).append(' ');
  }

  private static void indent(StringBuilder sh, String script, String tabs) {
    for (String l : script.replace("\0", "").split("\n", -1)) {
      sh.append(tabs).append(l).append('\n');
    }
  }
}
