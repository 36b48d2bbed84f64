package org.compassci.sched.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.compassci.sched.boot.JobPackage;
import org.compassci.sched.model.JobIntake;
import org.compassci.sched.model.Json;

/**
 * The {@code boot-job} message of one hand-out to a provider, in the shapes Compass-CI's
 * {@code multi-qemu-docker} reads (DOMAIN.md, "Real testboxes"): a VM gets its iPXE script, a
 * container its image and initrds. Plain Java, rendered on the HTTP edge's threads.
 */
final class BootJobs {

  private BootJobs() {}

  /** {@code job}: the stored view of the job handed out; {@code token}: its hand-out token. */
  static ObjectNode render(ObjectNode job, String token, JobPackage.Endpoint at, ProviderBoot boot) {
    String type = text(job, "tbox_type");
    ObjectNode m = Json.object().put("type", "boot-job");
    if (type.equals("vm")) {
      // multi-qemu-docker hands kvm.sh these and every value under hw as shell variables, and
      // reads some in arithmetic (nr_cpu, nr_hdd_partitions), where a name is read as a variable
      // and its value as arithmetic again
      for (String k : List.of("nr_cpu", "memory")) {
        if (!text(job, k).isEmpty()) {
          providerValue(k, text(job, k));
        }
      }
      for (String k : List.of("os", "osv", "os_version")) {
        noExpansion(k, job.get(k));
      }
      noExpansion("hw", job.get("hw"));
      m.put("ipxe_script", boot.ipxeScript(job, token, at))
          .put("job_id", text(job, "id"))
          .put("job_token", token)
          .put("result_root", text(job, "result_root"))
          .put("tbox_type", "vm")
          .put("tbox_group", text(job, "tbox_group"));
    } else if (type.equals("dc")) {
      String image = text(job, "docker_image");
      String os = text(job, "os");
      String osv = text(job, "osv").isEmpty() ? text(job, "os_version") : text(job, "osv");
      // the provider host hands these to its container tool: one name each, or an image
      // reference, never a word more (a space, a quote, a ';' or a '$' would be one). Whatever
      // is thrown here ends the job abort_invalid with its message (ProviderRoutes.bootJob)
      if (!os.isEmpty()) {
        JobIntake.checkPathComponent("os", os);
      }
      if (!osv.isEmpty()) {
        JobIntake.checkPathComponent("osv", osv);
      }
      if (image.isEmpty()) {
        if (os.isEmpty() || osv.isEmpty()) {
          throw new ProviderBoot.CannotBoot("a container job needs docker_image (or os and os_version)");
        }
        image = os + ":" + osv;
      } else if (!IMAGE.matcher(image).matches()) {
        throw new ProviderBoot.CannotBoot("docker_image: '" + shown(image) + "' is not an image reference"
            + " (letters, digits, '.', '_', '-', '/', ':', '@', at most 255)");
      }
      ArrayNode initrds = Json.MAPPER.createArrayNode();
      List<String> urls = boot.containerInitrds(job, token, at);
      urls.forEach(initrds::add);
      m.put("job_id", text(job, "id"))
          .put("tbox_type", "dc")
          .put("tbox_group", text(job, "tbox_group"))
          .put("docker_image", image)
          // a JSON array inside a string, as multi-qemu-docker reads it
          .put("initrds", Json.write(initrds))
          .put("os", os)
          .put("osv", osv)
          .put("result_root", text(job, "result_root"))
          .put("job_token", token);
      for (String k : List.of("cpu_minimum", "memory_minimum", "build_mini_docker", "ccache_enable", "bin_shareable")) {
        if (!text(job, k).isEmpty()) {
          m.put(k, providerValue(k, text(job, k)));
        }
      }
      JsonNode hw = job.get("hw");
      if (hw != null && hw.isObject()) {
        for (String k : List.of("nr_cpu", "memory")) {
          if (!text((ObjectNode) hw, k).isEmpty()) {
            m.put(k, providerValue("hw." + k, text((ObjectNode) hw, k)));
          }
        }
      }
    } else {
      throw new ProviderBoot.CannotBoot("tbox_type '" + type + "' is not a VM or a container");
    }
    JsonNode cacheDirs = job.get("cache_dirs");
    if (cacheDirs != null && cacheDirs.isArray() && !cacheDirs.isEmpty()) {
      StringBuilder dirs = new StringBuilder();
      cacheDirs.forEach(d -> {
        // a list of paths joined by spaces for the provider: a space or a shell character inside
        // one would be another path, or more
        if (!CACHE_DIR.matcher(d.asText()).matches() || java.util.Arrays.asList(d.asText().split("/")).contains("..")) {
          throw new ProviderBoot.CannotBoot("cache_dirs: '" + shown(d.asText()) + "' is not a path of letters,"
              + " digits, '.', '_', '+', '-' and '/' (no '..')");
        }
        dirs.append(dirs.length() > 0 ? " " : "").append(d.asText());
      });
      m.put("cache_dirs", dirs.toString());
    }
    return m;
  }

  /**
   * A value the provider host's scripts read as a number or a word: bash evaluates the operands
   * of -ne, -gt and $((...)) as arithmetic, where {@code a[$(cmd)]} runs cmd, as root on most
   * provider hosts. A number (with a unit, for memory) or a plain word: nothing else goes out.
   */
  static String providerValue(String field, String value) {
    if (!PROVIDER_VALUE.matcher(value).matches()) {
      throw new ProviderBoot.CannotBoot(field + ": '" + shown(value) + "' is not a number or a plain word"
          + " (letters, digits and . _ % + : , / = @ -, at most 64; no space or shell character)");
    }
    return value;
  }

  /**
   * Refuses {@code $} and backticks in every value of {@code node}, at any depth: bash expands them
   * in what the provider makes a shell variable of, and a value another variable names is read in
   * arithmetic, where {@code a[$(cmd)]} runs cmd.
   */
  private static void noExpansion(String path, JsonNode node) {
    if (node == null || node.isNull()) {
      return;
    }
    if (node.isObject()) {
      node.fields().forEachRemaining(e -> noExpansion(path + "." + e.getKey(), e.getValue()));
      return;
    }
    if (node.isArray()) {
      node.forEach(n -> noExpansion(path, n));
      return;
    }
    String v = node.asText();
    if (v.indexOf('$') >= 0 || v.indexOf('`') >= 0 || v.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
      throw new ProviderBoot.CannotBoot(path + ": '" + shown(v) + "' holds $, a backtick or a control character,"
          + " which the provider host's shell would expand");
    }
  }

  private static final java.util.regex.Pattern PROVIDER_VALUE = java.util.regex.Pattern.compile("[A-Za-z0-9._%+:,/=@-]{1,64}");

  /** A Docker image reference: [registry[:port]/]path[:tag][@digest]. */
  private static final java.util.regex.Pattern IMAGE =
      java.util.regex.Pattern.compile("[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}");
  private static final java.util.regex.Pattern CACHE_DIR = java.util.regex.Pattern.compile("[A-Za-z0-9._+/-]{1,255}");

  private static String shown(String value) {
    return (value.length() > 60 ? value.substring(0, 60) + "..." : value).replaceAll("\\p{Cntrl}", "?");
  }

  private static String text(ObjectNode job, String field) {
    JsonNode v = job.get(field);
    return v == null || v.isNull() || !v.isValueNode() ? "" : v.asText().trim();
  }
}
