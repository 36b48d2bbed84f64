package org.compassci.sched.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Memory sizes as jobs write them, and what no testbox could have. */
class MemorySizeTest {

  @Test
  void sizesAsJobsWriteThem() {
    assertEquals(512, MemorySize.parseMb("memory", "512M"));
    assertEquals(8192, MemorySize.parseMb("memory", "8G"));
    assertEquals(8192, MemorySize.parseMb("memory", "8"));
    assertEquals(1536, MemorySize.parseMb("memory", "1.5g"));
    assertEquals(1, MemorySize.parseMb("memory", "1.0000000000000000000000000001k"));
    assertEquals(1024L * 1024, MemorySize.parseMb("memory", "1TiB"));
    // twenty digits of kilobytes fit a long of megabytes
    assertEquals(97_656_250_000_000_000L, MemorySize.parseMb("memory", "1" + "0".repeat(20) + "k"));
    // leading zeros are no size
    assertEquals(8192, MemorySize.parseMb("memory", "0".repeat(100) + "8G"));
  }

  /**
   * A million digits is refused at once, and the refusal quotes the value shortened: it was read
   * whole into a BigDecimal first (seconds of CPU), and quoted whole in the answer.
   */
  @Test
  void aNumberNoTestboxCouldHaveIsRefusedWithoutQuotingItWhole() {
    InvalidJobException huge = assertThrows(InvalidJobException.class,
        () -> MemorySize.parseMb("memory", "9".repeat(1_000_000) + "G"));
    assertTrue(huge.getMessage().contains("more memory than any testbox has"), huge.getMessage());
    assertTrue(huge.getMessage().length() < 200, huge.getMessage().length() + " characters");
    InvalidJobException justOver = assertThrows(InvalidJobException.class,
        () -> MemorySize.parseMb("memory", "9".repeat(31) + "k"));
    assertTrue(justOver.getMessage().contains("more memory than any testbox has"), justOver.getMessage());
    InvalidJobException decimals = assertThrows(InvalidJobException.class,
        () -> MemorySize.parseMb("memory", "1." + "5".repeat(1_000_000)));
    assertTrue(decimals.getMessage().contains("more than 30 decimals"), decimals.getMessage());
    assertTrue(decimals.getMessage().length() < 200, decimals.getMessage().length() + " characters");
    InvalidJobException notASize = assertThrows(InvalidJobException.class,
        () -> MemorySize.parseMb("memory", "x".repeat(100_000)));
    assertTrue(notASize.getMessage().length() < 200, notASize.getMessage().length() + " characters");
  }
}
