package org.compassci.sched.boot;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.compassci.sched.model.Json;

/** The answers of {@code /boot.<type>/mac/<mac>}, each exactly in the form its boot loader reads. */
public final class BootScripts {

  private BootScripts() {}

  /** The answer for a job, as text (iPXE, grub) or JSON (native, libvirt). */
  public static String render(BootType type, BootPlan plan) {
    return switch (type) {
      case IPXE -> ipxe(plan);
      case GRUB -> grub(plan);
      case NATIVE -> nativeJson(plan);
      case LIBVIRT -> libvirt(plan);
    };
  }

  static String ipxe(BootPlan p) {
    StringBuilder s = new StringBuilder(1024).append("#!ipxe\n\n");
    StringBuilder names = new StringBuilder();
    for (String u : p.initrds()) {
      s.append("initrd ").append(u).append('\n');
      names.append(" initrd=").append(basename(u));
    }
    s.append("kernel ").append(p.kernel());
    p.kernelParams().forEach(k -> s.append(' ').append(k));
    s.append(names).append('\n');
    s.append("echo ipxe will boot job id=").append(p.id()).append(", ip=${ip}, mac=${mac}\n");
    s.append("echo result_root=").append(p.resultRoot()).append("\n\nboot\n");
    return s.toString();
  }

  static String grub(BootPlan p) {
    StringBuilder s = new StringBuilder(1024).append("#!grub\n\n");
    s.append("linux ").append(grubPath(p.kernel()));
    p.kernelParams().forEach(k -> s.append(' ').append(k));
    s.append("\ninitrd");
    p.initrds().forEach(u -> s.append(' ').append(grubPath(u)));
    s.append("\nboot\n");
    return s.toString();
  }

  static String nativeJson(BootPlan p) {
    ArrayNode initrds = Json.MAPPER.createArrayNode();
    p.initrds().forEach(initrds::add);
    return Json.write(Json.object().put("job_id", Long.toString(p.id())).put("initrds", Json.write(initrds)));
  }

  static String libvirt(BootPlan p) {
    ObjectNode o = Json.object().put("job_id", Long.toString(p.id())).put("kernel_uri", p.kernel());
    ArrayNode initrds = o.putArray("initrds_uri");
    p.initrds().forEach(initrds::add);
    String port = Integer.toString(p.scheduler().port());
    o.put("kernel_params", String.join(" ", p.kernelParams()))
        .put("result_root", p.resultRoot())
        .put("LKP_SERVER", p.scheduler().host())
        .put("RESULT_WEBDAV_PORT", port)
        .put("SRV_HTTP_CCI_HOST", p.scheduler().host())
        .put("SRV_HTTP_CCI_PORT", port);
    return Json.write(o);
  }

  /**
   * No job now (or an unknown box): answered with 404 so that iPXE's {@code chain} fails and its
   * loop sleeps and asks again; the script chains back here for firmware that runs it anyway.
   */
  public static String noJob(BootType type, JobPackage.Endpoint at) {
    return switch (type) {
      case NATIVE -> "{\"job_id\":\"0\"}";
      case LIBVIRT -> "{\"job_id\":\"\"}";
      case GRUB -> "#!grub\n\necho No job now\n";
      case IPXE -> "#!ipxe\n"
          + "        echo ...\n"
          + "        echo No job now\n"
          + "        echo ...\n"
          + "        chain http://" + at.host() + ":" + at.port()
          + "/boot.ipxe/mac/${mac:hexhyp}?arch=${buildarch}&hostname=${hostname}&ip=${net0/ip}"
          + "&sched_host=" + at.host() + "&sched_port=" + at.port() + "\n";
    };
  }

  /** The last part of a URL's path, which iPXE names the image by. */
  static String basename(String url) {
    String path = url;
    int q = path.indexOf('?');
    if (q >= 0) {
      path = path.substring(0, q);
    }
    return path.substring(path.lastIndexOf('/') + 1);
  }

  /** {@code http://h:p/path} as grub writes it: {@code (http,h:p)/path}. */
  static String grubPath(String url) {
    int scheme = url.indexOf("://");
    int slash = url.indexOf('/', scheme + 3);
    String host = slash < 0 ? url.substring(scheme + 3) : url.substring(scheme + 3, slash);
    return "(" + url.substring(0, scheme) + "," + host + ")" + (slash < 0 ? "/" : url.substring(slash));
  }
}
