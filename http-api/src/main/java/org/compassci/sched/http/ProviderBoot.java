package org.compassci.sched.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import org.compassci.sched.actors.ProviderActor.SchedulerAddress;

/**
 * How a hand-out to a provider boots: the iPXE script of a VM (the same text as
 * {@code boot.ipxe} for that job, with its package URL) and the initrds of a container (its
 * package last).
 *
 * <p><b>Seam for issue 11.</b> The boot script renderer, the job package and its sealed links
 * come with issue 11 (branch {@code issue11}: {@code BootPlan}, {@code BootScripts},
 * {@code PackageLink}). Until that is merged, {@link #PLACEHOLDER} writes the script's shape
 * from the job's own fields with an unsealed package URL that nothing serves yet; once it is,
 * the wiring passes an implementation built on issue 11's renderer instead.
 */
public interface ProviderBoot {

  /** The job cannot boot (no kernel, no image): it ends abort_invalid with this reason. */
  final class CannotBoot extends RuntimeException {
    public CannotBoot(String message) {
      super(message, null, false, false);
    }
  }

  /** The iPXE script that boots {@code job} (its stored view) in a VM. */
  String ipxeScript(ObjectNode job, String token, SchedulerAddress at);

  /** The initrds a container of {@code job} unpacks, the job package last. */
  List<String> containerInitrds(ObjectNode job, String token, SchedulerAddress at);

  /** Until issue 11 is merged: the script's shape, and a package URL not served yet. */
  ProviderBoot PLACEHOLDER = new ProviderBoot() {
    @Override
    public String ipxeScript(ObjectNode job, String token, SchedulerAddress at) {
      String base = "http://" + at.host() + ":" + at.port();
      String os = text(job, "os");
      String arch = text(job, "os_arch").isEmpty() ? text(job, "arch") : text(job, "os_arch");
      String version = text(job, "os_version");
      String kernel = text(job, "kernel_uri");
      if (kernel.isEmpty()) {
        if (os.isEmpty() || arch.isEmpty() || version.isEmpty()) {
          throw new CannotBoot("the job names no kernel: give kernel_uri, or os, os_arch and os_version");
        }
        kernel = base + "/srv/os/" + os + "/" + arch + "/" + version + "/boot/vmlinuz";
      }
      List<String> initrds = containerInitrds(job, token, at);
      StringBuilder s = new StringBuilder("#!ipxe\n\n");
      StringBuilder names = new StringBuilder();
      for (String u : initrds) {
        s.append("initrd ").append(u).append('\n');
        names.append(" initrd=").append(u.substring(u.lastIndexOf('/') + 1));
      }
      s.append("kernel ").append(kernel)
          .append(" user=lkp job=/lkp/scheduled/job.yaml ip=dhcp rootovl ro").append(names).append('\n')
          .append("echo ipxe will boot job id=").append(text(job, "id")).append(", ip=${ip}, mac=${mac}\n")
          .append("echo result_root=").append(text(job, "result_root")).append("\n\nboot\n");
      return s.toString();
    }

    @Override
    public List<String> containerInitrds(ObjectNode job, String token, SchedulerAddress at) {
      List<String> out = new ArrayList<>();
      JsonNode given = job.get("initrds_uri");
      if (given != null && given.isArray()) {
        given.forEach(u -> out.add(u.asText()));
      }
      out.add("http://" + at.host() + ":" + at.port() + "/scheduler/v1/packages/" + text(job, "id")
          + "-" + token.substring(0, Math.min(8, token.length())) + "/job.cgz");
      return out;
    }
  };

  private static String text(ObjectNode job, String field) {
    JsonNode v = job.get(field);
    return v == null || v.isNull() || !v.isValueNode() ? "" : v.asText().trim();
  }
}
