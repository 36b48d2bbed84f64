package org.compassci.sched.boot;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * What a box boots for one job: the kernel, the initrds (the job package last) and the kernel's
 * command line. The kernel and initrds are the job's own ({@code kernel_uri}, {@code initrds_uri})
 * or are built from its {@code os}, {@code os_arch} and {@code os_version} under the lab's OS and
 * initrd prefixes. A job that names no kernel cannot boot: {@link #of} says why.
 */
public record BootPlan(long id, String kernel, List<String> initrds, List<String> kernelParams,
    String resultRoot, JobPackage.Endpoint scheduler) {

  /** Where the lab serves OS trees and initrds; empty means the scheduler's own /srv/os and /srv/initrd. */
  public record Prefixes(String os, String initrd) {
    public static final Prefixes DEFAULT = new Prefixes("", "");

    String os(JobPackage.Endpoint at) {
      return os.isEmpty() ? "http://" + at.host() + ":" + at.port() + "/srv/os" : strip(os);
    }

    String initrd(JobPackage.Endpoint at) {
      return initrd.isEmpty() ? "http://" + at.host() + ":" + at.port() + "/srv/initrd" : strip(initrd);
    }

    private static String strip(String p) {
      return p.endsWith("/") ? p.substring(0, p.length() - 1) : p;
    }
  }

  /** A job's fields cannot make a boot answer: the reason goes on the job, which ends abort_invalid. */
  public static final class CannotBoot extends RuntimeException {
    public CannotBoot(String message) {
      super(message, null, false, false);
    }
  }

  /**
   * URLs written into scripts: no space, no control character, no quote, and no {@code $} (iPXE
   * would expand {@code ${...}} in them).
   */
  private static final Pattern URL = Pattern.compile("https?://[A-Za-z0-9._~:/?#\\[\\]@!&()*+,;=%-]+");
  /** One kernel parameter: printable, no space, no quote that iPXE or grub would read. */
  private static final Pattern PARAM = Pattern.compile("[!#-&(-~]+");
  private static final Pattern CONTROL = Pattern.compile("[;`{}]|&&|\\|\\||^#");

  /** The plan for {@code job} (its stored document), whose package is served at {@code packageUrl}. */
  public static BootPlan of(ObjectNode job, String packageUrl, JobPackage.Endpoint at, Prefixes prefixes) {
    long id = Long.parseLong(text(job, "id"));
    String os = text(job, "os");
    String osArch = !text(job, "os_arch").isEmpty() ? text(job, "os_arch") : text(job, "arch");
    String osVersion = text(job, "os_version");
    boolean hasOs = !os.isEmpty() && !osArch.isEmpty() && !osVersion.isEmpty();
    String osDir = os + "/" + osArch + "/" + osVersion;
    String mount = text(job, "os_mount").isEmpty() ? "initramfs" : text(job, "os_mount");

    String kernel = text(job, "kernel_uri");
    if (kernel.isEmpty()) {
      if (!hasOs) {
        throw new CannotBoot("the job names no kernel: give kernel_uri, or os, os_arch and os_version");
      }
      String version = text(job, "kernel_version");
      kernel = prefixes.os(at) + "/" + osDir + "/boot/vmlinuz" + (version.isEmpty() ? "" : "-" + version);
    }
    checkUrl("kernel_uri", kernel);

    List<String> initrds = new ArrayList<>();
    JsonNode given = job.get("initrds_uri");
    if (given != null && !given.isNull()) {
      if (given.isTextual()) {
        initrds.add(given.asText());
      } else if (given.isArray()) {
        for (JsonNode u : given) {
          if (!u.isTextual()) {
            throw new CannotBoot("initrds_uri: must be a list of URLs");
          }
          initrds.add(u.asText());
        }
      } else {
        throw new CannotBoot("initrds_uri: must be a list of URLs");
      }
    } else if (hasOs) {
      if (mount.equals("initramfs")) {
        initrds.add(prefixes.initrd(at) + "/osimage/" + osDir + "/current");
      } else {
        initrds.add(prefixes.os(at) + "/" + osDir + "/initrd.lkp");
      }
      String user = text(job, "lkp_initrd_user").isEmpty() ? "latest" : text(job, "lkp_initrd_user");
      initrds.add(prefixes.initrd(at) + "/lkp/" + user + "/lkp-" + osArch + ".cgz");
    }
    for (String u : initrds) {
      checkUrl("initrds_uri", u);
    }
    initrds.add(packageUrl);

    List<String> params = new ArrayList<>(List.of("user=lkp", "job=/lkp/scheduled/job.yaml", "ip=dhcp"));
    if (mount.equals("local")) {
      params.addAll(List.of("local", "rw"));
    } else {
      params.addAll(List.of("rootovl", "ro"));
    }
    JsonNode bootParams = job.get("boot_params");
    if (bootParams != null && bootParams.isObject()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = bootParams.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        String k = e.getKey().replaceFirst("^bp\\d*_", "");
        params.add(e.getValue().isNull() ? k : k + "=" + Shell.scalar(e.getValue()));
      }
    }
    for (String p : text(job, "kernel_custom_params").trim().split("\\s+")) {
      if (!p.isEmpty()) {
        params.add(p);
      }
    }
    params.addAll(console(osArch));
    for (String p : params) {
      if (!PARAM.matcher(p).matches()) {
        throw new CannotBoot("kernel parameter '" + p.replaceAll("\\p{Cntrl}", "?")
            + "' holds a space, a quote or a control character");
      }
      if (CONTROL.matcher(p).find()) {
        // iPXE chains commands with || and &&, takes a word that starts with # for a comment
        // and expands ${...}; grub reads ; and braces too: such a word would be a command, not
        // a parameter (a chain to another host), or make the script fail on every box. A $ alone
        // (memmap=64M$0x1000) is a parameter
        throw new CannotBoot("kernel parameter '" + p + "' holds what iPXE or grub read as a command"
            + " (;, &&, ||, `, { or }, or a leading #)");
      }
    }
    String resultRoot = text(job, "result_root");
    if (resultRoot.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
      throw new CannotBoot("result_root holds a control character");
    }
    return new BootPlan(id, kernel, List.copyOf(initrds), List.copyOf(params), resultRoot, at);
  }

  /** The serial console of each arch, after tty0. */
  static List<String> console(String arch) {
    return switch (arch) {
      case "x86_64", "i386", "i686" -> List.of("console=tty0", "console=ttyS0,115200");
      case "aarch64", "arm64" -> List.of("console=tty0", "console=ttyAMA0,115200");
      case "riscv64", "loongarch64" -> List.of("console=tty0", "console=ttyS0,115200");
      default -> List.of();
    };
  }

  /** Throws {@link CannotBoot} naming {@code field} when {@code url} is not an http URL a boot script can hold. */
  public static void checkUrl(String field, String url) {
    String shown = url.length() > 80 ? url.substring(0, 80) + "..." : url;
    if (!URL.matcher(url).matches()) {
      throw new CannotBoot(field + ": '" + shown.replaceAll("\\p{Cntrl}", "?")
          + "' is not an http URL a boot script can hold (no spaces, quotes or $)");
    }
    // a provider host keeps what it downloads under the URL's path as it is: a '..' there would
    // write its file anywhere on the host
    String path = url.replaceFirst("^https?://[^/]*", "").split("[?#]", 2)[0];
    if (java.util.Arrays.asList(path.split("/")).contains("..")) {
      throw new CannotBoot(field + ": '" + shown + "' has a '..' in its path");
    }
  }

  private static String text(ObjectNode job, String field) {
    JsonNode v = job.get(field);
    return v == null || v.isNull() || !v.isValueNode() ? "" : v.asText().trim();
  }
}
