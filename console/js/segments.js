// How many SMS segments a body costs: a port of tether/domain/segments.py (the same
// GSM-7 / UCS-2 rules; tests/browser/test_segments_port.py holds the two together).

const GSM7_BASIC = new Set(
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà",
);
// the extension table: escape + character, two septets each
const GSM7_EXTENDED = new Set("\f^{}\\[~]|€");

const GSM7_SINGLE = 160;
const GSM7_PART = 153;
const UCS2_SINGLE = 70;
const UCS2_PART = 67;

/** {encoding, segments, units} of `body`, as count_segments in Python answers. */
export function countSegments(body) {
  // iterate code points, as Python iterates a str
  const chars = Array.from(body);
  if (chars.every((c) => GSM7_BASIC.has(c) || GSM7_EXTENDED.has(c))) {
    const widths = chars.map((c) => (GSM7_EXTENDED.has(c) ? 2 : 1));
    return result("GSM-7", widths, GSM7_SINGLE, GSM7_PART);
  }
  // beyond the Basic Multilingual Plane: a surrogate pair, two UTF-16 code units
  const widths = chars.map((c) => (c.codePointAt(0) > 0xffff ? 2 : 1));
  return result("UCS-2", widths, UCS2_SINGLE, UCS2_PART);
}

function result(encoding, widths, single, perPart) {
  const units = widths.reduce((a, b) => a + b, 0);
  return { encoding, segments: segments(widths, units, single, perPart), units };
}

function segments(widths, total, single, perPart) {
  if (total === 0) return 0;
  if (total <= single) return 1;
  // a pair that does not fit whole starts the next part: never split
  let parts = 1;
  let filled = 0;
  for (const width of widths) {
    if (filled + width > perPart) {
      parts += 1;
      filled = 0;
    }
    filled += width;
  }
  return parts;
}
