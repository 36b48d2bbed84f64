package org.compassci.sched.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.compassci.sched.model.InvalidJobException;
import org.junit.jupiter.api.Test;

class MacTest {

  @Test
  void everySpellingOfOneMacIsTheSame() {
    for (String s : new String[] {"52:54:00:12:34:5a", "52-54-00-12-34-5A", "52:54:00:12:34:5A",
        "5254.0012.345A", "52540012345a", " 52-54-00-12-34-5a "}) {
      assertEquals("52:54:00:12:34:5a", Mac.normalize(s), s);
    }
    assertEquals("52-54-00-12-34-5a", Mac.hexhyp("52:54:00:12:34:5a"));
  }

  @Test
  void anythingElseIsRefusedWithAReason() {
    for (String s : new String[] {"", "52:54:00:12:34", "52:54:00:12:34:56:78", "52:54-00:12:34:56",
        "5254:0012:3456", "52::54:00:12:34:56", ":52:54:00:12:34:56", "52:54:00:12:34:5g",
        "52:54:00:12:34:56/../x", "52%3a54", "ＡＢ:54:00:12:34:56", "zzzzzzzzzzzz"}) {
      InvalidJobException e = assertThrows(InvalidJobException.class, () -> Mac.normalize(s), s);
      assertTrue(e.getMessage().startsWith("mac:"), e.getMessage());
      assertTrue(e.getMessage().lines().count() <= 1, e.getMessage());
    }
  }
}
