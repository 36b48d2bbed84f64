package org.compassci.sched.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import org.compassci.sched.boot.BootPlan;
import org.compassci.sched.boot.BootScripts;
import org.compassci.sched.boot.BootType;
import org.compassci.sched.boot.JobPackage;
import org.compassci.sched.boot.JobScript;
import org.compassci.sched.boot.PackageLink;
import org.compassci.sched.model.JobIntake;

/**
 * How a hand-out to a provider boots: the iPXE script of a VM, the same text that
 * {@code boot.ipxe} answers a bare-metal box for that job, with its package link; and the
 * initrds of a container, its package last. The package ({@code job.cgz}) is built when the
 * machine downloads it, as for bare metal, and its first download moves the job to boot.
 */
public interface ProviderBoot {

  /** The job cannot boot (no kernel, no image, a script that cannot be written): it ends abort_invalid. */
  final class CannotBoot extends RuntimeException {
    public CannotBoot(String message) {
      super(message, null, false, false);
    }
  }

  /** The iPXE script that boots {@code job} (its stored view) in a VM. */
  String ipxeScript(ObjectNode job, String token, JobPackage.Endpoint at);

  /** The initrds a container of {@code job} unpacks, the job package last. */
  List<String> containerInitrds(ObjectNode job, String token, JobPackage.Endpoint at);

  /** Boot answers as the bare-metal routes write them (BootPlan, BootScripts, PackageLink). */
  static ProviderBoot of(BootContext boot) {
    return new ProviderBoot() {
      @Override
      public String ipxeScript(ObjectNode job, String token, JobPackage.Endpoint at) {
        String pkg = packageUrl(job, token, at);
        BootPlan plan;
        try {
          plan = BootPlan.of(job, pkg, at, boot.prefixes());
        } catch (BootPlan.CannotBoot e) {
          throw new CannotBoot(e.getMessage());
        }
        return BootScripts.render(BootType.IPXE, plan);
      }

      /**
       * The job's own {@code initrds_uri}, else the lab's lkp-tests initrd for its arch (a
       * container brings its own OS, so no OS image), then the package.
       */
      @Override
      public List<String> containerInitrds(ObjectNode job, String token, JobPackage.Endpoint at) {
        String pkg = packageUrl(job, token, at);
        List<String> out = new ArrayList<>();
        JsonNode given = job.get("initrds_uri");
        if (given != null && given.isArray()) {
          // the provider host downloads them, as a bare-metal box's boot script does: checked
          // alike (whatever is thrown here ends the job abort_invalid with its message)
          given.forEach(u -> {
            BootPlan.checkUrl("initrds_uri", u.asText());
            out.add(u.asText());
          });
        } else {
          String arch = text(job, "os_arch").isEmpty() ? text(job, "arch") : text(job, "os_arch");
          if (!arch.isEmpty()) {
            String user = text(job, "lkp_initrd_user").isEmpty() ? "latest"
                : JobIntake.checkPathComponent("lkp_initrd_user", text(job, "lkp_initrd_user"));
            out.add(initrdPrefix(at) + "/lkp/" + user + "/lkp-" + arch + ".cgz");
          }
        }
        out.add(pkg);
        return out;
      }

      /** The package's sealed link; first checks that its job.sh can be written at all. */
      private String packageUrl(ObjectNode job, String token, JobPackage.Endpoint at) {
        try {
          JobScript.render(JobPackage.jobYaml(job, token, at), job.get("job2sh"));
        } catch (RuntimeException e) {
          throw new CannotBoot(e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage());
        }
        long id = Long.parseLong(text(job, "id"));
        return "http://" + at.host() + ":" + at.port() + "/scheduler/v1/packages/"
            + new PackageLink(id, token, at, false).seal(boot.links()) + "/job.cgz";
      }

      private String initrdPrefix(JobPackage.Endpoint at) {
        String p = boot.prefixes().initrd();
        if (p.isEmpty()) {
          return "http://" + at.host() + ":" + at.port() + "/srv/initrd";
        }
        return p.endsWith("/") ? p.substring(0, p.length() - 1) : p;
      }
    };
  }

  private static String text(ObjectNode job, String field) {
    JsonNode v = job.get(field);
    return v == null || v.isNull() || !v.isValueNode() ? "" : v.asText().trim();
  }
}
