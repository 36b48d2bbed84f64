package org.compassci.sched.boot;

import java.util.Locale;
import org.compassci.sched.model.InvalidJobException;

/** How a box boots: the four answers of {@code /boot.<type>/mac/<mac>}. */
public enum BootType {
  IPXE, GRUB, NATIVE, LIBVIRT;

  private final String wire = name().toLowerCase(Locale.ROOT);

  public String wireName() {
    return wire;
  }

  /** Throws {@link InvalidJobException} naming the four types. */
  public static BootType of(String name) {
    for (BootType t : values()) {
      if (t.wire.equals(name)) {
        return t;
      }
    }
    String shown = name == null ? "" : name.length() > 30 ? name.substring(0, 30) + "..." : name;
    throw new InvalidJobException("boot_type: '" + shown.replaceAll("\\p{Cntrl}", "?")
        + "' is not ipxe, grub, native or libvirt");
  }

  /** Scripts are text; native and libvirt answer JSON. */
  public boolean json() {
    return this == NATIVE || this == LIBVIRT;
  }
}
