package org.compassci.sched.model;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Memory amounts as jobs write them: 512M, 8G, 1T, 1.5g, 8GB, 8GiB, or a bare number of GB. */
public final class MemorySize {

  private static final Pattern SIZE =
      Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([kmgt]?)(?:i?b)?", Pattern.CASE_INSENSITIVE);
  /** vm-2p8g, dc-8g, vm-4p16g--host: the shape's memory is the number before the last g. */
  private static final Pattern SHAPE =
      Pattern.compile("(?:vm|dc)-(?:\\d+p)?(\\d+)([gm])(?:$|[^a-z0-9].*)", Pattern.CASE_INSENSITIVE);

  private MemorySize() {}

  /** Megabytes in {@code text}; throws {@link InvalidJobException} naming {@code field}. */
  public static long parseMb(String field, String text) {
    Matcher m = SIZE.matcher(text.trim());
    if (!m.matches()) {
      throw new InvalidJobException(field + ": '" + IntakeLimits.abbreviated(text) + "' is not a memory size (like 512M, 8G, 1T, or 8 for GB)");
    }
    String number = m.group(1);
    int point = number.indexOf('.');
    String whole = (point < 0 ? number : number.substring(0, point)).replaceFirst("^0+(?=.)", "");
    if (whole.length() > 30) {
      // checked before BigDecimal reads it, which takes seconds for a million digits
      throw new InvalidJobException(field + ": '" + IntakeLimits.abbreviated(text) + "' is more memory than any testbox has");
    }
    if (point >= 0 && number.length() - point - 1 > 30) {
      throw new InvalidJobException(field + ": '" + IntakeLimits.abbreviated(text) + "' has more than 30 decimals");
    }
    BigDecimal amount = new BigDecimal(number);
    String unit = m.group(2).toLowerCase(Locale.ROOT);
    BigDecimal mb = switch (unit) {
      case "k" -> amount.divide(BigDecimal.valueOf(1024));
      case "m" -> amount;
      case "t" -> amount.multiply(BigDecimal.valueOf(1024L * 1024));
      default -> amount.multiply(BigDecimal.valueOf(1024)); // g, or a bare number of GB
    };
    try {
      return mb.setScale(0, java.math.RoundingMode.CEILING).longValueExact();
    } catch (ArithmeticException e) {
      // more megabytes than a long holds: no machine has that much
      throw new InvalidJobException(field + ": '" + IntakeLimits.abbreviated(text) + "' is more memory than any testbox has");
    }
  }

  /**
   * The memory a vm-/dc- shape promises, or 0 when {@code testbox} is not such a shape; throws
   * {@link InvalidJobException} for a shape of more megabytes than a long holds, which would
   * otherwise wrap to a negative need that every box fits.
   */
  public static long shapeMb(String testbox) {
    if (testbox == null) {
      return 0;
    }
    Matcher m = SHAPE.matcher(testbox);
    if (!m.matches()) {
      return 0;
    }
    try {
      long n = Long.parseLong(m.group(1));
      return m.group(2).equalsIgnoreCase("g") ? Math.multiplyExact(n, 1024L) : n;
    } catch (ArithmeticException | NumberFormatException e) {
      throw new InvalidJobException("testbox: '" + testbox + "' is more memory than any testbox has");
    }
  }
}
