package org.compassci.sched.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.cpio.CpioArchiveEntry;
import org.apache.commons.compress.archivers.cpio.CpioArchiveInputStream;

/** Reads a {@code job.cgz} as lkp-tests on a box does: gzip, then cpio, then job.yaml. */
final class JobPackages {

  private static final YAMLMapper YAML = new YAMLMapper();

  private JobPackages() {}

  /** The job inside the package, from {@code lkp/scheduled/job.yaml}. */
  static ObjectNode jobYaml(byte[] cgz) {
    try (CpioArchiveInputStream cpio = new CpioArchiveInputStream(
        new GZIPInputStream(new ByteArrayInputStream(cgz)))) {
      for (CpioArchiveEntry e = cpio.getNextCPIOEntry(); e != null; e = cpio.getNextCPIOEntry()) {
        if (e.getName().equals("lkp/scheduled/job.yaml")) {
          JsonNode job = YAML.readTree(cpio.readAllBytes());
          if (job instanceof ObjectNode o) {
            return o;
          }
          throw new IllegalStateException("job.yaml is not a mapping");
        }
      }
      throw new IllegalStateException("no lkp/scheduled/job.yaml in the package");
    } catch (IOException e) {
      throw new UncheckedIOException("job.cgz cannot be read", e);
    }
  }
}
