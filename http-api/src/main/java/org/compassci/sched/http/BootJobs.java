package org.compassci.sched.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.compassci.sched.boot.JobPackage;
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
      if (image.isEmpty()) {
        if (os.isEmpty() || osv.isEmpty()) {
          throw new ProviderBoot.CannotBoot("a container job needs docker_image (or os and os_version)");
        }
        image = os + ":" + osv;
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
          m.put(k, text(job, k));
        }
      }
      JsonNode hw = job.get("hw");
      if (hw != null && hw.isObject()) {
        for (String k : List.of("nr_cpu", "memory")) {
          if (!text((ObjectNode) hw, k).isEmpty()) {
            m.put(k, text((ObjectNode) hw, k));
          }
        }
      }
    } else {
      throw new ProviderBoot.CannotBoot("tbox_type '" + type + "' is not a VM or a container");
    }
    JsonNode cacheDirs = job.get("cache_dirs");
    if (cacheDirs != null && cacheDirs.isArray() && !cacheDirs.isEmpty()) {
      StringBuilder dirs = new StringBuilder();
      cacheDirs.forEach(d -> dirs.append(dirs.length() > 0 ? " " : "").append(d.asText()));
      m.put("cache_dirs", dirs.toString());
    }
    return m;
  }

  private static String text(ObjectNode job, String field) {
    JsonNode v = job.get(field);
    return v == null || v.isNull() || !v.isValueNode() ? "" : v.asText().trim();
  }
}
