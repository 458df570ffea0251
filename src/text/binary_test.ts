import { assertEquals } from "../test_assert.ts";
import { BINARY_SNIFF_BYTES, decodeText, hasNulPrefix } from "./binary.ts";

const enc = new TextEncoder();

function filled(n: number, byte = 0x61): Uint8Array {
  return new Uint8Array(n).fill(byte);
}

Deno.test("decodeText: a NUL in the first 8000 bytes makes a file binary, later NULs do not", () => {
  assertEquals(BINARY_SNIFF_BYTES, 8000);
  const at7999 = filled(9000);
  at7999[7999] = 0;
  assertEquals(hasNulPrefix(at7999), true);
  assertEquals(decodeText(at7999), null);
  const at8000 = filled(9000);
  at8000[8000] = 0;
  assertEquals(hasNulPrefix(at8000), false);
  assertEquals(decodeText(at8000), "a".repeat(8000) + "\0" + "a".repeat(999)); // valid UTF-8: text
  assertEquals(decodeText(new Uint8Array([0])), null);
  assertEquals(decodeText(new Uint8Array([0x68, 0x00, 0x69])), null);
});

Deno.test("decodeText: invalid UTF-8 anywhere makes a file binary", () => {
  const late = filled(200_000);
  late[199_990] = 0xff; // never valid in UTF-8, far past the NUL sniff
  assertEquals(decodeText(late), null);
  const bad: number[][] = [
    [0xc0, 0xaf], // overlong "/"
    [0xed, 0xa0, 0x80], // UTF-8-encoded surrogate U+D800
    [0xf4, 0x90, 0x80, 0x80], // U+110000, past the last code point
    [0x61, 0xe2, 0x82], // truncated 3-byte sequence at the end
    [0x80], // lone continuation byte
  ];
  for (const b of bad) assertEquals(decodeText(new Uint8Array(b)), null, b.join(","));
  assertEquals(decodeText(enc.encode("naïve 東京 👍")), "naïve 東京 👍");
});

Deno.test("decodeText: a leading BOM is dropped, other U+FEFF kept; empty file is empty text", () => {
  assertEquals(decodeText(enc.encode("\uFEFFhello")), "hello");
  assertEquals(decodeText(enc.encode("\uFEFF\uFEFFx")), "\uFEFFx");
  assertEquals(decodeText(enc.encode("a\uFEFFb")), "a\uFEFFb");
  assertEquals(decodeText(new Uint8Array(0)), "");
  // Latin-1 "café" (E9 alone) is not UTF-8: binary.
  assertEquals(decodeText(new Uint8Array([0x63, 0x61, 0x66, 0xe9])), null);
});
