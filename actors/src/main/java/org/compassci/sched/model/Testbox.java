package org.compassci.sched.model;

import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A testbox asking for work: the k=v tags it offers (several values of one key allowed, e.g.
 * tbox_type=vm and tbox_type=dc) and its free memory; {@link #UNKNOWN_MEMORY} when not reported.
 */
public record Testbox(String hostname, Set<String> tags, long freeMemMb) {

  /** Most tags of its own one box may offer, beside hostname, arch, tbox_type and tbox_group. */
  public static final int MAX_TAGS = 64;

  /** The longest tag a box may offer, {@code k=v} as written. */
  public static final int MAX_TAG_LENGTH = 255;


  public static final long UNKNOWN_MEMORY = Long.MAX_VALUE;

  private static final Set<String> TYPES = Set.of("hw", "vm", "dc");

  /** Keys a box offers from its parameters alone: in its own tags they would let it pass for another box. */
  private static final Set<String> OWN_KEYS = Set.of("hostname", "arch", "tbox_type", "tbox_group");

  /**
   * One tag of a box's own ({@code k=v}, trimmed), refused when it names a key that its
   * parameters give: {@code hostname=X} among box Y's tags made Y take the jobs aimed at X alone.
   */
  public static String ownTag(String tag) {
    String t = JobIntake.checkTag(tag.trim());
    if (t.length() > MAX_TAG_LENGTH) {
      throw new InvalidJobException("tags: a tag longer than " + MAX_TAG_LENGTH + " characters");
    }
    String key = t.substring(0, t.indexOf('='));
    if (OWN_KEYS.contains(key)) {
      throw new InvalidJobException("tags: '" + t + "': " + key + " is the box's own field, not a tag");
    }
    return t;
  }

  /**
   * A box's own tags from a comma list (a dispatch query's, a registration's, a lab file's), each
   * checked by {@link #ownTag}, without repeats, in order. A box's tags are kept in memory for
   * every box that asked (the host registry, the matcher's fit lists): anyone may ask, so what
   * one box may offer is bounded. A tag given twice counts once.
   */
  public static java.util.List<String> ownTags(String commaList) {
    java.util.Set<String> out = new java.util.LinkedHashSet<>();
    for (String t : commaList.split(",")) {
      if (!t.isBlank() && out.add(ownTag(t)) && out.size() > MAX_TAGS) {
        throw new InvalidJobException("tags: at most " + MAX_TAGS + " for one box");
      }
    }
    return java.util.List.copyOf(out);
  }

  public Testbox {
    tags = Set.copyOf(tags);
  }

  /**
   * The box a dispatch query describes: its hostname, arch, types (hw when not given), group
   * (the hostname without its --suffix when not given) and its own k=v tags; free memory in MB,
   * unknown when not given. Throws {@link InvalidJobException} naming the bad parameter.
   */
  private static void plainName(String parameter, String value) {
    if (!JobIntake.isPlainName(value)) {
      throw new InvalidJobException(parameter + ": '" + (value.length() > 64 ? value.substring(0, 64) + "..." : value)
          + "' is not a plain name (letters, digits, '.', '_', '+', '-'; at most 255)");
    }
  }

  public static Testbox fromQuery(Map<String, String> q) {
    String hostname = q.getOrDefault("hostname", "").trim();
    if (hostname.isEmpty()) {
      throw new InvalidJobException("hostname: required");
    }
    // it is stored, listed on the dashboard and named in result paths and logs
    plainName("hostname", hostname);
    Set<String> tags = new HashSet<>();
    tags.add("hostname=" + hostname);
    String arch = q.getOrDefault("arch", "").trim();
    if (!arch.isEmpty()) {
      plainName("arch", arch);
      tags.add("arch=" + arch);
    }
    String[] types = q.getOrDefault("tbox_type", "hw").split(",", -1);
    for (String t : types) {
      String type = t.trim().toLowerCase(Locale.ROOT);
      if (!TYPES.contains(type)) {
        throw new InvalidJobException("tbox_type: '" + t + "' is not hw, vm or dc");
      }
      // one host that runs both VMs and containers offers both; a physical box is only itself
      if (type.equals("hw") && types.length > 1) {
        throw new InvalidJobException("tbox_type: hw stands alone (hw, vm, dc or vm,dc)");
      }
      tags.add("tbox_type=" + type);
    }
    String group = q.getOrDefault("tbox_group", "").trim();
    if (!group.isEmpty()) {
      plainName("tbox_group", group);
    }
    tags.add("tbox_group=" + (group.isEmpty() ? JobIntake.cutSuffix(hostname) : group));
    tags.addAll(ownTags(q.getOrDefault("tags", "")));
    long freeMem = UNKNOWN_MEMORY;
    String fm = q.get("freemem");
    if (fm != null) {
      try {
        freeMem = fm.isBlank() ? 0 : Long.parseLong(fm.trim());
      } catch (NumberFormatException e) {
        throw new InvalidJobException("freemem: '" + fm + "' is not a whole number");
      }
      if (freeMem < 0) {
        throw new InvalidJobException("freemem: must not be negative");
      }
    }
    return new Testbox(hostname, tags, freeMem);
  }
}
