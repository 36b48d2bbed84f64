package org.compassci.sched.persistence;

/**
 * A testbox an operator registered by hand ({@code POST hosts/{hostname}}): its name, what it
 * registered (a JSON object: arch, tbox_type, tbox_group, tags, memory, mac_addr) and when.
 */
public record RegisteredHost(String name, String info, long updatedMillis) {}
